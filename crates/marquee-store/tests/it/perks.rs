//! Perks and word of mouth against every backend: budgets under concurrent
//! awards, one award per (rule, event), idempotent event keys, spend,
//! reveals, referrals.

use crate::common::{self, Raw};

use marquee_domain::perks::{TriggerKind, DAY_MS};
use marquee_domain::{Plan, Role};
use marquee_store::perks::{AwardOutcome, NewPerkEvent, PerksStore, ReferralOutcome};
use marquee_store::{CatalogStore, StoreError};
use std::sync::Arc;

fn spec(max_cents: i64, per_profile: i64) -> marquee_domain::perks::RuleSpec {
    marquee_domain::perks::parse_rule(&serde_json::json!({
        "name": "r",
        "trigger": {"kind": "custom", "name": "x"},
        "effect": {"kind": "credit", "amount_cents": 300},
        "budget": {"global": {"max_cents": max_cents}, "per_profile": {"max_awards": per_profile, "period_days": 30}}
    }))
    .unwrap()
}

fn custom(account_id: i64, key: &str, at: i64) -> NewPerkEvent {
    NewPerkEvent {
        kind: TriggerKind::Custom,
        account_id,
        profile_id: None,
        key: key.into(),
        occurred_at: at,
        name: Some("x".into()),
        series_id: None,
        years: None,
        subject_id: None,
        data: "{}".into(),
    }
}

/// Twelve events awarded twice each, all at once: the 1000-cent budget at
/// 300 a piece pays three, whatever the interleaving, and nothing twice.
async fn check_concurrent_awards_never_overspend_and_never_pay_twice<S>(s: &S)
where
    S: CatalogStore + PerksStore + Clone + 'static,
{
    let s = Arc::new(s.clone());
    let admin = common::account_at(&*s, "admin@x.org", Role::Admin, Plan::Standard, 1).await;
    let rule = s.create_perk_rule(&spec(1000, 5), admin, 10).await.unwrap();
    for i in 0..12 {
        let a =
            common::account_at(&*s, &format!("v{i}@x.org"), Role::Viewer, Plan::Standard, 1).await;
        let ev = custom(a, &format!("custom:x:{i}"), 100 + i);
        assert!(s.record_perk_event(&ev, 100).await.unwrap().is_some());
        assert!(s.record_perk_event(&ev, 100).await.unwrap().is_none());
    }
    let events = s.pending_perk_events(100).await.unwrap();
    assert_eq!(events.len(), 12);
    let mut tasks = Vec::new();
    for ev in events.iter().chain(events.iter()) {
        let (s, rule, ev) = (s.clone(), rule.clone(), ev.clone());
        tasks.push(tokio::spawn(async move {
            s.award_perk(&rule, &ev, 200).await.unwrap()
        }));
    }
    let (mut awarded, mut duplicate, mut refused) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            AwardOutcome::Awarded(_) => awarded += 1,
            AwardOutcome::Duplicate => duplicate += 1,
            AwardOutcome::Refused(_) => refused += 1,
        }
    }
    // Each paid event's second try is a duplicate; every try of the others is refused.
    assert_eq!((awarded, duplicate, refused), (3, 3, 18));
    let spend = s.perk_spend(0).await.unwrap();
    assert_eq!((spend.total_awards, spend.total_cents), (3, 900));
    assert_eq!(spend.by_rule.len(), 1);
    assert_eq!((spend.by_rule[0].awards, spend.by_rule[0].cents), (3, 900));
    let audit = s.perk_audit(100).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "awarded").count(), 3);
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "global_budget_exhausted")
            .count(),
        18,
        "every refusal is audited"
    );
}

/// Awards show on the profile, unwrap once, add to the credit balance; spend
/// is split by day; the per-profile cap refuses and audits.
async fn check_awards_reveal_and_spend<S: CatalogStore + PerksStore>(s: &S) {
    let admin = common::account_at(s, "admin@x.org", Role::Admin, Plan::Standard, 1).await;
    let v = common::account_at(s, "v@x.org", Role::Viewer, Plan::Standard, 1).await;
    let profile = s.profiles(v).await.unwrap()[0].id;
    let rule = s
        .create_perk_rule(&spec(100_000, 2), admin, 1)
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for i in 0..3 {
        let at = 10 * DAY_MS + i * DAY_MS;
        s.record_perk_event(&custom(v, &format!("k{i}"), at), at)
            .await
            .unwrap()
            .unwrap();
    }
    for ev in s.pending_perk_events(10).await.unwrap() {
        outcomes.push(s.award_perk(&rule, &ev, ev.occurred_at).await.unwrap());
        s.finish_perk_event(ev.id, ev.occurred_at).await.unwrap();
    }
    assert!(s.pending_perk_events(10).await.unwrap().is_empty());
    assert!(
        matches!(outcomes[2], AwardOutcome::Refused(_)),
        "{outcomes:?}"
    );
    let awards = s.profile_awards(profile, 10).await.unwrap();
    assert_eq!(awards.len(), 2);
    assert!(awards[0].created_at > awards[1].created_at);
    assert_eq!(s.credit_balance(v).await.unwrap(), 600);
    let r = s
        .reveal_award(profile, awards[0].id, 99 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(r.revealed_at, Some(99 * DAY_MS));
    let r = s
        .reveal_award(profile, awards[0].id, 100 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(r.revealed_at, Some(99 * DAY_MS));
    assert!(matches!(
        s.reveal_award(profile + 1000, awards[0].id, 1).await,
        Err(StoreError::NotFound { .. })
    ));
    let spend = s.perk_spend(11 * DAY_MS).await.unwrap();
    assert_eq!((spend.total_awards, spend.window_awards), (2, 1));
    assert_eq!((spend.total_cents, spend.window_cents), (600, 300));
    assert_eq!(spend.by_day.len(), 1);
    assert_eq!(spend.by_day[0].day, 11 * DAY_MS);
    let between = s
        .perk_events_between(11 * DAY_MS, 13 * DAY_MS, 10)
        .await
        .unwrap();
    assert_eq!(between.len(), 2);
    // A rule update is audited; an unknown rule is NotFound.
    let mut sp = rule.spec.clone();
    sp.enabled = false;
    assert!(
        !s.update_perk_rule(rule.id, &sp, admin, 5)
            .await
            .unwrap()
            .spec
            .enabled
    );
    assert!(matches!(
        s.update_perk_rule(rule.id + 99, &sp, admin, 5).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(!s.perk_rule(rule.id).await.unwrap().unwrap().spec.enabled);
}

/// Referral codes: a conversion once, no self-referral (same mailbox), an
/// unknown code recorded; the referrer gets one event.
async fn check_referrals<S: CatalogStore + PerksStore>(s: &S) {
    let a = common::account_at(s, "ann.lee@gmail.com", Role::Viewer, Plan::Standard, 1).await;
    let b = common::account_at(s, "bob@x.org", Role::Viewer, Plan::Standard, 2).await;
    let c = common::account_at(s, "annlee+2@gmail.com", Role::Viewer, Plan::Standard, 3).await;
    let on = s.set_sharing(a, true, "CODE-A", 5).await.unwrap();
    assert!(on.enabled);
    assert_eq!(on.referral_code.as_deref(), Some("CODE-A"));
    // The code is kept across opt-out and opt-in.
    s.set_sharing(a, false, "OTHER", 6).await.unwrap();
    let again = s.set_sharing(a, true, "OTHER", 7).await.unwrap();
    assert_eq!(again.referral_code.as_deref(), Some("CODE-A"));
    assert!(matches!(
        s.set_sharing(b, true, "CODE-A", 8).await,
        Err(StoreError::Conflict {
            field: "referral_code"
        })
    ));
    assert_eq!(
        s.attribute_referral(b, "CODE-A", 10).await.unwrap(),
        ReferralOutcome::Converted { referrer_id: a }
    );
    assert_eq!(
        s.attribute_referral(b, "CODE-A", 11).await.unwrap(),
        ReferralOutcome::AlreadyReferred
    );
    assert_eq!(
        s.attribute_referral(c, "CODE-A", 12).await.unwrap(),
        ReferralOutcome::SelfReferral
    );
    assert_eq!(
        s.attribute_referral(c, "NOPE", 13).await.unwrap(),
        ReferralOutcome::UnknownCode
    );
    assert_eq!(s.share_settings(a).await.unwrap().converted, 1);
    let events = s.pending_perk_events(10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, TriggerKind::ReferralConverted);
    assert_eq!((events[0].account_id, events[0].subject_id), (a, Some(b)));
    // Anniversaries are collected from the accounts once per year reached.
    let n = s.collect_perk_events(366 * DAY_MS).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(s.collect_perk_events(367 * DAY_MS).await.unwrap(), 0);
    let facts = s
        .perk_facts(
            a,
            s.profiles(a).await.unwrap()[0].id,
            400 * DAY_MS,
            &["Drama".into()],
        )
        .await
        .unwrap();
    assert_eq!((facts.titles_finished, facts.account_created_at), (0, 1));
    assert_eq!(facts.sentiment, None);
}

/// The audit trail is append-only: its rows can be neither changed nor deleted.
async fn check_audit_is_append_only<S: CatalogStore + PerksStore + Raw>(s: &S) {
    let admin = common::account_at(s, "admin@x.org", Role::Admin, Plan::Standard, 1).await;
    s.create_perk_rule(&spec(1000, 5), admin, 10).await.unwrap();
    assert_eq!(s.perk_audit(10).await.unwrap().len(), 1);
    assert!(s.try_exec("DELETE FROM perk_audit").await.is_err());
    assert!(s
        .try_exec("UPDATE perk_audit SET detail = 'x'")
        .await
        .is_err());
    assert_eq!(s.perk_audit(10).await.unwrap()[0].action, "rule_created");
}

both_backends!(
    check_audit_is_append_only,
    check_concurrent_awards_never_overspend_and_never_pay_twice,
    check_awards_reveal_and_spend,
    check_referrals,
);
