//! The delivery queue in the store, on both backends: campaigns, the snapshot, leases, outcomes,
//! and several workers draining one campaign with every delivery claimed exactly once.

use crate::common;

use std::collections::HashSet;

use common::db::TestDb;
use newsletter::bounce::BouncePolicy;
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::{Outcome, Recorded, Source, Store, StoreError, SyncBounce};

both_backends!(
    campaigns_refuse_changed_content_once_started,
    snapshot_once_and_claim_with_leases,
    concurrent_workers_share_a_campaign_exactly_once,
    outcomes_retry_release_skip_and_bounce,
);

/// Records one outcome the way the engine does, through `record_many`.
async fn record(
    store: &Store,
    campaign: i64,
    subscriber_id: i64,
    owner: &str,
    state: &str,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let error = error.unwrap_or("").to_string();
    let outcome = match state {
        "sent" => Outcome::Sent,
        "failed" => Outcome::Failed {
            error,
            bounce: None,
        },
        other => panic!("test helper: {other}"),
    };
    let lost = store
        .record_many(
            campaign,
            &[Recorded {
                subscriber_id,
                owner: owner.to_string(),
                outcome,
            }],
            &BouncePolicy::default(),
        )
        .await?;
    Ok(lost == 0)
}

async fn seed(store: &Store, n: usize) {
    let mut csv = String::from("email\n");
    for i in 0..n {
        csv.push_str(&format!("r{i}@example.org\n"));
    }
    let rows = csv
        .lines()
        .skip(1)
        .enumerate()
        .map(|(i, l)| newsletter::store::ImportRow {
            line: i as u64 + 2,
            email: EmailAddress::parse(l).map_err(|e| e.0),
            name: None,
        });
    let s = store
        .import(rows.collect::<Vec<_>>(), &Default::default())
        .await
        .unwrap();
    assert_eq!(s.added as usize, n);
}

async fn campaigns_refuse_changed_content_once_started(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    let c = store
        .campaign_for_issue(522, "hash-a", "This Week in Rust 522", "Title: x")
        .await
        .unwrap();
    assert_eq!(c.state, "created");
    assert_eq!(
        store
            .campaign_for_issue(522, "hash-a", "x", "Title: x")
            .await
            .unwrap()
            .id,
        c.id
    );
    // Before sending starts, a corrected draft simply replaces the text.
    let c2 = store
        .campaign_for_issue(522, "hash-b", "This Week in Rust 522", "Title: x")
        .await
        .unwrap();
    assert_eq!((c2.id, c2.content_hash.as_str()), (c.id, "hash-b"));
    store
        .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
        .await
        .unwrap();
    let err = store
        .campaign_for_issue(522, "hash-c", "x", "Title: x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ContentChanged { number: 522, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("changed since sending began"));
}

async fn snapshot_once_and_claim_with_leases(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    seed(&store, 250).await;
    store
        .set_status(
            &EmailAddress::parse("r7@example.org").unwrap(),
            SubscriberStatus::Unsubscribed,
            Source::Cli,
            "",
        )
        .await
        .unwrap();
    let c = store
        .campaign_for_issue(1, "h", "s", "Title: x")
        .await
        .unwrap();
    assert_eq!(
        store
            .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
            .await
            .unwrap(),
        249,
        "active subscribers only"
    );
    assert_eq!(
        store
            .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
            .await
            .unwrap(),
        0,
        "nobody twice"
    );

    let a = store
        .claim(
            c.id,
            &newsletter::domain::ProviderName::other(),
            "worker-a",
            100,
            60,
        )
        .await
        .unwrap();
    let b = store
        .claim(
            c.id,
            &newsletter::domain::ProviderName::other(),
            "worker-b",
            100,
            -1,
        )
        .await
        .unwrap(); // a lease that is already over
    assert_eq!((a.len(), b.len()), (100, 100));
    let ids_a: HashSet<i64> = a.iter().map(|d| d.subscriber_id).collect();
    assert!(
        b.iter().all(|d| !ids_a.contains(&d.subscriber_id)),
        "claims are disjoint"
    );
    for d in &a {
        assert!(
            record(&store, c.id, d.subscriber_id, "worker-a", "sent", None)
                .await
                .unwrap()
        );
    }
    // Worker b "died": its rows come back to the next claimer, with the attempt counted.
    let again = store
        .claim(
            c.id,
            &newsletter::domain::ProviderName::other(),
            "worker-c",
            500,
            60,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 149, "49 never claimed plus b's 100 expired");
    assert!(again.iter().filter(|d| d.attempts == 2).count() == 100);
    // b's late report is refused: it no longer holds the lease.
    assert!(
        !record(&store, c.id, b[0].subscriber_id, "worker-b", "sent", None)
            .await
            .unwrap()
    );
    for d in &again {
        let state = if d.subscriber_id % 10 == 0 {
            "failed"
        } else {
            "sent"
        };
        record(
            &store,
            c.id,
            d.subscriber_id,
            "worker-c",
            state,
            Some("550 5.1.1 test"),
        )
        .await
        .unwrap();
    }
    let counts = store.delivery_counts(c.id).await.unwrap();
    assert_eq!(counts.sent + counts.failed, 249);
    assert_eq!((counts.queued, counts.sending), (0, 0));
    assert_eq!(
        store.finish_if_done(c.id).await.unwrap(),
        newsletter::domain::CampaignState::Done
    );
    assert!(
        store
            .claim(
                c.id,
                &newsletter::domain::ProviderName::other(),
                "late",
                10,
                60
            )
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_workers_share_a_campaign_exactly_once(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    seed(&store, 1000).await;
    let c = store
        .campaign_for_issue(2, "h", "s", "Title: x")
        .await
        .unwrap();
    store
        .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
        .await
        .unwrap();
    let mut workers = Vec::new();
    for w in 0..4 {
        // Each worker has its own connection pool, as separate processes would.
        let store = Store::connect(&db.url()).await.unwrap();
        let campaign = c.id;
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim(
                        campaign,
                        &newsletter::domain::ProviderName::other(),
                        &owner,
                        37,
                        60,
                    )
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for d in batch {
                    assert!(
                        record(&store, campaign, d.subscriber_id, &owner, "sent", None)
                            .await
                            .unwrap()
                    );
                    mine.push(d.subscriber_id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 1000, "no delivery claimed twice");
    assert_eq!(distinct.len(), 1000, "no gaps");
    assert_eq!(store.delivery_counts(c.id).await.unwrap().sent, 1000);
}

async fn outcomes_retry_release_skip_and_bounce(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    seed(&store, 5).await;
    let c = store
        .campaign_for_issue(3, "h", "s", "Title: x")
        .await
        .unwrap();
    assert_eq!(
        store
            .snapshot(c.id, None, &newsletter::domain::ProviderMap::new(&[]))
            .await
            .unwrap(),
        5
    );
    // r2 leaves after the snapshot: the claim shows it, so the engine can skip it.
    store
        .set_status(
            &EmailAddress::parse("r2@example.org").unwrap(),
            SubscriberStatus::Unsubscribed,
            Source::Web,
            "",
        )
        .await
        .unwrap();
    let rows = store
        .claim(
            c.id,
            &newsletter::domain::ProviderName::other(),
            "w:1",
            10,
            60,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|d| d.owner == "w:1" && d.token.as_ref().is_some_and(|t| t.expose().len() == 32))
    );
    let by_email = |e: &str| rows.iter().find(|d| d.email == e).unwrap().subscriber_id;
    assert_eq!(
        rows.iter()
            .find(|d| d.email == "r2@example.org")
            .unwrap()
            .status,
        Some(SubscriberStatus::Unsubscribed)
    );
    let now = newsletter::domain::unix_now();
    let rec = |email: &str, outcome: Outcome| Recorded {
        subscriber_id: by_email(email),
        owner: "w:1".into(),
        outcome,
    };
    let lost = store
        .record_many(
            c.id,
            &[
                rec("r0@example.org", Outcome::Sent),
                rec(
                    "r1@example.org",
                    Outcome::Retry {
                        not_before: now + 3600,
                        error: "451 4.7.1 later".into(),
                    },
                ),
                rec(
                    "r2@example.org",
                    Outcome::Skipped {
                        reason: "unsubscribed".into(),
                    },
                ),
                rec(
                    "r3@example.org",
                    Outcome::Failed {
                        error: "550 5.1.1 unknown".into(),
                        bounce: Some(SyncBounce {
                            status: "5.1.1".into(),
                            diagnostic: "550 5.1.1 unknown".into(),
                            class: newsletter::domain::BounceClass::Hard,
                            reason: newsletter::domain::BounceReason::UserUnknown,
                        }),
                    },
                ),
                rec("r4@example.org", Outcome::Released),
            ],
            &BouncePolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(lost, 0);
    // The hard bounce suppressed r3, with its evidence in the history.
    let r3 = store
        .find_by_email(&EmailAddress::parse("r3@example.org").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r3.status, SubscriberStatus::Bounced);
    let history = store.history(r3.id).await.unwrap();
    assert!(
        history
            .last()
            .unwrap()
            .detail
            .as_deref()
            .unwrap()
            .contains("5.1.1"),
        "{history:?}"
    );
    // Only the released row is claimable now; its attempt was given back. r1 waits an hour.
    let again = store
        .claim(
            c.id,
            &newsletter::domain::ProviderName::other(),
            "w:2",
            10,
            60,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].email.as_str(), again[0].attempts),
        ("r4@example.org", 1)
    );
    let wake = store.next_wake(c.id).await.unwrap().unwrap();
    assert!(
        wake >= now + 60,
        "the lease of w:2 or r1's retry time: {wake}"
    );
    let counts = store.delivery_counts(c.id).await.unwrap();
    assert_eq!(
        (
            counts.sent,
            counts.queued,
            counts.skipped,
            counts.failed,
            counts.sending
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(
        store.failure_reasons(c.id, 5).await.unwrap(),
        vec![("550 5.1.1 unknown".to_string(), 1)]
    );
    // Erasure on request reaches the delivery row and the bounce evidence too.
    let r3_email = EmailAddress::parse("r3@example.org").unwrap();
    assert!(store.forget(&r3_email, Source::Cli).await.unwrap());
    let (_, kept) = store
        .find_delivery(Some(c.id), None, r3.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept, "");
    let log = store.bounces(0, None, 10).await.unwrap();
    assert_eq!(log.len(), 1, "the bounce stays, anonymous");
    assert!(
        log[0].email.is_none() && log[0].diagnostic.is_none(),
        "{log:?}"
    );
}
