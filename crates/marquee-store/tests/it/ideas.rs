//! The idea box, run against every backend (see `common`).

use crate::common;

use marquee_domain::ideas::IdeaStatus;
use marquee_domain::{Plan, Role};
use marquee_store::ideas::{
    IdeaQuery, IdeaSort, IdeaStore, Moderation, NewIdea, Notice, StatusUpdate, Visibility,
};
use marquee_store::outbox::{OutboxEvent, OutboxStore};
use marquee_store::{CatalogStore, StoreError};

both_backends!(
    check_merge_moves_voters_once_and_refuses_cycles,
    check_votes_keep_the_budget_and_exact_counts_under_concurrency,
    check_similar_ideas_stem_and_rank_titles_first,
    check_listings_comments_status_and_notifications,
);

fn notice() -> Notice {
    Notice {
        kind: "idea.status_changed".into(),
        message: "changed".into(),
        link: "/ideas/1".into(),
        event: None,
    }
}

async fn idea_with<S: IdeaStore>(
    s: &S,
    author: i64,
    title: &str,
    description: &str,
    tags: &[&str],
    at: i64,
) -> i64 {
    s.create_idea(
        &NewIdea {
            author_id: author,
            title: title.into(),
            description: description.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            approved: true,
        },
        None,
        at,
    )
    .await
    .unwrap()
    .id
}

async fn new_idea<S: IdeaStore>(s: &S, author: i64, title: &str) -> i64 {
    idea_with(s, author, title, "", &[], 10).await
}

async fn check_merge_moves_voters_once_and_refuses_cycles<S: IdeaStore + CatalogStore>(s: &S) {
    let a = common::account_at(s, "a@x.com", Role::Viewer, Plan::Basic, 1).await;
    let b = common::account_at(s, "b@x.com", Role::Viewer, Plan::Basic, 1).await;
    let c = common::account_at(s, "c@x.com", Role::Viewer, Plan::Basic, 1).await;
    let orig = new_idea(s, a, "Offline downloads").await;
    let dup = new_idea(s, b, "Download for offline").await;
    for v in [a, b] {
        s.vote(orig, v, None, 20).await.unwrap();
    }
    for v in [b, c] {
        s.vote(dup, v, None, 20).await.unwrap();
    }
    let (o, notified) = s
        .merge_idea(dup, orig, a, "same thing", 30, &notice())
        .await
        .unwrap();
    assert_eq!(o.votes, 3); // a, b (voted both) and c
    assert_eq!(notified, 2); // b (author and voter) and c; a is the actor
    let d = s.idea(dup, None).await.unwrap().unwrap();
    assert_eq!(
        (d.status, d.duplicate_of, d.votes),
        (IdeaStatus::Duplicate, Some(orig), 0)
    );
    assert!(matches!(
        s.merge_idea(orig, dup, a, "x", 40, &notice()).await,
        Err(StoreError::Invalid {
            field: "duplicate_of",
            ..
        })
    ));
    assert!(matches!(
        s.merge_idea(orig, orig, a, "x", 40, &notice()).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.vote(dup, a, None, 50).await,
        Err(StoreError::Limit { field: "idea", .. })
    ));
    // A third idea merged into the duplicate is pointed at the root.
    let third = new_idea(s, c, "Downloads offline please").await;
    match s.merge_idea(third, dup, a, "x", 60, &notice()).await {
        Err(StoreError::Invalid { message, .. }) => {
            assert!(message.contains(&format!("#{orig}")), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let history = s.status_history(dup).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].to, history[0].duplicate_of),
        (IdeaStatus::Duplicate, Some(orig))
    );
    assert_eq!(history[0].actor.as_deref(), Some("a"));
}

async fn check_votes_keep_the_budget_and_exact_counts_under_concurrency<
    S: IdeaStore + CatalogStore + Clone + 'static,
>(
    s: &S,
) {
    let author = common::account_at(s, "author@x.com", Role::Viewer, Plan::Basic, 1).await;
    let ideas = [
        new_idea(s, author, "One").await,
        new_idea(s, author, "Two").await,
        new_idea(s, author, "Three").await,
    ];
    let v = common::account_at(s, "v@x.com", Role::Viewer, Plan::Basic, 1).await;
    let st = s.vote(ideas[0], v, Some(2), 20).await.unwrap();
    assert_eq!((st.voted, st.votes, st.budget_used), (true, 1, 1));
    // Voting again changes nothing and costs nothing.
    let st = s.vote(ideas[0], v, Some(2), 21).await.unwrap();
    assert_eq!((st.votes, st.budget_used), (1, 1));
    s.vote(ideas[1], v, Some(2), 22).await.unwrap();
    assert!(matches!(
        s.vote(ideas[2], v, Some(2), 23).await,
        Err(StoreError::Limit { field: "votes", .. })
    ));
    let st = s.unvote(ideas[1], v).await.unwrap();
    assert_eq!((st.voted, st.votes, st.budget_used), (false, 0, 1));
    assert_eq!(s.votes_used(v).await.unwrap(), 1);
    // A closed idea gives its vote back.
    let staff = common::account_at(s, "staff@x.com", Role::Admin, Plan::Basic, 1).await;
    s.change_status(
        &StatusUpdate {
            idea_id: ideas[0],
            actor_id: staff,
            to: IdeaStatus::Declined,
            explanation: "no".into(),
            release_note_url: None,
            now: 30,
        },
        &notice(),
    )
    .await
    .unwrap();
    assert_eq!(s.votes_used(v).await.unwrap(), 0);
    assert!(matches!(
        s.unvote(ideas[0], v).await,
        Err(StoreError::Limit { field: "idea", .. })
    ));

    // Many accounts vote on one idea at once: no vote is lost.
    let mut voters = Vec::new();
    for i in 0..24 {
        voters.push(
            common::account_at(s, &format!("m{i}@x.com"), Role::Viewer, Plan::Basic, 1).await,
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for &a in &voters {
        let s = s.clone();
        let idea = ideas[2];
        tasks.spawn(async move { s.vote(idea, a, Some(5), 40).await.unwrap() });
    }
    let mut max_seen = 0;
    while let Some(r) = tasks.join_next().await {
        max_seen = max_seen.max(r.unwrap().votes);
    }
    assert_eq!(max_seen, voters.len() as i64);
    assert_eq!(
        s.idea(ideas[2], None).await.unwrap().unwrap().votes,
        voters.len() as i64
    );

    // One account votes on many ideas at once: the budget holds.
    let greedy = common::account_at(s, "greedy@x.com", Role::Viewer, Plan::Basic, 1).await;
    let mut many = Vec::new();
    for i in 0..10 {
        many.push(new_idea(s, author, &format!("Idea {i}")).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for &idea in &many {
        let s = s.clone();
        tasks.spawn(async move { s.vote(idea, greedy, Some(3), 50).await });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Limit { field: "votes", .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(s.votes_used(greedy).await.unwrap(), 3);
}

async fn check_similar_ideas_stem_and_rank_titles_first<S: IdeaStore + CatalogStore>(s: &S) {
    let a = common::account_at(s, "a@x.com", Role::Viewer, Plan::Basic, 1).await;
    let in_title = idea_with(s, a, "Offline downloads", "for trains", &[], 10).await;
    let in_body = idea_with(
        s,
        a,
        "Better trains mode",
        "let me download episodes",
        &[],
        11,
    )
    .await;
    let dark = idea_with(s, a, "Dark mode", "easier on the eyes", &[], 12).await;
    let hidden = idea_with(s, a, "Downloading hidden", "", &[], 13).await;
    s.moderate_idea(hidden, Moderation::Hide, 14).await.unwrap();

    // Stemmed: "downloading" finds "downloads" and "download"; the title counts more.
    let ids = |v: Vec<marquee_domain::ideas::Idea>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.similar_ideas("downloading ", None, 10).await.unwrap()),
        vec![in_title, in_body]
    );
    // The last word, still being typed, is a prefix.
    assert_eq!(
        ids(s.similar_ideas("please add da", None, 10).await.unwrap()),
        vec![dark]
    );
    assert!(s.similar_ideas("da ", None, 10).await.unwrap().is_empty());
    // Stop words alone, and query syntax, find nothing and break nothing.
    assert!(s
        .similar_ideas("the a ", None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .similar_ideas("\" OR * : & | ! ( ) '", None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(s
            .similar_ideas("\"dark\" OR eyes*", None, 10)
            .await
            .unwrap()),
        vec![dark]
    );
    // OR of terms; limit kept.
    assert_eq!(
        s.similar_ideas("dark trains", None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        s.similar_ideas("dark trains", None, 1).await.unwrap().len(),
        1
    );
}

async fn check_listings_comments_status_and_notifications<
    S: IdeaStore + CatalogStore + OutboxStore,
>(
    s: &S,
) {
    let a = common::account_at(s, "alice@x.com", Role::Viewer, Plan::Basic, 1).await;
    let b = common::account_at(s, "bob@x.com", Role::Viewer, Plan::Basic, 1).await;
    let staff = common::account_at(s, "staff@x.com", Role::Agent, Plan::Basic, 1).await;
    let week = 7 * 24 * 3600 * 1000_i64;
    let old = idea_with(s, a, "Old popular", "", &["tv", "apps"], 0).await;
    let fresh = idea_with(s, b, "Fresh", "", &["tv"], 10 * week).await;
    let queued = s
        .create_idea(
            &NewIdea {
                author_id: b,
                title: "Waiting".into(),
                description: String::new(),
                tags: vec![],
                approved: false,
            },
            None,
            10 * week,
        )
        .await
        .unwrap();
    assert!(!queued.approved);
    assert_eq!(queued.tags, Vec::<String>::new());
    let extra = common::account_at(s, "c@x.com", Role::Viewer, Plan::Basic, 1).await;
    for v in [a, b, extra] {
        s.vote(old, v, None, 0).await.unwrap();
    }
    s.vote(fresh, a, None, 10 * week).await.unwrap();
    let list = |sort, viewer, visibility| IdeaQuery {
        viewer,
        sort,
        visibility,
        now: 10 * week,
        limit: 10,
        ..Default::default()
    };
    let ids = |v: Vec<marquee_domain::ideas::Idea>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    // Three ten-week-old votes weigh less than one fresh vote.
    assert_eq!(
        ids(s
            .list_ideas(&list(IdeaSort::Trending, None, Visibility::Public))
            .await
            .unwrap()),
        vec![fresh, old]
    );
    assert_eq!(
        ids(s
            .list_ideas(&list(IdeaSort::Top, None, Visibility::Public))
            .await
            .unwrap()),
        vec![old, fresh]
    );
    // The author sees their own queued idea; others do not; moderators see the queue.
    assert_eq!(
        ids(s
            .list_ideas(&list(IdeaSort::New, Some(b), Visibility::Public))
            .await
            .unwrap()),
        vec![queued.id, fresh, old]
    );
    assert_eq!(
        ids(s
            .list_ideas(&list(IdeaSort::New, Some(a), Visibility::Pending))
            .await
            .unwrap()),
        vec![queued.id]
    );
    let mine = s
        .list_ideas(&list(IdeaSort::MyVotes, Some(a), Visibility::Public))
        .await
        .unwrap();
    assert_eq!(ids(mine.clone()), vec![fresh, old]);
    assert!(mine.iter().all(|i| i.voted));
    let tagged = s
        .list_ideas(&IdeaQuery {
            tag: Some("apps".into()),
            ..list(IdeaSort::Top, Some(b), Visibility::Public)
        })
        .await
        .unwrap();
    assert_eq!(ids(tagged.clone()), vec![old]);
    assert_eq!(tagged[0].tags, vec!["apps", "tv"]);
    assert!(tagged[0].voted);
    let nul_tag = s
        .list_ideas(&IdeaQuery {
            tag: Some("a\0b".into()),
            ..list(IdeaSort::Top, None, Visibility::Public)
        })
        .await
        .unwrap();
    assert!(nul_tag.is_empty());
    assert_eq!(
        s.idea_tags().await.unwrap(),
        vec![("tv".to_string(), 2), ("apps".to_string(), 1)]
    );
    let retagged = s
        .set_idea_tags(fresh, &["kids".into(), "tv".into()], 11 * week)
        .await
        .unwrap();
    assert_eq!(retagged.tags, vec!["kids", "tv"]);

    // Rate-limit windows.
    assert_eq!(
        s.ideas_posted_since(b, week).await.unwrap(),
        (2, Some(10 * week))
    );
    assert_eq!(s.ideas_posted_since(a, week).await.unwrap(), (0, None));

    // Comments: counts follow hiding; locked threads refuse new ones.
    let c1 = s
        .add_comment(old, b, "me too", false, None, 100)
        .await
        .unwrap();
    let c2 = s
        .add_comment(old, staff, "we are on it", true, None, 101)
        .await
        .unwrap();
    assert!(c2.official && c2.author.staff && !c1.author.staff);
    assert_eq!(c1.author.name, "bob");
    assert_eq!(s.idea(old, None).await.unwrap().unwrap().comment_count, 2);
    assert_eq!(s.set_comment_hidden(c1.id, true).await.unwrap(), old);
    assert_eq!(s.idea(old, None).await.unwrap().unwrap().comment_count, 1);
    assert_eq!(s.comments(old, false).await.unwrap().len(), 1);
    assert_eq!(s.comments(old, true).await.unwrap().len(), 2);
    assert!(matches!(
        s.set_comment_hidden(999_999, true).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.comments_posted_since(b, 0).await.unwrap(), (1, Some(100)));
    s.moderate_idea(old, Moderation::Lock, 102).await.unwrap();
    assert!(matches!(
        s.add_comment(old, a, "x", false, None, 103).await,
        Err(StoreError::Limit { field: "idea", .. })
    ));
    s.moderate_idea(old, Moderation::Unlock, 104).await.unwrap();
    assert!(matches!(
        s.add_comment(queued.id, a, "x", false, None, 105).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.moderate_idea(999_999, Moderation::Approve, 1).await,
        Err(StoreError::NotFound { .. })
    ));

    // A status change notifies author, voters and commenters but the actor,
    // and enqueues its webhook event in the same transaction.
    let hook = s.create_webhook("http://h", "k", "*", 1).await.unwrap();
    let n = Notice {
        event: Some(OutboxEvent {
            event: "idea.status_changed".into(),
            payload: "{}".into(),
        }),
        ..notice()
    };
    let (idea, notified) = s
        .change_status(
            &StatusUpdate {
                idea_id: old,
                actor_id: staff,
                to: IdeaStatus::Launched,
                explanation: "shipped".into(),
                release_note_url: Some("https://example.com/notes".into()),
                now: 20 * week,
            },
            &n,
        )
        .await
        .unwrap();
    assert_eq!(notified, 3); // a (author, voter), b and c (voters); staff acts
    assert_eq!(idea.status, IdeaStatus::Launched);
    assert_eq!(
        idea.release_note_url.as_deref(),
        Some("https://example.com/notes")
    );
    assert_eq!(s.deliveries(hook.id, 10).await.unwrap().len(), 1);
    assert!(matches!(
        s.change_status(
            &StatusUpdate {
                idea_id: old,
                actor_id: staff,
                to: IdeaStatus::Launched,
                explanation: "again".into(),
                release_note_url: None,
                now: 201,
            },
            &n,
        )
        .await,
        Err(StoreError::Limit { .. })
    ));
    let h = s.status_history(old).await.unwrap();
    assert_eq!(
        (h[0].from, h[0].to, h[0].explanation.as_str()),
        (IdeaStatus::Open, IdeaStatus::Launched, "shipped")
    );
    assert_eq!(
        ids(s
            .list_ideas(&list(IdeaSort::RecentlyChanged, None, Visibility::Public))
            .await
            .unwrap())[0],
        old
    );

    assert_eq!(s.unread_notifications(b).await.unwrap(), 1);
    assert_eq!(s.unread_notifications(staff).await.unwrap(), 0);
    let notes = s.notifications(b, 10).await.unwrap();
    assert_eq!(notes[0].kind, "idea.status_changed");
    assert_eq!(s.mark_notifications_read(b, 300).await.unwrap(), 1);
    assert_eq!(s.unread_notifications(b).await.unwrap(), 0);
    assert_eq!(s.notifications(b, 10).await.unwrap()[0].read_at, Some(300));
    let author = s.idea_author(staff).await.unwrap().unwrap();
    assert!(author.staff);
    assert_eq!(author.name, "staff");
    assert!(s.idea_author(999_999).await.unwrap().is_none());
}
