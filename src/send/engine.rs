//! The delivery engine: claims deliveries from the store, builds each recipient's message, hands it to
//! the transport and records the outcome.
//!
//! - Deliveries go by mailbox provider ([`super::shaping`]): each provider has a lane with its own
//!   connections, its own pace, and its own claims from the database, so a provider that throttles
//!   holds up nothing but its own rows. A throttling reply halves that lane's pace and puts the row
//!   back with a retry time, without counting an attempt; the pace grows back while it accepts.
//! - At most `concurrency` messages are with the transport at once (one semaphore over every lane;
//!   lettre's pool does not bound this by itself), and one token bucket (governor) bounds messages
//!   per second over all of them.
//! - Outcomes go to one recorder, which writes whatever has arrived in one transaction (group commit):
//!   at low load every outcome is written at once, at high load the database is not the bottleneck.
//! - Transient failures go back to the queue with a retry time (exponential backoff with jitter),
//!   kept in the database so it survives a crash; after `max_attempts` they are `deferred`.
//! - A 5xx for a recipient is `failed` and a bounce of its reply's class (hard only when the address
//!   is gone; about us or the message, policy: nobody suppressed), unless `fatal_streak` of them arrive in a
//!   row with no success between: then the relay is refusing us, the campaign stops, and those
//!   deliveries go back to the queue untouched.
//! - Refusals about us (block list, reputation, authentication, rate) feed the circuit breaker
//!   ([`super::breaker`]): past its threshold at one provider the campaign pauses itself with a
//!   sentence saying why, which `status` and the console show; nobody is suppressed, and the
//!   refusals still arriving go back to the queue untouched for `resume`.
//! - Stop means stop: claims happen only while the campaign is `sending`, and the engine looks at
//!   the campaign's state every [`WATCH`]; a pause or a cancel from any process (or the console)
//!   gives back every claimed row that has not reached the transport (waits for a pace, the rate
//!   limit or a connection end at once), and only messages already with the transport finish and are
//!   recorded.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use thiserror::Error;
use tokio::sync::{Mutex, Semaphore, mpsc, watch};
use tracing::Instrument;

use super::breaker::{Attempt, Breaker};
use super::shaping::{Pace, Shape, Shapes, is_throttling};
use crate::config::SendSettings;
use crate::domain::{CampaignState, ProviderName, SubscriberStatus, Verp, unix_now};
use crate::mail::{MailRecipient, MessageFactory};
use crate::store::{
    Campaign, Decide, Delivery, Outcome, ProviderPace, Recorded, Store, StoreError, StoredAddress,
    SyncBounce,
};
use crate::transport::{Failure, Transport};

/// Why a run stopped early.
#[derive(Debug, Error)]
pub enum SendError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Nothing can get through until an operator acts. No subscriber was marked.
    #[error("the campaign was stopped: {0}")]
    Fatal(String),
}

/// Live counts of one run (for the progress bar and the summary).
#[derive(Debug, Default)]
pub struct Counters {
    pub total: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub deferred: AtomicU64,
    pub skipped: AtomicU64,
    /// Outcomes refused because another worker had taken over the lease.
    pub lost: AtomicU64,
    /// Throttling replies (the row waits and goes again; no attempt counted).
    pub throttled: AtomicU64,
}

impl Counters {
    fn add(&self, field: &AtomicU64, n: u64) {
        field.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value of one counter.
    pub fn get(field: &AtomicU64) -> u64 {
        field.load(Ordering::Relaxed)
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunReport {
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub deferred: u64,
    pub skipped: u64,
    pub lost: u64,
    pub throttled: u64,
    /// Stopped by a shutdown request before the campaign was finished.
    pub interrupted: bool,
    /// The campaign has nothing left to send.
    pub finished: bool,
    /// The campaign's state when the run ended (`paused` or `cancelled` when an operator stopped it).
    pub state: CampaignState,
    /// The warm-up's cap for the day was reached: sending may go on from this UNIX time.
    pub capped_until: Option<i64>,
    /// The circuit breaker paused the campaign: why, in a sentence.
    pub breaker: Option<String>,
    pub seconds: f64,
}

/// The warm-up's budget for one run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Messages still allowed today (over every campaign) when the run started.
    pub remaining: u64,
    /// When the next day's cap applies.
    pub until: i64,
}

/// Everything needed to deliver one campaign.
pub struct Job {
    pub campaign: Campaign,
    pub factory: Arc<MessageFactory>,
    pub verp: Verp,
    /// Prefix of every unsubscribe URL; the token is appended.
    pub unsubscribe_base: String,
    pub transport: Arc<Transport>,
    /// Unique per process, e.g. `host:pid:random`; each claim adds a batch number.
    pub worker_id: String,
    /// Signs each message when DKIM is configured.
    pub dkim: Option<Arc<crate::dkim::Signer>>,
    /// The suppression policy, for recipients refused during the send (hard bounces).
    pub policy: Arc<dyn Decide>,
    /// Each provider's connections and pace.
    pub shapes: Arc<Shapes>,
    /// The warm-up's budget, when one applies.
    pub budget: Option<Budget>,
}

/// The run's stop signal: set once (an operator's pause or cancel seen in the database, a fatal
/// reply, the circuit breaker, a shutdown), it wakes every wait at once, so that no claimed row
/// waits out a pace or the rate limit before it is given back.
#[derive(Debug, Default)]
struct Halt {
    set: AtomicBool,
    wake: tokio::sync::Notify,
}

impl Halt {
    fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Returns when the halt is set (at once if it is already).
    async fn wait(&self) {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.is_set() {
                return;
            }
            woken.await;
        }
    }

    /// Runs `f` unless the halt comes first: `None` then.
    async fn unless<F: std::future::Future>(&self, f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.wait() => None,
            v = f => Some(v),
        }
    }
}

/// How often a running engine looks at its campaign's state: a pause or a cancel from another
/// process (or the console) stops the senders within this time.
const WATCH: Duration = Duration::from_millis(200);

/// The circuit breaker as the watcher shares it with the recorder, and where the watcher's reading
/// of the bounce log has got to.
struct Trips {
    breaker: Arc<std::sync::Mutex<Breaker>>,
    tripped: Arc<std::sync::Mutex<Option<String>>>,
    after: i64,
    /// The readers whose copy already counted once: one delivery is one refusal at most, so a
    /// reader who mails many forged "refused as spam" reports about their own copy (each proven
    /// by the same tagged Message-ID) weighs as one refusal, not a pause.
    counted: std::collections::HashSet<i64>,
}

/// A task that ends when its handle is dropped: the watcher must not outlive its run, also when the
/// run returns early with an error.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often the watcher reads the bounce log for refusals about us that came back by mail.
const BOUNCE_WATCH: u32 = 5;

/// Pauses the campaign for `trip` (unless an operator stopped it first), keeps the sentence for the
/// report, and stops the senders.
async fn pause_for_trip(
    store: &Store,
    campaign_id: i64,
    trip: &super::breaker::Trip,
    tripped: &std::sync::Mutex<Option<String>>,
    halt: &Halt,
) -> Result<(), StoreError> {
    let sentence = trip.to_string();
    tracing::warn!(provider = %trip.provider, "circuit breaker: {sentence}; pausing the campaign");
    if store.pause_for(campaign_id, &sentence).await? {
        *tripped.lock().expect("breaker lock") = Some(sentence);
    }
    halt.set();
    Ok(())
}

/// Feeds the breaker the refusals about us logged by bounce intake since the last look.
async fn read_bounces(
    store: &Store,
    campaign_id: i64,
    trips: &mut Trips,
    halt: &Halt,
) -> Result<(), StoreError> {
    let (found, last) = store.sender_bounces_after(campaign_id, trips.after).await?;
    trips.after = last;
    for b in found {
        if !trips.counted.insert(b.subscriber_id) {
            continue;
        }
        let provider = ProviderName::parse(&b.provider).unwrap_or_else(|_| ProviderName::other());
        let trip = {
            let mut breaker = trips.breaker.lock().expect("breaker lock");
            if breaker.tripped() {
                return Ok(());
            }
            breaker.record(
                &provider,
                Attempt::SenderRefused {
                    reason: b.reason,
                    reply: format!("bounce by mail: {}", one_line(&b.diagnostic)),
                },
            )
        };
        if let Some(trip) = trip {
            return pause_for_trip(store, campaign_id, &trip, &trips.tripped, halt).await;
        }
    }
    Ok(())
}

/// Sets `halt` as soon as the campaign is no longer `sending` (paused or cancelled by anyone), and
/// every [`BOUNCE_WATCH`] looks reads the bounce log for the breaker.
async fn watch_state(store: Store, campaign_id: i64, halt: Arc<Halt>, mut trips: Trips) {
    let mut looks = 0u32;
    loop {
        tokio::time::sleep(WATCH).await;
        looks += 1;
        if looks.is_multiple_of(BOUNCE_WATCH)
            && let Err(e) = read_bounces(&store, campaign_id, &mut trips, &halt).await
        {
            tracing::debug!("cannot read the bounce log: {e}");
        }
        match store.campaign_state(campaign_id).await {
            Ok(Some(CampaignState::Sending)) => {}
            Ok(_) => {
                tracing::info!(
                    "the campaign is no longer sending; giving back what is not yet sent"
                );
                halt.set();
                return;
            }
            // A database hiccup: the claims and the recorder report it; keep watching.
            Err(e) => tracing::debug!("cannot read the campaign's state: {e}"),
        }
    }
}

/// One provider's lane: its queue of claimed rows, its senders' pace, and how many of its rows are
/// claimed and not yet sent.
struct Lane {
    provider: ProviderName,
    shape: Shape,
    held: AtomicU64,
    pace: std::sync::Mutex<Pace>,
}

impl Lane {
    /// How many rows this lane should hold: 16 per connection, or about two seconds' worth at its
    /// pace, so a slow provider's rows wait in the database, not in memory under a lease.
    fn capacity(&self, batch: i64) -> u64 {
        let rate = self.pace.lock().expect("pace lock").rate();
        let per_connection = (self.shape.connections * ROWS_PER_CONNECTION) as u64;
        let cap = match rate {
            None => per_connection,
            Some(r) => ((r * 2.0).ceil() as u64).min(per_connection),
        };
        cap.clamp(1, batch.max(1) as u64)
    }

    fn pace(&self) -> ProviderPace {
        let pace = self.pace.lock().expect("pace lock");
        ProviderPace {
            provider: self.provider.clone(),
            rate: pace.rate(),
            throttled: pace.throttled as i64,
        }
    }
}

/// Delivers everything claimable in the campaign until it is done, `stop` turns true, or a fatal
/// error. Returns what this run did.
pub async fn deliver(
    store: &Store,
    job: Arc<Job>,
    settings: &SendSettings,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Result<RunReport, SendError> {
    let started = Instant::now();
    let campaign_id = job.campaign.id;
    let span = tracing::info_span!("campaign", campaign_id, issue = job.campaign.issue_number);
    async move {
        let concurrency = settings.concurrency.max(1);
        let limiter = rate_limiter(settings);
        let slots = Arc::new(Semaphore::new(concurrency));
        let batch = claim_size(settings);
        let in_flight = Arc::new(AtomicU64::new(0));
        let drained = Arc::new(tokio::sync::Notify::new());
        let (done_tx, done_rx) = mpsc::channel::<(Recorded, ProviderName)>(concurrency * 4 + batch as usize);
        let fatal: Arc<std::sync::Mutex<Option<String>>> = Default::default();
        let halt = Arc::new(Halt::default());
        let tripped: Arc<std::sync::Mutex<Option<String>>> = Default::default();
        let breaker = Arc::new(std::sync::Mutex::new(Breaker::new(settings.breaker.clone())));
        // Bounces logged from now on (by mail, while this run goes) count toward the breaker too.
        let watcher = AbortOnDrop(tokio::spawn(
            watch_state(
                store.clone(),
                campaign_id,
                halt.clone(),
                Trips {
                    breaker: breaker.clone(),
                    tripped: tripped.clone(),
                    after: store.last_bounce_id().await?,
                    counted: Default::default(),
                },
            )
            .in_current_span(),
        ));

        let recorder = tokio::spawn(
            record_outcomes(
                store.clone(),
                job.policy.clone(),
                campaign_id,
                done_rx,
                counters.clone(),
                in_flight.clone(),
                settings.fatal_streak.max(1),
                fatal.clone(),
                halt.clone(),
                drained.clone(),
                breaker.clone(),
                tripped.clone(),
            )
            .in_current_span(),
        );
        let mut lanes: Vec<Arc<Lane>> = Vec::new();
        // Only the claim loop holds the lanes' queues, so that dropping them lets the senders end.
        let mut queues = Vec::new();
        let mut senders = Vec::new();
        for provider in store.pending_providers(campaign_id).await? {
            let shape = job.shapes.shape(&provider);
            // Rows wait in the lane for a free sender; its capacity keeps the wait short.
            let (tx, rx) = mpsc::channel::<(Delivery, Instant)>(batch.max(1) as usize);
            let lane = Arc::new(Lane {
                pace: std::sync::Mutex::new(Pace::new(shape.rate)),
                provider,
                shape,
                held: AtomicU64::new(0),
            });
            queues.push(tx);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..lane.shape.connections.max(1) {
                senders.push(tokio::spawn(
                    send_loop(Sender {
                        job: job.clone(),
                        lane: lane.clone(),
                        work: rx.clone(),
                        done: done_tx.clone(),
                        limiter: limiter.clone(),
                        slots: slots.clone(),
                        halt: halt.clone(),
                        settings: settings.clone(),
                        fatal: fatal.clone(),
                        counters: counters.clone(),
                    })
                    .in_current_span(),
                ));
            }
            lanes.push(lane);
        }
        drop(done_tx);

        let mut claim_no = 0u64;
        let mut interrupted = false;
        let mut capped_until = None;
        let mut idle_until: Vec<Instant> = vec![Instant::now(); lanes.len()];
        let mut saved: Vec<ProviderPace> = Vec::new();
        let mut last_save = Instant::now();
        let result: Result<(), SendError> = async {
            loop {
                if *stop.borrow() {
                    interrupted = true;
                    break;
                }
                if halt.is_set() {
                    break;
                }
                if last_save.elapsed() >= Duration::from_secs(1) {
                    save_paces(store, campaign_id, &lanes, &mut saved).await?;
                    last_save = Instant::now();
                }
                // The warm-up: what may still be claimed today.
                let mut budget = job.budget.map(|b| {
                    b.remaining
                        .saturating_sub(Counters::get(&counters.sent))
                        .saturating_sub(in_flight.load(Ordering::SeqCst))
                });
                let mut claimed_any = false;
                let mut wanted = false;
                let now = Instant::now();
                for (i, lane) in lanes.iter().enumerate() {
                    let capacity = lane.capacity(batch);
                    let held = lane.held.load(Ordering::SeqCst);
                    // Claim when the lane runs low, so claimed rows never wait long.
                    if held > capacity / 2 || now < idle_until[i] {
                        continue;
                    }
                    let mut want = (capacity - held) as i64;
                    if let Some(b) = budget {
                        want = want.min(b as i64);
                    }
                    if want <= 0 {
                        continue;
                    }
                    wanted = true;
                    claim_no += 1;
                    let owner = format!("{}:{claim_no}", job.worker_id);
                    let claimed = store
                        .claim(campaign_id, &lane.provider, &owner, want, settings.lease_secs)
                        .await?;
                    if claimed.is_empty() {
                        // Nothing of this provider is due: look again a little later.
                        idle_until[i] = now + Duration::from_millis(250);
                        continue;
                    }
                    claimed_any = true;
                    let n = claimed.len() as u64;
                    if let Some(b) = budget.as_mut() {
                        *b = b.saturating_sub(n);
                    }
                    lane.held.fetch_add(n, Ordering::SeqCst);
                    in_flight.fetch_add(n, Ordering::SeqCst);
                    let at = Instant::now();
                    for d in claimed {
                        if queues[i].send((d, at)).await.is_err() {
                            break;
                        }
                    }
                }
                if claimed_any {
                    continue;
                }
                let busy = in_flight.load(Ordering::SeqCst) > 0;
                if budget == Some(0) && !busy {
                    // The day's cap is reached and everything claimed is recorded.
                    capped_until = job.budget.map(|b| b.until);
                    break;
                }
                let wait = if busy || (wanted && idle_until.iter().any(|t| *t > now)) {
                    // Our own messages may come back for a retry; lanes that were idle may have
                    // rows due soon.
                    Duration::from_millis(50)
                } else {
                    match store.next_wake(campaign_id).await? {
                        None => break,
                        Some(at) => {
                            let secs = (at - unix_now()).clamp(0, 3600) as u64;
                            if secs > 2 {
                                tracing::info!(
                                    "waiting {secs} s for retries or for deliveries leased by an earlier run"
                                );
                            }
                            // Re-check often: another worker may finish its rows early.
                            Duration::from_millis(secs.min(5) * 1000 + 100)
                        }
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = drained.notified() => {}
                    _ = stop.changed() => {}
                    _ = halt.wait() => {}
                }
            }
            Ok(())
        }
        .await;
        // No more claims: let the senders drain what was claimed (they release it untouched when
        // stopping), then the recorder writes the last outcomes.
        if interrupted || result.is_err() {
            halt.set();
        }
        drop(watcher);
        drop(queues);
        for s in senders {
            let _ = s.await;
        }
        let recorded = recorder.await.unwrap_or_else(|e| {
            Err(StoreError::Corrupt(format!("outcome recorder panicked: {e}")))
        });
        result?;
        recorded?;
        save_paces(store, campaign_id, &lanes, &mut saved).await?;
        if let Some(reason) = fatal.lock().expect("fatal lock").take() {
            return Err(SendError::Fatal(reason));
        }
        let state = store.finish_if_done(campaign_id).await?;
        Ok(RunReport {
            sent: Counters::get(&counters.sent),
            failed: Counters::get(&counters.failed),
            retried: Counters::get(&counters.retried),
            deferred: Counters::get(&counters.deferred),
            skipped: Counters::get(&counters.skipped),
            lost: Counters::get(&counters.lost),
            throttled: Counters::get(&counters.throttled),
            interrupted,
            finished: state == CampaignState::Done,
            state,
            capped_until: capped_until.filter(|_| state != CampaignState::Done),
            breaker: tripped
                .lock()
                .expect("breaker lock")
                .take()
                .filter(|_| state == CampaignState::Paused),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
    .instrument(span)
    .await
}

/// Records each lane's pace when it changed since the last time.
async fn save_paces(
    store: &Store,
    campaign_id: i64,
    lanes: &[Arc<Lane>],
    saved: &mut Vec<ProviderPace>,
) -> Result<(), StoreError> {
    let now: Vec<ProviderPace> = lanes.iter().map(|l| l.pace()).collect();
    let changed: Vec<ProviderPace> = now
        .iter()
        .filter(|p| !saved.contains(p) && (p.rate.is_some() || p.throttled > 0))
        .cloned()
        .collect();
    if !changed.is_empty() {
        store.save_paces(campaign_id, &changed).await?;
    }
    *saved = now;
    Ok(())
}

/// Rows claimed and held per SMTP connection, at most: fewer, larger claims, since each is a
/// transaction, which on PostgreSQL costs more than its rows.
const ROWS_PER_CONNECTION: usize = 16;

/// Deliveries claimed at a time: the configured batch, but no more than [`ROWS_PER_CONNECTION`]
/// per connection, and no more than can be sent at the configured rate in a quarter of the lease.
fn claim_size(settings: &SendSettings) -> i64 {
    let per_connection = (settings.concurrency.max(1) * ROWS_PER_CONNECTION) as i64;
    let mut batch = settings.batch.clamp(1, per_connection.max(16));
    if settings.rate > 0.0 {
        let per_lease = (settings.rate * settings.lease_secs as f64 / 4.0) as i64;
        batch = batch.min(per_lease.max(1));
    }
    batch
}

fn rate_limiter(settings: &SendSettings) -> Option<Arc<DefaultDirectRateLimiter>> {
    if settings.rate <= 0.0 {
        return None;
    }
    let period = Duration::from_secs_f64(1.0 / settings.rate);
    let quota = Quota::with_period(period)?
        .allow_burst(NonZeroU32::new(settings.burst.max(1)).expect("burst is at least 1"));
    Some(Arc::new(RateLimiter::direct(quota)))
}

/// One sender of a lane: what it shares with the others.
struct Sender {
    job: Arc<Job>,
    lane: Arc<Lane>,
    work: Arc<Mutex<mpsc::Receiver<(Delivery, Instant)>>>,
    done: mpsc::Sender<(Recorded, ProviderName)>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    slots: Arc<Semaphore>,
    halt: Arc<Halt>,
    settings: SendSettings,
    fatal: Arc<std::sync::Mutex<Option<String>>>,
    counters: Arc<Counters>,
}

async fn send_loop(s: Sender) {
    let lease = Duration::from_secs(s.settings.lease_secs.max(1) as u64);
    let mut buf = Vec::new();
    loop {
        let next = s.work.lock().await.recv().await;
        let Some((d, claimed_at)) = next else { return };
        // The provider's pace: wait for this lane's next slot (other lanes go on meanwhile). A
        // halt ends the wait: the row goes back at once.
        if !s.halt.is_set() {
            let wait = s
                .lane
                .pace
                .lock()
                .expect("pace lock")
                .reserve(Instant::now());
            if !wait.is_zero() {
                s.halt.unless(tokio::time::sleep(wait)).await;
            }
        }
        let slot = s.halt.unless(s.slots.acquire()).await.and_then(Result::ok);
        // A row that waited past half its lease may be claimed by another worker before this one
        // finishes sending it: give it back rather than risk a duplicate.
        let outcome = if slot.is_none() || s.halt.is_set() || claimed_at.elapsed() > lease / 2 {
            Outcome::Released
        } else {
            let span = tracing::debug_span!(
                "delivery",
                subscriber_id = d.subscriber_id,
                attempt = d.attempts
            );
            let outcome = attempt(&s, &d, &mut buf).instrument(span).await;
            if let Err(reason) = &outcome {
                // Stop everyone at once; this message goes back to the queue.
                let mut f = s.fatal.lock().expect("fatal lock");
                f.get_or_insert_with(|| reason.clone());
                s.halt.set();
            }
            outcome.unwrap_or(Outcome::Released)
        };
        drop(slot);
        s.lane.held.fetch_sub(1, Ordering::SeqCst);
        let rec = Recorded {
            subscriber_id: d.subscriber_id,
            owner: d.owner,
            outcome,
        };
        if s.done.send((rec, s.lane.provider.clone())).await.is_err() {
            return;
        }
    }
}

/// Sends one delivery. `Err` is a campaign-fatal reason.
async fn attempt(s: &Sender, d: &Delivery, buf: &mut Vec<u8>) -> Result<Outcome, String> {
    let (job, settings) = (&s.job, &s.settings);
    // The subscriber may have left since the snapshot.
    let (Some(token), Some(status)) = (&d.token, &d.status) else {
        return Ok(Outcome::Skipped {
            reason: "subscriber erased after the snapshot".into(),
        });
    };
    if *status != SubscriberStatus::Active {
        return Ok(Outcome::Skipped {
            reason: format!("subscriber {status} after the snapshot"),
        });
    }
    let email = match &d.email {
        StoredAddress::Valid(e) => e,
        StoredAddress::Invalid { error, .. } => {
            return Ok(Outcome::Failed {
                error: format!("stored address is not valid: {error}"),
                bounce: None,
            });
        }
    };
    let unsubscribe_url = format!("{}{}", job.unsubscribe_base, token.expose());
    buf.clear();
    job.factory.write(
        &MailRecipient {
            email,
            subscriber_id: d.subscriber_id,
            unsubscribe_url: &unsubscribe_url,
            unsubscribe_token: token,
        },
        unix_now(),
        buf,
    );
    if let Some(signer) = &job.dkim {
        signer.sign(buf, unix_now());
    }
    if let Some(l) = &s.limiter
        && s.halt.unless(l.until_ready()).await.is_none()
    {
        return Ok(Outcome::Released);
    }
    // The last moment before the transport: a pause or cancel seen by now keeps this message.
    if s.halt.is_set() {
        return Ok(Outcome::Released);
    }
    let from = job.verp.address(job.campaign.id, d.subscriber_id);
    let name = format!("{}-s{}", job.campaign.issue_number, d.subscriber_id);
    match job.transport.deliver(&from, email, &name, buf).await {
        Ok(provider_id) => {
            s.lane
                .pace
                .lock()
                .expect("pace lock")
                .accepted(Instant::now());
            Ok(match provider_id {
                Some(provider_message_id) => Outcome::SentAs {
                    provider_message_id,
                },
                None => Outcome::Sent,
            })
        }
        Err(Failure::Fatal(reason)) => Err(reason),
        // Failed for this relay, but not the recipient's fault: no bounce, the campaign goes on.
        Err(Failure::Unsendable(reason)) => Ok(Outcome::Failed {
            error: one_line(&reason),
            bounce: None,
        }),
        Err(Failure::Recipient { status, message }) => {
            // Hard only when the reply says the address is gone: "sender address rejected", a
            // block list or a rate limit is about us, and suppresses nobody.
            let reason = crate::bounce::classify::reply_reason(&message, false);
            tracing::info!(%status, %reason, "recipient refused");
            Ok(Outcome::Failed {
                error: one_line(&message),
                bounce: Some(SyncBounce {
                    status,
                    diagnostic: message.split_whitespace().collect::<Vec<_>>().join(" "),
                    class: match reason.class() {
                        // A 5xx is a failure whatever its words: never "nothing happened".
                        crate::domain::BounceClass::None
                        | crate::domain::BounceClass::Complaint => crate::domain::BounceClass::Soft,
                        c => c,
                    },
                    reason,
                }),
            })
        }
        Err(Failure::Transient(reason)) if is_throttling(&reason) => {
            let rate = s
                .lane
                .pace
                .lock()
                .expect("pace lock")
                .throttled(Instant::now());
            s.counters.add(&s.counters.throttled, 1);
            tracing::info!(provider = %s.lane.provider, rate, "provider throttled; slowing down");
            // Back to the database until the lane's queue at its new pace has gone.
            let held = s.lane.held.load(Ordering::SeqCst) as f64;
            let wait = ((held + 1.0) / rate).ceil().clamp(1.0, 60.0) as i64;
            Ok(Outcome::Throttled {
                not_before: unix_now() + wait,
                error: one_line(&reason),
            })
        }
        Err(Failure::Transient(reason)) => {
            let error = one_line(&reason);
            if d.attempts >= settings.max_attempts {
                Ok(Outcome::Deferred { error })
            } else {
                Ok(Outcome::Retry {
                    not_before: unix_now() + backoff(settings, d.attempts, d.subscriber_id),
                    error,
                })
            }
        }
    }
}

/// Seconds before attempt `attempts + 1`: base × 2^(attempts−1), capped, plus up to half again of
/// jitter (spread by subscriber, so a burst of 4xx does not come back as a burst).
pub fn backoff(settings: &SendSettings, attempts: i64, salt: i64) -> i64 {
    let exp = (attempts - 1).clamp(0, 20) as u32;
    let base = settings.retry_base_secs.max(1);
    let delay = base
        .saturating_mul(1i64 << exp)
        .min(settings.retry_max_secs.max(base));
    let mut seed = [0u8; 8];
    let jitter = if getrandom::fill(&mut seed).is_ok() {
        u64::from_le_bytes(seed)
    } else {
        salt as u64
    };
    delay + (jitter % (delay as u64 / 2 + 1)) as i64
}

/// A reply on one line, with the recipient's address replaced by `<recipient>`, so that the same
/// failure reads the same for every recipient (`status` groups by it) and no address is repeated.
fn one_line(s: &str) -> String {
    let mut out: String = s
        .split_whitespace()
        .map(|w| {
            if w.contains('@') {
                let end = w.trim_end_matches([':', ',', ';', '.']);
                format!("<recipient>{}", &w[end.len()..])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.len() > 500 {
        let mut cut = 500;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// How long the recorder waits for more outcomes before it writes a small batch, and how many make
/// a batch worth writing at once.
const GATHER: Duration = Duration::from_millis(10);
const GATHER_ROWS: usize = 500;

#[allow(clippy::too_many_arguments)]
async fn record_outcomes(
    store: Store,
    policy: Arc<dyn Decide>,
    campaign_id: i64,
    mut done: mpsc::Receiver<(Recorded, ProviderName)>,
    counters: Arc<Counters>,
    in_flight: Arc<AtomicU64>,
    fatal_streak: usize,
    fatal: Arc<std::sync::Mutex<Option<String>>>,
    halt: Arc<Halt>,
    drained: Arc<tokio::sync::Notify>,
    breaker: Arc<std::sync::Mutex<Breaker>>,
    tripped: Arc<std::sync::Mutex<Option<String>>>,
) -> Result<(), StoreError> {
    // Permanent refusals in a row are held back until a success shows the relay is fine.
    let mut streak: Vec<Recorded> = Vec::new();
    let mut batch: Vec<(Recorded, ProviderName)> = Vec::new();
    let mut open = true;
    while open {
        match done.recv().await {
            Some(r) => batch.push(r),
            None => open = false,
        }
        while batch.len() < 1000 {
            match done.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // A short wait for more: written as they come, outcomes went out ~2 per transaction, and
        // on PostgreSQL each commit's WAL flush and round trips cost more than the rows (100,000
        // messages made 58,670 commits). A few milliseconds later is nothing to a send, and the
        // rows stay leased to us meanwhile.
        if open && batch.len() < GATHER_ROWS {
            let until = tokio::time::Instant::now() + GATHER;
            while batch.len() < GATHER_ROWS {
                match tokio::time::timeout_at(until, done.recv()).await {
                    Ok(Some(r)) => batch.push(r),
                    Ok(None) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        let mut write = Vec::with_capacity(batch.len() + streak.len());
        let mut stopped = fatal.lock().expect("fatal lock").is_some()
            || breaker.lock().expect("breaker lock").tripped();
        if stopped {
            // Tripped meanwhile (by bounces read from the log): what is held back goes back too.
            release(&mut streak, &mut write);
        }
        for (mut r, provider) in batch.drain(..) {
            let trip = match breaker_attempt(&r.outcome) {
                Some(attempt) if !stopped => breaker
                    .lock()
                    .expect("breaker lock")
                    .record(&provider, attempt),
                _ => None,
            };
            if let Some(trip) = trip {
                pause_for_trip(&store, campaign_id, &trip, &tripped, &halt).await?;
                // What is held back and what still arrives says nothing about its recipients: it
                // goes back to the queue untouched, for `resume`.
                stopped = true;
                release(&mut streak, &mut write);
            }
            if stopped
                && matches!(
                    r.outcome,
                    Outcome::Failed {
                        bounce: Some(_),
                        ..
                    }
                )
            {
                // After a fatal stop, refusals still arriving say nothing about their recipients.
                r.outcome = Outcome::Released;
            }
            match &r.outcome {
                Outcome::Failed {
                    bounce: Some(_), ..
                } => {
                    let last_error = match &r.outcome {
                        Outcome::Failed { error, .. } => error.clone(),
                        _ => String::new(),
                    };
                    streak.push(r);
                    if streak.len() >= fatal_streak {
                        let reason = format!(
                            "{} recipients in a row were refused permanently (last: {}); the relay is \
                             refusing this sender or this message, not the recipients. None of them \
                             was marked as bounced. Check the relay's logs, then run the same command again",
                            streak.len(),
                            last_error
                        );
                        fatal.lock().expect("fatal lock").get_or_insert(reason);
                        halt.set();
                        // The rest of this batch, too, says nothing about its recipients.
                        stopped = true;
                        release(&mut streak, &mut write);
                    }
                    continue;
                }
                Outcome::Sent | Outcome::SentAs { .. } => write.append(&mut streak),
                _ => {}
            }
            write.push(r);
        }
        // When nothing else is in flight, no success can come to clear a short streak: it is what it
        // looks like, refusals of those recipients.
        let others = in_flight
            .load(Ordering::SeqCst)
            .saturating_sub((write.len() + streak.len()) as u64);
        if !open || others == 0 {
            write.append(&mut streak);
        }
        if write.is_empty() {
            continue;
        }
        let lost = store.record_many(campaign_id, &write, &*policy).await?;
        counters.add(&counters.lost, lost as u64);
        if lost > 0 {
            tracing::warn!(
                lost,
                "outcomes not recorded: their lease had expired and another worker took them over"
            );
        }
        for r in &write {
            let field = match &r.outcome {
                Outcome::Sent | Outcome::SentAs { .. } => &counters.sent,
                Outcome::Retry { .. } => &counters.retried,
                Outcome::Deferred { .. } => &counters.deferred,
                Outcome::Failed { .. } => &counters.failed,
                Outcome::Skipped { .. } => &counters.skipped,
                Outcome::Released | Outcome::Throttled { .. } => continue,
            };
            counters.add(field, 1);
        }
        in_flight.fetch_sub(write.len() as u64, Ordering::SeqCst);
        drained.notify_one();
    }
    Ok(())
}

/// Moves the held-back refusals to `write` as released: after a stop they say nothing about their
/// recipients, and go back to the queue untouched.
fn release(streak: &mut Vec<Recorded>, write: &mut Vec<Recorded>) {
    write.extend(streak.drain(..).map(|mut s| {
        s.outcome = Outcome::Released;
        s
    }));
}

/// What an outcome tells the circuit breaker: `None` when it was no attempt at the provider.
fn breaker_attempt(outcome: &Outcome) -> Option<Attempt> {
    match outcome {
        Outcome::Sent | Outcome::SentAs { .. } => Some(Attempt::Accepted),
        Outcome::Failed {
            bounce: Some(b),
            error,
        } if b.reason.is_sender_side() => Some(Attempt::SenderRefused {
            reason: b.reason,
            reply: error.clone(),
        }),
        Outcome::Failed { .. } | Outcome::Retry { .. } | Outcome::Deferred { .. } => {
            Some(Attempt::Other)
        }
        Outcome::Skipped { .. } | Outcome::Released | Outcome::Throttled { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let mut s = Config::defaults().send;
        s.retry_base_secs = 10;
        s.retry_max_secs = 60;
        for (attempts, base) in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)] {
            for _ in 0..50 {
                let d = backoff(&s, attempts, 7);
                assert!(
                    (base..=base + base / 2).contains(&d),
                    "attempt {attempts}: {d}"
                );
            }
        }
    }

    #[test]
    fn errors_read_the_same_for_every_recipient() {
        assert_eq!(
            one_line(
                "permanent error (550): 5.1.1 <bad3@example.org>: Recipient\r\n address rejected"
            ),
            "permanent error (550): 5.1.1 <recipient>: Recipient address rejected"
        );
    }

    #[test]
    fn claims_fit_the_lease_at_slow_rates() {
        let mut s = Config::defaults().send;
        s.batch = 500;
        s.rate = 0.0;
        s.concurrency = 200;
        assert_eq!(claim_size(&s), 500);
        s.concurrency = 8;
        assert_eq!(claim_size(&s), 128, "16 per connection");
        s.concurrency = 2;
        assert_eq!(claim_size(&s), 32);
        s.concurrency = 200;
        s.rate = 2.0;
        s.lease_secs = 120;
        assert_eq!(claim_size(&s), 60);
    }
}
