//! Intake: where bounces, complaints and unsubscribe requests come from (a Maildir, an mbox file,
//! one message on standard input, an IMAP folder), what each message does to the list, and the
//! quarantine for what cannot be tied to anyone. Every message goes through [`Intake::handle`]; the
//! sources only differ in how they read a message and what they do with it afterwards.

mod imap;
mod maildir;
mod mbox;
mod quarantine;
mod stdin;

pub use mbox::split_mbox;
pub use quarantine::{ExplainedRecipient, Explanation, Quarantine};
pub use stdin::StdinOutcome;

use std::path::PathBuf;

use crate::bounce::BouncePolicy;
use crate::bounce::{self, Kind, Report};
use crate::config::Config;
use crate::domain::Verp;
use crate::domain::{BounceClass, SubscriberStatus, UnsubscribeToken};
use crate::store::{Applied, Source, Store, StoreError};

/// Why an intake run stopped.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The database failed (unreachable, read-only, full); what was not handled stays where it was,
    /// for the next run.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", unreadable(path, error))]
    Unreadable {
        path: PathBuf,
        error: crate::files::ReadError,
    },
    /// A Maildir run stopped part-way: what it had not finished is still in `new/`.
    #[error("{cause}\n{left}")]
    Interrupted {
        cause: Box<IntakeError>,
        /// Which messages were left in `new/`, in a sentence.
        left: String,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a Maildir (no new/ folder)", .0.display())]
    NotMaildir(PathBuf),
    #[error("{0}")]
    Imap(String),
}

fn unreadable(path: &std::path::Path, e: &crate::files::ReadError) -> String {
    if e.is_transient() {
        e.to_string()
    } else {
        format!("{e} ({} left where it is)", path.display())
    }
}

impl IntakeError {
    /// True when the database is unreachable: the MTA should keep the message and try again.
    pub fn is_outage(&self) -> bool {
        match self {
            IntakeError::Store(e) => e.is_outage(),
            IntakeError::Interrupted { cause, .. } => cause.is_outage(),
            _ => false,
        }
    }

    /// True when the run was given something it cannot work with at all (no Maildir there): a
    /// usage error, not a failure a retry could fix.
    pub fn is_usage(&self) -> bool {
        matches!(self, IntakeError::NotMaildir(_))
    }

    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| IntakeError::Io { what, path, source }
    }
}

/// Counts of one intake run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub handled: usize,
    pub suppressed: usize,
    pub counted: usize,
    pub ignored: usize,
    pub quarantined: usize,
    pub unsubscribed: usize,
    /// Files over `[bounces] max_message_bytes`, quarantined unread: (path, size).
    pub oversize: Vec<(PathBuf, u64)>,
    /// Entries left where they were, unread, and why (a symbolic link, not a regular file).
    pub left: Vec<(PathBuf, String)>,
    /// Campaigns that paused themselves because a complaint put them over the complaint limit:
    /// why, one sentence each.
    pub paused: Vec<String>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} message(s) handled: {} subscriber(s) suppressed, {} soft bounce(s) counted, {} not bounces, {} quarantined",
            self.handled, self.suppressed, self.counted, self.ignored, self.quarantined
        )?;
        if self.unsubscribed > 0 {
            write!(f, ", {} unsubscribed by mail", self.unsubscribed)?;
        }
        for why in &self.paused {
            write!(f, "; a campaign paused itself: {why}")?;
        }
        Ok(())
    }
}

/// What became of one message.
pub enum Fate {
    /// Understood (bounce applied, request honoured, or not a bounce at all).
    Done,
    /// A bounce we cannot tie to anyone, or could not parse: keep it for a person, with what was
    /// understood of it.
    Quarantine(Explanation),
}

/// Where one message stands after [`Intake::prepare`].
pub(crate) enum Step {
    Settled(Fate),
    /// A proven bounce, still to be logged.
    Write(Box<Held>),
}

/// A message whose proven bounce is still to be logged: the report, and the recipient and record
/// [`bounce::Plan::Record`] proved.
pub(crate) struct Held {
    report: Report,
    proven: Box<(bounce::Recipient, crate::store::BounceRecord)>,
}

impl Held {
    pub(crate) fn record(&self) -> &crate::store::BounceRecord {
        &self.proven.1
    }
}

/// Everything one intake run needs.
pub struct Intake<'a> {
    pub store: &'a Store,
    pub verp: Verp,
    /// Our own addresses (From, Reply-To): never a failed recipient.
    pub own: Vec<String>,
    /// `[mail] unsubscribe_local`.
    pub unsubscribe_local: String,
    pub policy: BouncePolicy,
    /// `[send.complaints]`: a complaint may pause the campaign it is about.
    pub complaints: crate::send::complaints::ComplaintWatch,
    pub quarantine: Quarantine,
    /// `[bounces] max_message_bytes`.
    pub max_bytes: u64,
}

/// Our own addresses (From, Reply-To) from config.
pub fn own_addresses(config: &Config) -> Vec<String> {
    [&config.mail.from, &config.mail.reply_to]
        .iter()
        .flat_map(|m| bounce::heuristic::addresses(m))
        .map(|(a, _)| a)
        .collect()
}

impl<'a> Intake<'a> {
    /// An intake for `store` as `config` sets it up; `quarantine` overrides `[bounces] quarantine`.
    pub async fn new(
        store: &'a Store,
        config: &Config,
        quarantine: Option<PathBuf>,
    ) -> Result<Intake<'a>, StoreError> {
        Ok(Intake {
            store,
            verp: Verp::new(&store.verp_key().await?, &config.mail.bounce_domain),
            own: own_addresses(config),
            unsubscribe_local: config.mail.unsubscribe_local.clone(),
            policy: BouncePolicy::from_config(&config.bounces),
            complaints: crate::send::complaints::ComplaintWatch::from_config(
                &config.send.complaints,
            ),
            quarantine: Quarantine::new(
                quarantine.unwrap_or_else(|| PathBuf::from(&config.bounces.quarantine)),
            ),
            max_bytes: config.bounces.max_message_bytes,
        })
    }

    pub(crate) fn context<'c>(&'c self, envelope_to: Option<&'c str>) -> bounce::Context<'c> {
        bounce::Context {
            verp: &self.verp,
            envelope_to,
            own: &self.own,
            unsubscribe_local: &self.unsubscribe_local,
        }
    }

    /// Reads one message and acts on it.
    pub(crate) async fn handle(
        &self,
        bytes: &[u8],
        envelope_to: Option<&str>,
        tally: &mut Tally,
    ) -> Result<Fate, StoreError> {
        let report = bounce::read(bytes, &self.context(envelope_to));
        self.act(report, tally).await
    }

    /// Acts on one report, however it came (a message read by [`handle`](Self::handle), or a
    /// provider's event from its webhook): what [`prepare`](Self::prepare) finds proven is
    /// logged, and then [`settle`](Self::settle)d.
    pub async fn act(&self, report: Report, tally: &mut Tally) -> Result<Fate, StoreError> {
        match self.prepare(report, tally).await? {
            Step::Settled(fate) => Ok(fate),
            Step::Write(held) => {
                let applied = self.store.record_bounce(held.record(), self.policy).await?;
                self.settle(*held, applied, tally).await
            }
        }
    }

    /// Everything one message does short of logging a proven bounce: an unsubscribe request is
    /// honoured, what is not a bounce is counted, what proves nothing is explained for the
    /// quarantine. A proven bounce comes back as [`Step::Write`], for the caller to log (alone,
    /// or with others in one transaction) and [`settle`](Self::settle).
    pub(crate) async fn prepare(
        &self,
        mut report: Report,
        tally: &mut Tally,
    ) -> Result<Step, StoreError> {
        tally.handled += 1;
        bounce::policy::tie_by_provider_id(self.store, &mut report).await?;
        match report.kind {
            Kind::AutoReply | Kind::NotABounce => {
                tally.ignored += 1;
                return Ok(Step::Settled(Fate::Done));
            }
            Kind::Unparsable => {
                return Ok(Step::Settled(Fate::Quarantine(Explanation::of(
                    "it cannot be read as an e-mail message",
                    &report,
                    &[],
                ))));
            }
            Kind::Unsubscribe => {
                return Ok(Step::Settled(match &report.unsubscribe {
                    Some(token) => self.unsubscribe(token, &report, tally).await?,
                    None => Fate::Quarantine(Explanation::of(
                        "an unsubscribe request without a valid token",
                        &report,
                        &[],
                    )),
                }));
            }
            _ => {}
        }
        let decisions = match bounce::policy::plan(self.store, &report).await? {
            bounce::Plan::Record(proven) => {
                return Ok(Step::Write(Box::new(Held { report, proven })));
            }
            other => other.decisions(None),
        };
        self.conclude(&report, &decisions, tally)
            .await
            .map(Step::Settled)
    }

    /// What became of a message once its bounce was logged (`applied` is what logging it did).
    pub(crate) async fn settle(
        &self,
        held: Held,
        applied: Applied,
        tally: &mut Tally,
    ) -> Result<Fate, StoreError> {
        if let Some(why) = self.complaints.after(self.store, held.record()).await? {
            tally.paused.push(why);
        }
        let decisions = bounce::Plan::Record(held.proven).decisions(Some(applied));
        self.conclude(&held.report, &decisions, tally).await
    }

    async fn conclude(
        &self,
        report: &Report,
        decisions: &[bounce::Decision],
        tally: &mut Tally,
    ) -> Result<Fate, StoreError> {
        if acted_on(report, decisions, tally) {
            return Ok(Fate::Done);
        }
        let proofs = bounce::proofs(self.store, report).await?;
        Ok(Fate::Quarantine(Explanation::of(
            "it proves nothing about any subscriber of ours",
            report,
            &proofs,
        )))
    }

    /// Unsubscribes whoever the token belongs to (idempotent; a token that matches nobody changes
    /// nothing and is quarantined). No reply is sent.
    async fn unsubscribe(
        &self,
        token: &UnsubscribeToken,
        report: &Report,
        tally: &mut Tally,
    ) -> Result<Fate, StoreError> {
        let Some(s) = self.store.find_by_token(token).await? else {
            tracing::warn!("an unsubscribe request by mail carries a token that matches nobody");
            return Ok(Fate::Quarantine(Explanation::of(
                "an unsubscribe request whose token matches nobody",
                report,
                &[],
            )));
        };
        if matches!(
            s.status,
            SubscriberStatus::Active | SubscriberStatus::Pending
        ) {
            let now = self
                .store
                .change_status(
                    &s,
                    SubscriberStatus::Unsubscribed,
                    Source::Mail,
                    "unsubscribe by mail (List-Unsubscribe mailto)",
                )
                .await?;
            if now.status == SubscriberStatus::Unsubscribed {
                tally.unsubscribed += 1;
            }
        }
        Ok(Fate::Done)
    }
}

/// Counts what the policy did; false for a report that changed or logged nothing for anyone (it is
/// quarantined), unless it only reports deliveries that succeeded.
fn acted_on(report: &Report, decisions: &[bounce::Decision], tally: &mut Tally) -> bool {
    let mut attributed = false;
    for d in decisions {
        match &d.applied {
            Applied::Suppressed { .. } => {
                tally.suppressed += 1;
                attributed = true;
            }
            Applied::Counted { .. } => {
                tally.counted += 1;
                attributed = true;
            }
            Applied::Logged { .. } => attributed = true,
            Applied::Unattributed | Applied::Unproven => {}
        }
    }
    let only_success = report
        .recipients
        .iter()
        .all(|r| r.class == BounceClass::None);
    attributed || (only_success && !report.recipients.is_empty())
}
