//! The support chat store against every backend: auto-assignment under
//! concurrency, CSAT once per resolution, share links by hash, read state,
//! canned responses and the full-text search behind the voice panel.

use crate::common;

use marquee_domain::support::{ConvStatus, Priority};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Role;
use marquee_store::support::{AuthorKind, SupportStore};
use marquee_store::{CatalogStore, StoreError};
use std::sync::Arc;

/// Twelve conversations opened at once, two agents with room for two each:
/// four are placed, never more than an agent's capacity, the rest queue.
async fn check_concurrent_assignment_never_overfills<S>(s: &S)
where
    S: CatalogStore + SupportStore + Clone + 'static,
{
    let s = Arc::new(s.clone());
    let a1 = common::account(&*s, "a1@x.org", Role::Agent).await;
    let a2 = common::account(&*s, "a2@x.org", Role::Agent).await;
    let mut customers = Vec::new();
    for i in 0..12 {
        customers.push(common::account(&*s, &format!("c{i}@x.org"), Role::Viewer).await);
    }
    let mut tasks = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let (s, c) = (s.clone(), *c);
        tasks.push(tokio::spawn(async move {
            s.create_conversation(
                c,
                &format!("help {i}"),
                Priority::Normal,
                2,
                1000 + i as i64,
            )
            .await
            .unwrap()
        }));
    }
    let mut assigned = Vec::new();
    for t in tasks {
        assigned.extend(t.await.unwrap().assigned);
    }
    assert_eq!(assigned.len(), 4, "{assigned:?}");
    let agents = s.support_agents(2).await.unwrap();
    for a in &agents {
        assert!(a.open <= 2, "{a:?}");
    }
    let open: u32 = agents
        .iter()
        .filter(|a| a.account_id == a1 || a.account_id == a2)
        .map(|a| a.open)
        .sum();
    assert_eq!(open, 4);
    let load = s.support_load().await.unwrap();
    assert_eq!((load.open, load.unassigned), (12, 8));
    // Freeing a seat places the oldest queued conversation.
    let mine = s
        .inbox(&marquee_store::support::InboxQuery {
            status: None,
            assignee: marquee_store::support::AssigneeFilter::Agent(a1),
            limit: 10,
            search: None,
        })
        .await
        .unwrap();
    let w = s
        .set_status(mine[0].id, a1, ConvStatus::Resolved, None, 2, 5000)
        .await
        .unwrap();
    assert_eq!(w.assigned.len(), 1);
    assert_eq!(w.assigned[0].1, a1);
    assert_eq!(s.support_load().await.unwrap().unassigned, 7);
}

/// CSAT is asked once per resolution, and again after a reopen.
async fn check_csat_once_per_resolution<S: CatalogStore + SupportStore>(s: &S) {
    let agent = common::account(s, "agent@x.org", Role::Agent).await;
    let c = common::account(s, "c@x.org", Role::Viewer).await;
    let w = s
        .create_conversation(c, "hi", Priority::High, 5, 10)
        .await
        .unwrap();
    let id = w.conversation.id;
    assert_eq!(w.conversation.assignee_id, Some(agent));
    assert!(matches!(
        s.answer_csat(id, 5, "", 11).await,
        Err(StoreError::Limit { field: "score", .. })
    ));
    let r = s
        .set_status(id, agent, ConvStatus::Resolved, None, 5, 20)
        .await
        .unwrap();
    assert!(r.conversation.csat_due);
    assert_eq!(r.conversation.resolution_seq, 1);
    // A NUL (SQLite keeps it; PostgreSQL TEXT cannot) never fails the answer.
    let first = s.answer_csat(id, 4, "ok\0!", 21).await.unwrap();
    assert!(first.comment.starts_with("ok") && first.comment.ends_with('!'));
    assert!(matches!(
        s.answer_csat(id, 5, "again", 22).await,
        Err(StoreError::Limit { field: "score", .. })
    ));
    assert!(!s.conversation(id).await.unwrap().unwrap().csat_due);
    // The customer writes again: reopened, and the next resolution asks again.
    let w = s
        .add_customer_message(id, Some(c), "still broken", 5, 30)
        .await
        .unwrap();
    assert_eq!(w.conversation.status, ConvStatus::Open);
    s.set_status(id, agent, ConvStatus::Resolved, None, 5, 40)
        .await
        .unwrap();
    s.answer_csat(id, 2, "meh", 41).await.unwrap();
    let answers = s.csat_answers(id).await.unwrap();
    assert_eq!(
        answers
            .iter()
            .map(|a| (a.resolution_seq, a.score))
            .collect::<Vec<_>>(),
        vec![(1, 4), (2, 2)]
    );
    assert_eq!(answers[0].comment, first.comment);
    let kinds: Vec<String> = s
        .conversation_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "csat").count(), 2);
    assert_eq!(kinds[0], "created");
}

/// Share links resolve by hash, count views, and die when revoked.
async fn check_share_links<S: CatalogStore + SupportStore>(s: &S) {
    let agent = common::account(s, "agent@x.org", Role::Agent).await;
    let c = common::account(s, "c@x.org", Role::Viewer).await;
    let id = s
        .create_conversation(c, "hi", Priority::Normal, 5, 10)
        .await
        .unwrap()
        .conversation
        .id;
    let first = s.create_share(id, "hash-1", 11).await.unwrap();
    let second = s.create_share(id, "hash-2", 12).await.unwrap();
    assert_ne!(first.id, second.id);
    // Creating a new link revoked the old one.
    assert!(s.open_share("hash-1", 13).await.unwrap().is_none());
    assert_eq!(s.open_share("hash-2", 13).await.unwrap().unwrap().views, 1);
    assert_eq!(s.open_share("hash-2", 14).await.unwrap().unwrap().views, 2);
    assert!(s.open_share("nope", 14).await.unwrap().is_none());
    assert_eq!(s.active_share(id).await.unwrap().unwrap().id, second.id);
    assert!(s.revoke_share(id, agent, 15).await.unwrap());
    assert!(!s.revoke_share(id, agent, 16).await.unwrap());
    assert!(s.open_share("hash-2", 17).await.unwrap().is_none());
    assert!(s.active_share(id).await.unwrap().is_none());
}

/// Read marks never go backwards nor past the newest message; an agent's
/// reply takes an unassigned conversation; canned codes are unique.
async fn check_read_state_replies_and_canned<S: CatalogStore + SupportStore>(s: &S) {
    let agent = common::account(s, "agent@x.org", Role::Agent).await;
    let c = common::account(s, "c@x.org", Role::Viewer).await;
    // The only agent is unavailable: the conversation waits in the queue.
    s.set_agent_settings(agent, 5, false, "Tier 2", 5, 5)
        .await
        .unwrap();
    let w = s
        .create_conversation(c, "one", Priority::Low, 5, 10)
        .await
        .unwrap();
    let id = w.conversation.id;
    assert_eq!(w.conversation.assignee_id, None);
    let note = s
        .add_agent_message(id, agent, "internal", true, None, 11)
        .await
        .unwrap();
    assert_eq!(note.conversation.assignee_id, None);
    let reply = s
        .add_agent_message(id, agent, "hello", false, Some("hi"), 12)
        .await
        .unwrap();
    assert_eq!(reply.conversation.assignee_id, Some(agent));
    assert_eq!(reply.conversation.first_reply_at, Some(12));
    let newest = reply.message.unwrap().id;
    let public = s.messages(id, false, 0, 10).await.unwrap();
    assert_eq!(public.len(), 2);
    assert!(public.iter().all(|m| !m.internal));
    assert_eq!(public[1].author_kind, AuthorKind::Agent);
    assert_eq!(s.messages(id, true, 0, 10).await.unwrap().len(), 3);
    let r = s.mark_read(id, true, newest + 100).await.unwrap();
    assert_eq!(r.customer_read_id, newest);
    let r = s.mark_read(id, true, 1).await.unwrap();
    assert_eq!(r.customer_read_id, newest);
    assert_eq!(
        s.agent_teams().await.unwrap(),
        vec![(agent, "Tier 2".to_string())]
    );

    // A new installation starts with canned responses; `/refund` is one.
    let seeded: Vec<String> = s
        .canned()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.shortcode)
        .collect();
    assert!(seeded.contains(&"refund".to_string()), "{seeded:?}");
    assert!(seeded.len() >= 5, "{seeded:?}");
    s.create_canned("reimburse", "We refunded you.", agent, 1)
        .await
        .unwrap();
    s.create_canned("Apology", "Sorry!", agent, 1)
        .await
        .unwrap();
    assert!(matches!(
        s.create_canned("refund", "again", agent, 2).await,
        Err(StoreError::Conflict { field: "shortcode" })
    ));
    let codes: Vec<String> = s
        .canned()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.shortcode)
        .collect();
    assert_eq!(codes.len(), seeded.len() + 2);
    assert!(codes.contains(&"Apology".to_string()) && codes.contains(&"reimburse".to_string()));
}

/// The voice panel's search: customer messages only, word prefixes, the
/// latest match per conversation, and hostile words are inert.
async fn check_mentions_search<S: CatalogStore + SupportStore>(s: &S) {
    let agent = common::account(s, "agent@x.org", Role::Agent).await;
    let c1 = common::account(s, "c1@x.org", Role::Viewer).await;
    let c2 = common::account(s, "c2@x.org", Role::Viewer).await;
    let a = s
        .create_conversation(
            c1,
            "The SUBTITLES are out of sync",
            Priority::Normal,
            5,
            100,
        )
        .await
        .unwrap()
        .conversation
        .id;
    s.add_customer_message(a, Some(c1), "subtitle sync again!", 5, 200)
        .await
        .unwrap();
    let b = s
        .create_conversation(c2, "billing question", Priority::Normal, 5, 150)
        .await
        .unwrap()
        .conversation
        .id;
    // Staff text is not the customer's voice.
    s.add_agent_message(b, agent, "subtitles sync fixed", false, None, 160)
        .await
        .unwrap();
    let m = TextMatch {
        groups: vec![vec!["subtitl".into(), "sync".into()]],
    };
    let (n, hits) = s.conversations_mentioning(&m, 0, 1000, 10).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(hits[0].conversation_id, a);
    assert_eq!(hits[0].body, "subtitle sync again!");
    assert_eq!(hits[0].at, 200);
    // The window applies to the messages.
    let (n, _) = s.conversations_mentioning(&m, 0, 150, 10).await.unwrap();
    assert_eq!(n, 1);
    let (n, _) = s.conversations_mentioning(&m, 300, 1000, 10).await.unwrap();
    assert_eq!(n, 0);
    // OR of groups.
    let m2 = TextMatch {
        groups: vec![vec!["billing".into()], vec!["nothere".into()]],
    };
    let (n, hits) = s.conversations_mentioning(&m2, 0, 1000, 10).await.unwrap();
    assert_eq!((n, hits[0].conversation_id), (1, b));
    // Nothing to match matches nothing.
    let (n, _) = s
        .conversations_mentioning(&TextMatch { groups: vec![] }, 0, 1000, 10)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Query syntax in a word is only letters to the store.
    let evil = TextMatch {
        groups: vec![vec!["bill')|:*!&".into()]],
    };
    let (n, _) = s
        .conversations_mentioning(&evil, 0, 1000, 10)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// The agents page and the assigner read the same defaults: an agent who
/// never saved settings takes part with the default capacity, an admin does
/// not until they opt in; a manual reassignment is logged as such; snoozed
/// conversations wake; the event log reads back for the metrics.
async fn check_agent_defaults_reassign_and_log<S: CatalogStore + SupportStore>(s: &S) {
    let admin = common::account(s, "boss@x.org", Role::Admin).await;
    let agent = common::account(s, "zed@x.org", Role::Agent).await;
    let c = common::account(s, "c@x.org", Role::Viewer).await;
    let agents = s.support_agents(3).await.unwrap();
    assert_eq!(
        agents
            .iter()
            .map(|a| (
                a.account_id,
                a.capacity,
                a.available,
                a.team.as_str(),
                a.open
            ))
            .collect::<Vec<_>>(),
        // By e-mail.
        vec![
            (admin, 3, false, "Support", 0),
            (agent, 3, true, "Support", 0)
        ]
    );
    let w = s
        .create_conversation(c, "help", Priority::Normal, 3, 10)
        .await
        .unwrap();
    let id = w.conversation.id;
    assert_eq!(w.assigned, vec![(id, agent)]);
    // The admin opts in with room for one; nothing is waiting.
    let (a, placed) = s
        .set_agent_settings(admin, 1, true, "Leads", 3, 11)
        .await
        .unwrap();
    assert_eq!(
        (a.capacity, a.available, a.team.as_str()),
        (1, true, "Leads")
    );
    assert!(placed.is_empty());
    // Back to the queue by hand: the auto-assigner places it again, with the
    // admin, who waited longer.
    let r = s.reassign(id, admin, None, 3, 12).await.unwrap();
    assert_eq!(r.assigned, vec![(id, admin)]);
    assert_eq!(r.conversation.assignee_id, Some(admin));
    assert!(matches!(
        s.reassign(id, admin, Some(c), 3, 13).await,
        Err(StoreError::Invalid { .. })
    ));
    let events = s.conversation_events(id).await.unwrap();
    let manual: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "assigned")
        .map(|e| (e.manual, e.to_email.clone()))
        .collect();
    assert_eq!(
        manual,
        vec![
            (false, Some("zed@x.org".to_string())),
            (true, None),
            (false, Some("boss@x.org".to_string())),
        ]
    );
    s.set_status(id, admin, ConvStatus::Snoozed, Some(100), 3, 14)
        .await
        .unwrap();
    assert!(s.wake_snoozed(99).await.unwrap().is_empty());
    assert_eq!(s.wake_snoozed(100).await.unwrap(), vec![id]);
    let got = s.conversations_by_ids(&[id, 9999]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].status, ConvStatus::Open);
    let (convs, log) = s.support_log(0, 1000).await.unwrap();
    assert_eq!(convs.len(), 1);
    use marquee_domain::support::EventKind;
    assert!(log.iter().any(|e| e.kind
        == EventKind::Assigned {
            from: Some(agent),
            to: None,
            manual: true
        }));
    let ctx = s.support_context(c).await.unwrap().unwrap();
    assert_eq!(
        (ctx.email.as_str(), ctx.other_conversations.clone()),
        ("c@x.org", vec![id])
    );
    assert!(s.support_context(9999).await.unwrap().is_none());
}

/// The inbox search: customer e-mail or any message, case-insensitively,
/// `%` and `_` taken literally, within the tab's filters.
async fn check_inbox_search<S>(s: &S)
where
    S: CatalogStore + SupportStore,
{
    use marquee_store::support::{AssigneeFilter, InboxQuery};
    let ann = common::account(s, "ann@x.org", Role::Viewer).await;
    let bob = common::account(s, "bob@x.org", Role::Viewer).await;
    s.create_conversation(ann, "My Stream froze at 50% again", Priority::Normal, 2, 10)
        .await
        .unwrap();
    s.create_conversation(bob, "Billing question", Priority::Normal, 2, 20)
        .await
        .unwrap();
    let find = |q: &str| {
        let q = InboxQuery {
            status: None,
            assignee: AssigneeFilter::Any,
            limit: 50,
            search: Some(q.to_string()),
        };
        async move {
            let mut v: Vec<String> = s
                .inbox(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.customer_email)
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(find("stream FROZE").await, ["ann@x.org"]);
    assert_eq!(find("BOB@").await, ["bob@x.org"]);
    assert_eq!(find("50%").await, ["ann@x.org"]);
    assert!(find("5_%").await.is_empty(), "_ is a literal underscore");
    assert!(find("refund").await.is_empty());
    assert_eq!(
        find("  ").await,
        ["ann@x.org", "bob@x.org"],
        "blank: no filter"
    );
}

both_backends!(
    check_inbox_search,
    check_concurrent_assignment_never_overfills,
    check_csat_once_per_resolution,
    check_share_links,
    check_read_state_replies_and_canned,
    check_mentions_search,
    check_agent_defaults_reassign_and_log,
);
