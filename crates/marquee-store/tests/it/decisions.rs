//! "We heard you" decisions against every backend: evidence is checked, and
//! everyone behind it is notified once, in the same transaction.

use crate::common::{self, Raw};

use marquee_domain::support::Priority;
use marquee_domain::Role;
use marquee_store::decisions::{DecisionStore, Evidence, EvidenceKind};
use marquee_store::support::SupportStore;
use marquee_store::{CatalogStore, StoreError};

async fn check_decision_notifies_everyone_behind_the_evidence<S>(s: &S)
where
    S: CatalogStore + SupportStore + DecisionStore + Raw,
{
    let admin = common::account(s, "admin@x.org", Role::Admin).await;
    let author = common::account(s, "author@x.org", Role::Viewer).await;
    let voter = common::account(s, "voter@x.org", Role::Viewer).await;
    let commenter = common::account(s, "commenter@x.org", Role::Viewer).await;
    let hidden = common::account(s, "hidden@x.org", Role::Viewer).await;
    let poster = common::account(s, "poster@x.org", Role::Viewer).await;
    let other_topic = common::account(s, "other@x.org", Role::Viewer).await;
    let customer = common::account(s, "customer@x.org", Role::Viewer).await;
    s.exec(&format!(
        "INSERT INTO ideas(id, author_id, title, created_at, updated_at, status_changed_at) \
           VALUES (500, {author}, 'Keep DVD', 1, 1, 1); \
         INSERT INTO idea_votes(idea_id, account_id, created_at) VALUES (500, {voter}, 2), (500, {author}, 2); \
         INSERT INTO idea_comments(idea_id, author_id, body, created_at) VALUES (500, {commenter}, 'yes', 3); \
         INSERT INTO idea_comments(idea_id, author_id, body, hidden, created_at) VALUES (500, {hidden}, 'spam', 1, 3); \
         INSERT INTO posts(id, source, external_id, author, text, created_at, ingested_at, sentiment, score, account_id, topics) \
           VALUES (700, 'x', 'p1', '@p', 'the Wire is great', 50, 50, 'positive', 0.9, {poster}, '|the-wire|'), \
                  (701, 'x', 'p2', '@o', 'other show', 55, 55, 'negative', -0.5, {other_topic}, '|other|'), \
                  (702, 'x', 'p3', '@p', 'outside the window', 500, 500, 'negative', -0.5, {admin}, '|the-wire|');"
    ))
    .await;
    s.exec(
        "INSERT INTO alerts(id, series, kind, \"window\", window_start, window_end, observed, expected, z, posts, raised_at) \
           VALUES (900, 'the-wire', 'negative_spike', '1h', 0, 100, 5, 1, 4, 5, 100)",
    )
    .await;
    let conv = s
        .create_conversation(customer, "help", Priority::Normal, 5, 10)
        .await
        .unwrap()
        .conversation
        .id;
    // Unknown evidence refuses the whole decision.
    let bad = [
        Evidence {
            kind: EvidenceKind::Idea,
            id: 500,
            label: String::new(),
        },
        Evidence {
            kind: EvidenceKind::Post,
            id: 12345,
            label: String::new(),
        },
    ];
    assert!(matches!(
        s.create_decision("t", "b", &bad, admin, 20).await,
        Err(StoreError::Invalid {
            field: "evidence",
            ..
        })
    ));
    assert!(s.decisions(10, 0).await.unwrap().is_empty());
    let ev = |kind, id| Evidence {
        kind,
        id,
        label: String::new(),
    };
    let d = s
        .create_decision(
            "Keep DVD and streaming together",
            "Because you asked.",
            &[
                ev(EvidenceKind::Idea, 500),
                ev(EvidenceKind::Idea, 500),
                ev(EvidenceKind::Alert, 900),
                ev(EvidenceKind::Conversation, conv),
            ],
            admin,
            30,
        )
        .await
        .unwrap();
    // author, voter, commenter, poster (via the alert), customer; not the
    // hidden comment's author, the other topic, or the actor.
    assert_eq!(d.notified, 5);
    assert_eq!(d.evidence.len(), 3);
    let labels: Vec<(EvidenceKind, String)> = d
        .evidence
        .iter()
        .map(|e| (e.kind, e.label.clone()))
        .collect();
    assert!(labels.contains(&(EvidenceKind::Idea, "Keep DVD".into())));
    assert!(labels.contains(&(EvidenceKind::Conversation, "customer@x.org".into())));
    assert!(labels.contains(&(
        EvidenceKind::Alert,
        "the-wire negative spike alert, 1h".into()
    )));
    for (who, n) in [
        (author, 1),
        (voter, 1),
        (commenter, 1),
        (poster, 1),
        (customer, 1),
        (hidden, 0),
        (other_topic, 0),
        (admin, 0),
    ] {
        let got = s
            .count(&format!(
                "SELECT COUNT(*) FROM notifications WHERE account_id = {who} AND kind = 'decision'"
            ))
            .await;
        assert_eq!(got, n, "account {who}");
    }
    let post = s
        .create_decision("Second", "b", &[ev(EvidenceKind::Post, 700)], admin, 40)
        .await
        .unwrap();
    assert_eq!(post.notified, 1);
    assert_eq!(post.evidence[0].label, "the Wire is great");
    let all = s.decisions(10, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![post.id, d.id]
    );
    assert_eq!(s.decisions(10, 1).await.unwrap()[0].id, d.id);
    assert_eq!(s.decision(d.id).await.unwrap().unwrap(), d);
    assert!(s.decision(d.id + 100).await.unwrap().is_none());
}

both_backends!(check_decision_notifies_everyone_behind_the_evidence);
