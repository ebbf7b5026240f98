//! Proposals ("listen before you change") against every backend: the life of
//! a proposal guarded in the store, reactions changed and logged, the
//! decision notifying everyone who took part, an announcement sent once to
//! its segment, and grandfathered prices moved once.

use crate::common::{self, Raw};

use marquee_domain::changes::{
    ChangeKind, Decision, Grandfathering, PriceChange, Reaction, Segment, Status, WouldStay, DAY_MS,
};
use marquee_domain::ideas::PostingLimit;
use marquee_domain::listening::{NewPost, Sentiment};
use marquee_domain::plans::Price;
use marquee_domain::textmatch::TextMatch;
use marquee_domain::{Plan, Role};
use marquee_store::listening::{Bucket, ListeningStore};
use marquee_store::proposals::{NewComment, ProposalDraft, ProposalStore, ReactionInput};
use marquee_store::{CatalogStore, StoreError};

const NOW: i64 = 1000 * DAY_MS;

async fn check_a_proposal_from_draft_to_announcement<S>(s: &S)
where
    S: CatalogStore + ProposalStore + Raw,
{
    let admin = common::account(s, "admin@x.org", Role::Admin).await;
    // Standard customers: two long-standing (600 days), one new (10 days); a basic one.
    let old1 = common::account_at(
        s,
        "old1@x.org",
        Role::Viewer,
        Plan::Standard,
        NOW - 600 * DAY_MS,
    )
    .await;
    let old2 = common::account_at(
        s,
        "old2@x.org",
        Role::Viewer,
        Plan::Standard,
        NOW - 600 * DAY_MS,
    )
    .await;
    let new = common::account_at(
        s,
        "new@x.org",
        Role::Viewer,
        Plan::Standard,
        NOW - 10 * DAY_MS,
    )
    .await;
    let basic = common::account_at(
        s,
        "basic@x.org",
        Role::Viewer,
        Plan::Basic,
        NOW - 600 * DAY_MS,
    )
    .await;
    s.exec("UPDATE accounts SET price_cents = 1549 WHERE plan = 'standard'")
        .await;
    s.exec(&format!(
        "UPDATE accounts SET price_cents = 999 WHERE id = {old2}"
    ))
    .await;

    let segment = Segment {
        plans: vec![Plan::Standard],
        ..Segment::default()
    };
    let price = PriceChange {
        plan: Plan::Standard,
        price: Price::new(1599, "USD").unwrap(),
        grandfathering: Grandfathering::AfterNotice { notice_days: 30 },
    };
    let draft = ProposalDraft {
        kind: ChangeKind::Price,
        title: "Standard goes to $15.99".into(),
        body: "Why.".into(),
        segment: segment.clone(),
        price: Some(price.clone()),
        keywords: vec!["price".into(), "standard".into()],
        planned_at: NOW + 10 * DAY_MS,
    };
    let p = s.create_proposal(&draft, admin, NOW).await.unwrap();
    assert_eq!((p.status, &p.draft), (Status::Draft, &draft));
    let groups = s.account_groups(NOW).await.unwrap();
    let standard: i64 = groups
        .iter()
        .filter(|g| g.plan == Plan::Standard)
        .map(|g| g.accounts)
        .sum();
    assert_eq!(standard, 3);
    assert!(groups
        .iter()
        .any(|g| g.plan == Plan::Standard && g.tenure_days == 600 && g.price_cents == 999));

    // Nobody reacts to a draft.
    let r = |reaction, would_stay| ReactionInput {
        reaction,
        would_stay,
        plan: Plan::Standard,
        tenure_band: "1–3 years",
    };
    assert!(matches!(
        s.react(p.id, old1, &r(Reaction::Oppose, None), NOW).await,
        Err(StoreError::Conflict { field: "status" })
    ));
    let p = s.publish_proposal(p.id, NOW + 1).await.unwrap();
    assert_eq!(
        (p.status, p.published_at),
        (Status::Consulting, Some(NOW + 1))
    );
    assert!(matches!(
        s.publish_proposal(p.id, NOW + 2).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.update_proposal(p.id, &draft, NOW + 2).await,
        Err(StoreError::Conflict { .. })
    ));

    // Reactions: old1 opposes then is unsure; old2 opposes; new supports.
    s.react(
        p.id,
        old1,
        &r(Reaction::Oppose, Some(WouldStay::No)),
        NOW + DAY_MS,
    )
    .await
    .unwrap();
    s.react(
        p.id,
        old1,
        &r(Reaction::Unsure, Some(WouldStay::Unsure)),
        NOW + DAY_MS + 5,
    )
    .await
    .unwrap();
    s.react(
        p.id,
        old1,
        &r(Reaction::Unsure, Some(WouldStay::Yes)),
        NOW + DAY_MS + 6,
    )
    .await
    .unwrap();
    s.react(
        p.id,
        old2,
        &r(Reaction::Oppose, Some(WouldStay::No)),
        NOW + DAY_MS + 7,
    )
    .await
    .unwrap();
    let young = ReactionInput {
        tenure_band: "under 6 months",
        ..r(Reaction::Support, Some(WouldStay::Yes))
    };
    s.react(p.id, new, &young, NOW + 2 * DAY_MS).await.unwrap();
    let mine = s.reaction_of(p.id, old1).await.unwrap().unwrap();
    assert_eq!(
        (mine.reaction, mine.would_stay),
        (Reaction::Unsure, Some(WouldStay::Yes))
    );
    assert_eq!(
        s.count(&format!(
            "SELECT COUNT(*) FROM proposal_reactions WHERE proposal_id = {}",
            p.id
        ))
        .await,
        3
    );
    // The same answer again is not a change.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM proposal_reaction_log").await,
        4
    );

    // Comments, rate-limited per author.
    let limit = Some(PostingLimit {
        max: 1,
        window_ms: DAY_MS,
    });
    let c = NewComment {
        proposal_id: p.id,
        author_id: old2,
        body: "<b>Too expensive</b>",
        sentiment: Sentiment::Negative,
        score: -0.8,
        limit,
    };
    let saved = s.add_proposal_comment(&c, NOW + DAY_MS).await.unwrap();
    assert_eq!(
        (
            saved.body.as_str(),
            saved.reaction,
            saved.author_name.as_str()
        ),
        ("<b>Too expensive</b>", Some(Reaction::Oppose), "old2")
    );
    assert!(matches!(
        s.add_proposal_comment(&c, NOW + DAY_MS + 1).await,
        Err(StoreError::RateLimited { .. })
    ));

    let f = s.consultation(p.id, NOW, DAY_MS).await.unwrap();
    let net = |reaction| -> i64 {
        f.steps
            .iter()
            .map(|st| {
                let plus = if st.reaction == reaction { st.count } else { 0 };
                let minus = if st.previous == Some(reaction) {
                    st.count
                } else {
                    0
                };
                plus - minus
            })
            .sum()
    };
    assert_eq!(
        (
            net(Reaction::Support),
            net(Reaction::Unsure),
            net(Reaction::Oppose)
        ),
        (1, 1, 1)
    );
    assert!(
        f.steps.iter().all(|st| st.bucket == 1 || st.bucket == 2),
        "{:?}",
        f.steps
    );
    let stay_no: i64 = f
        .stay
        .iter()
        .filter(|x| x.would_stay == Some(WouldStay::No))
        .map(|x| x.count)
        .sum();
    assert_eq!(stay_no, 1);
    assert_eq!(f.comment_sentiment, [1, 0, 0]);

    // Shipping records the decision, notifies the three participants, and
    // schedules the plan's new price for new customers from the planned date.
    let p = s
        .decide_proposal(
            p.id,
            Decision::Ship,
            "We go ahead, with 30 days' notice.",
            &[],
            admin,
            NOW + 3 * DAY_MS,
        )
        .await
        .unwrap();
    assert_eq!(
        (p.status, p.decision),
        (Status::Shipped, Some(Decision::Ship))
    );
    let did = p.decision_id.unwrap();
    assert_eq!(
        s.count(&format!("SELECT notified FROM decisions WHERE id = {did}"))
            .await,
        3
    );
    assert_eq!(
        s.count(&format!("SELECT COUNT(*) FROM plan_prices WHERE plan = 'standard' AND amount_cents = 1599 AND effective_from = {}", NOW + 10 * DAY_MS)).await,
        1
    );
    assert!(matches!(
        s.decide_proposal(p.id, Decision::Withdraw, "", &[], admin, NOW)
            .await,
        Err(StoreError::Conflict { .. })
    ));

    // The announcement goes out once, to the segment only.
    let at = NOW + 4 * DAY_MS;
    s.schedule_announcement(
        p.id,
        "Standard is changing",
        "Details.",
        at,
        NOW + 3 * DAY_MS,
    )
    .await
    .unwrap();
    assert!(s.due_announcements(at - 1).await.unwrap().is_empty());
    assert_eq!(s.due_announcements(at).await.unwrap(), vec![p.id]);
    let bounds = segment.bounds(at);
    assert_eq!(
        s.send_announcement(p.id, &bounds, at - 1).await.unwrap(),
        None
    );
    assert_eq!(
        s.send_announcement(p.id, &bounds, at).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        s.send_announcement(p.id, &bounds, at + 1).await.unwrap(),
        None
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notifications WHERE kind = 'announcement'")
            .await,
        3
    );
    assert_eq!(s.count(&format!("SELECT COUNT(*) FROM notifications WHERE kind = 'announcement' AND account_id = {basic}")).await, 0);
    // Announcements are mailed by default.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notification_mail WHERE kind = 'announcement'")
            .await,
        3
    );
    assert!(matches!(
        s.schedule_announcement(p.id, "again", "x", at, at).await,
        Err(StoreError::Conflict { .. })
    ));

    // Existing customers move once; the new customer already pays 1549 too.
    assert_eq!(s.pending_price_moves().await.unwrap(), vec![p.id]);
    let moved = s
        .move_existing_prices(p.id, &segment.bounds(NOW + 40 * DAY_MS), NOW + 40 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(moved, Some(3));
    assert_eq!(
        s.count("SELECT COUNT(*) FROM accounts WHERE price_cents = 1599")
            .await,
        3
    );
    assert_eq!(
        s.count(&format!(
            "SELECT price_cents FROM accounts WHERE id = {basic}"
        ))
        .await,
        699
    );
    assert_eq!(
        s.move_existing_prices(p.id, &segment.bounds(NOW + 41 * DAY_MS), NOW + 41 * DAY_MS)
            .await
            .unwrap(),
        None
    );
    assert!(s.pending_price_moves().await.unwrap().is_empty());
}

both_backends!(
    check_a_proposal_from_draft_to_announcement,
    check_matching_posts_are_kept_from_the_fill_and_each_ingest,
    check_sign_up_dates_are_only_ever_moved_earlier,
    check_a_sentiment_correction_moves_the_post_its_proposals_and_the_training_log,
);

/// Staff correct a post (#20): the post, the figures kept for its proposal
/// and the corrections log move together; a model tier never overwrites a
/// staff label; training reads the latest correction of each post.
async fn check_a_sentiment_correction_moves_the_post_its_proposals_and_the_training_log<S>(s: &S)
where
    S: CatalogStore + ProposalStore + ListeningStore,
{
    use marquee_domain::listening::LabelSource;
    let admin = common::account(s, "admin@x.org", Role::Admin).await;
    let agent = common::account(s, "agent@x.org", Role::Agent).await;
    let draft = ProposalDraft {
        kind: ChangeKind::Other,
        title: "A higher price".into(),
        body: "Why.".into(),
        segment: Segment::default(),
        price: None,
        keywords: vec!["price".into()],
        planned_at: NOW + 10 * DAY_MS,
    };
    let p = s.create_proposal(&draft, admin, NOW).await.unwrap();
    let m = TextMatch {
        groups: vec![vec!["price".into()]],
    };
    s.track_proposal_posts(p.id, &m, NOW).await.unwrap();
    let post = |id: &str, text: &str, sentiment: Sentiment, score: f32| NewPost {
        source: "test".into(),
        external_id: id.into(),
        author: "@a@x".into(),
        text: text.into(),
        url: None,
        lang: None,
        created_at: NOW + 3_600_000,
        sentiment,
        score,
        top_tokens: vec![],
        topics: vec![],
        brands: vec![],
        proposals: vec![p.id],
    };
    let (_, ids) = s
        .insert_posts(
            &[
                post(
                    "a",
                    "the price is sick, love it",
                    Sentiment::Negative,
                    -0.25,
                ),
                post("b", "the price again", Sentiment::Neutral, 0.0),
            ],
            None,
            NOW,
        )
        .await
        .unwrap();
    let (a, b) = (ids[0].unwrap(), ids[1].unwrap());
    let day = |s2: Vec<Bucket>| {
        s2.iter()
            .map(|x| (x.total, x.negative, x.positive, x.score_sum))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        day(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(2, 1, 0, -0.25)]
    );

    let fixed = s
        .correct_sentiment(a, Sentiment::Positive, agent, NOW + DAY_MS)
        .await
        .unwrap();
    assert_eq!(
        (fixed.sentiment, fixed.score, fixed.labelled_by),
        (Sentiment::Positive, 1.0, LabelSource::Staff)
    );
    assert_eq!(
        day(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(2, 0, 1, 1.0)]
    );
    let negative = s
        .proposal_posts(p.id, 0, Some(Sentiment::Negative), 10)
        .await
        .unwrap();
    assert!(negative.is_empty(), "{negative:?}");
    let positive = s
        .proposal_posts(p.id, 0, Some(Sentiment::Positive), 10)
        .await
        .unwrap();
    assert_eq!(positive.len(), 1);
    assert_eq!(positive[0].labelled_by, LabelSource::Staff);

    // A model tier relabels the other post, but not the corrected one.
    let moved = s
        .relabel_posts(
            &[
                (a, Sentiment::Negative, -0.75),
                (b, Sentiment::Negative, -0.5),
            ],
            LabelSource::Encoder,
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(
        day(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(2, 1, 1, 0.5)]
    );
    let now_b = s.posts_by_id(&[a, b]).await.unwrap();
    assert_eq!(
        now_b
            .iter()
            .map(|x| (x.sentiment, x.labelled_by))
            .collect::<Vec<_>>(),
        vec![
            (Sentiment::Positive, LabelSource::Staff),
            (Sentiment::Negative, LabelSource::Encoder)
        ]
    );

    // A second correction of the same post: training takes the latest.
    s.correct_sentiment(a, Sentiment::Neutral, admin, NOW + 2 * DAY_MS)
        .await
        .unwrap();
    s.correct_sentiment(b, Sentiment::Negative, agent, NOW + 3 * DAY_MS)
        .await
        .unwrap();
    let log = s.sentiment_corrections().await.unwrap();
    assert_eq!(
        log.iter()
            .map(|c| (c.post_id, c.text.as_str(), c.previous, c.sentiment))
            .collect::<Vec<_>>(),
        vec![
            (
                a,
                "the price is sick, love it",
                Sentiment::Positive,
                Sentiment::Neutral
            ),
            (
                b,
                "the price again",
                Sentiment::Negative,
                Sentiment::Negative
            ),
        ]
    );
    let history = s.post_corrections(a).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|c| (c.sentiment, c.corrected_by))
            .collect::<Vec<_>>(),
        vec![
            (Sentiment::Neutral, Some(admin)),
            (Sentiment::Positive, Some(agent))
        ]
    );
    assert_eq!(
        day(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(2, 1, 0, -1.0)]
    );
    assert!(matches!(
        s.correct_sentiment(b + 100, Sentiment::Neutral, agent, NOW)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The 2011 story seeds demo viewers' tenure with `backdate_accounts`: a
/// date earlier than the sign-up moves it, a later one never does, and an
/// unknown account is skipped, all in one write.
async fn check_sign_up_dates_are_only_ever_moved_earlier<S>(s: &S)
where
    S: CatalogStore,
{
    let a = common::account_at(s, "a@x.org", Role::Viewer, Plan::Basic, NOW).await;
    let b = common::account_at(s, "b@x.org", Role::Viewer, Plan::Basic, NOW).await;
    let moved = s
        .backdate_accounts(&[
            (a, NOW - 900 * DAY_MS),
            (b, NOW + 5 * DAY_MS),
            (b + 1000, NOW - DAY_MS),
        ])
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let created = |id| async move { s.account(id).await.unwrap().unwrap().created_at };
    assert_eq!(created(a).await, NOW - 900 * DAY_MS);
    assert_eq!(created(b).await, NOW);
    // Moving it again to a later day than the new one leaves it.
    assert_eq!(s.backdate_accounts(&[(a, NOW - DAY_MS)]).await.unwrap(), 0);
    assert_eq!(created(a).await, NOW - 900 * DAY_MS);
}

async fn check_matching_posts_are_kept_from_the_fill_and_each_ingest<S>(s: &S)
where
    S: CatalogStore + ProposalStore + ListeningStore,
{
    let admin = common::account(s, "admin@x.org", Role::Admin).await;
    let draft = ProposalDraft {
        kind: ChangeKind::Product,
        title: "Split DVD rental into Qwikster".into(),
        body: "Why.".into(),
        segment: Segment::default(),
        price: None,
        keywords: vec!["qwikster".into()],
        planned_at: NOW + 10 * DAY_MS,
    };
    let p = s.create_proposal(&draft, admin, NOW).await.unwrap();
    let post = |id: &str, text: &str, at: i64, sentiment: Sentiment, proposals: Vec<i64>| NewPost {
        source: "test".into(),
        external_id: id.into(),
        author: "@a@x".into(),
        text: text.into(),
        url: None,
        lang: None,
        created_at: at,
        sentiment,
        score: if sentiment == Sentiment::Negative {
            -0.5
        } else {
            0.5
        },
        top_tokens: vec![],
        topics: vec![],
        brands: vec![],
        proposals,
    };
    let day0 = NOW + 3_600_000;
    let day1 = NOW + DAY_MS + 3_600_000;
    // Before its posts are kept, naming the proposal links nothing.
    let first = vec![
        post(
            "a",
            "Qwikster is a terrible idea",
            day0,
            Sentiment::Negative,
            vec![p.id],
        ),
        post(
            "b",
            "qwikster? fine by me",
            day1,
            Sentiment::Positive,
            vec![],
        ),
        post(
            "c",
            "unrelated and unhappy",
            day0,
            Sentiment::Negative,
            vec![],
        ),
    ];
    s.insert_posts(&first, None, NOW).await.unwrap();
    assert!(s
        .proposal_post_days(p.id, 0, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    // The fill finds the stored posts the match fits; again, nothing to do.
    let m = TextMatch {
        groups: vec![vec!["qwikster".into()]],
    };
    assert_eq!(
        s.track_proposal_posts(p.id, &m, NOW).await.unwrap(),
        Some(2)
    );
    assert_eq!(s.track_proposal_posts(p.id, &m, NOW).await.unwrap(), None);
    let days = |v: Vec<Bucket>| -> Vec<(i64, i64, i64, i64)> {
        v.iter()
            .map(|b| (b.start, b.total, b.negative, b.positive))
            .collect()
    };
    assert_eq!(
        days(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(NOW, 1, 1, 0), (NOW + DAY_MS, 1, 0, 1)]
    );
    // From then on each ingest links its new posts, a repeated one once.
    let second = vec![
        post(
            "d",
            "QWIKSTER again",
            day0 + 60_000,
            Sentiment::Negative,
            vec![p.id],
        ),
        post(
            "a",
            "Qwikster is a terrible idea",
            day0,
            Sentiment::Negative,
            vec![p.id],
        ),
    ];
    s.insert_posts(&second, None, NOW).await.unwrap();
    assert_eq!(
        days(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(NOW, 2, 2, 0), (NOW + DAY_MS, 1, 0, 1)]
    );
    assert_eq!(
        days(
            s.proposal_post_days(p.id, NOW + DAY_MS, NOW + 2 * DAY_MS)
                .await
                .unwrap()
        ),
        vec![(NOW + DAY_MS, 1, 0, 1)]
    );
    let texts = |v: Vec<marquee_domain::listening::Post>| -> Vec<String> {
        v.into_iter().map(|p| p.text).collect()
    };
    assert_eq!(
        texts(
            s.proposal_posts(p.id, 0, Some(Sentiment::Negative), 10)
                .await
                .unwrap()
        ),
        vec!["QWIKSTER again", "Qwikster is a terrible idea"]
    );
    assert_eq!(
        texts(
            s.proposal_posts(p.id, NOW + DAY_MS, None, 10)
                .await
                .unwrap()
        ),
        vec!["qwikster? fine by me"]
    );
    assert_eq!(
        texts(s.proposal_posts(p.id, 0, None, 1).await.unwrap()),
        vec!["qwikster? fine by me"]
    );
    // A changed match is filled afresh.
    let m = TextMatch {
        groups: vec![vec!["unrelated".into()]],
    };
    assert_eq!(
        s.track_proposal_posts(p.id, &m, NOW).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        days(s.proposal_post_days(p.id, 0, i64::MAX).await.unwrap()),
        vec![(NOW, 1, 1, 0)]
    );
}
