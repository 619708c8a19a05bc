//! The delivery queue in the store, on both backends: campaigns, the snapshot, leases, outcomes,
//! and several workers draining one campaign with every delivery claimed exactly once.

#[macro_use]
mod common;

use std::collections::HashSet;

use common::db::TestDb;
use newsletter::domain::{EmailAddress, SubscriberStatus};
use newsletter::store::{Source, Store, StoreError};

both_backends!(
    campaigns_refuse_changed_content_once_started,
    snapshot_once_and_claim_with_leases,
    concurrent_workers_share_a_campaign_exactly_once,
);

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
        .campaign_for_issue(522, "hash-a", "This Week in Rust 522")
        .await
        .unwrap();
    assert_eq!(c.state, "created");
    assert_eq!(
        store
            .campaign_for_issue(522, "hash-a", "x")
            .await
            .unwrap()
            .id,
        c.id
    );
    // Before sending starts, a corrected draft simply replaces the text.
    let c2 = store
        .campaign_for_issue(522, "hash-b", "This Week in Rust 522")
        .await
        .unwrap();
    assert_eq!((c2.id, c2.content_hash.as_str()), (c.id, "hash-b"));
    store.snapshot(c.id).await.unwrap();
    let err = store
        .campaign_for_issue(522, "hash-c", "x")
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
    let c = store.campaign_for_issue(1, "h", "s").await.unwrap();
    assert_eq!(
        store.snapshot(c.id).await.unwrap(),
        249,
        "active subscribers only"
    );
    assert_eq!(store.snapshot(c.id).await.unwrap(), 0, "nobody twice");

    let a = store.claim(c.id, "worker-a", 100, 60).await.unwrap();
    let b = store.claim(c.id, "worker-b", 100, -1).await.unwrap(); // a lease that is already over
    assert_eq!((a.len(), b.len()), (100, 100));
    let ids_a: HashSet<i64> = a.iter().map(|d| d.subscriber_id).collect();
    assert!(
        b.iter().all(|d| !ids_a.contains(&d.subscriber_id)),
        "claims are disjoint"
    );
    for d in &a {
        assert!(
            store
                .record(c.id, d.subscriber_id, "worker-a", "sent", None)
                .await
                .unwrap()
        );
    }
    // Worker b "died": its rows come back to the next claimer, with the attempt counted.
    let again = store.claim(c.id, "worker-c", 500, 60).await.unwrap();
    assert_eq!(again.len(), 149, "49 never claimed plus b's 100 expired");
    assert!(again.iter().filter(|d| d.attempts == 2).count() == 100);
    // b's late report is refused: it no longer holds the lease.
    assert!(
        !store
            .record(c.id, b[0].subscriber_id, "worker-b", "sent", None)
            .await
            .unwrap()
    );
    for d in &again {
        let state = if d.subscriber_id % 10 == 0 {
            "failed"
        } else {
            "sent"
        };
        store
            .record(
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
    assert!(store.finish_if_done(c.id).await.unwrap());
    assert!(store.claim(c.id, "late", 10, 60).await.unwrap().is_empty());
}

async fn concurrent_workers_share_a_campaign_exactly_once(db: TestDb) {
    let store = Store::connect(&db.url()).await.unwrap();
    seed(&store, 1000).await;
    let c = store.campaign_for_issue(2, "h", "s").await.unwrap();
    store.snapshot(c.id).await.unwrap();
    let mut workers = Vec::new();
    for w in 0..4 {
        // Each worker has its own connection pool, as separate processes would.
        let store = Store::connect(&db.url()).await.unwrap();
        let campaign = c.id;
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let batch = store.claim(campaign, &owner, 37, 60).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for d in batch {
                    assert!(
                        store
                            .record(campaign, d.subscriber_id, &owner, "sent", None)
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
