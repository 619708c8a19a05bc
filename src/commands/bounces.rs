//! `newsletter bounces …`: intake from a Maildir, an mbox file or standard input; `inspect` to
//! explain a message without changing anything; `list` for the log.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};

use super::subscribers::{open_store, runtime};
use crate::bounce::{self, Report};
use crate::cli::{BouncesCommand, StatusFormat};
use crate::config::Config;
use crate::domain::Date;
use crate::mail::Verp;
use crate::store::{Applied, BouncePolicy, Store, StoreError};

/// Postfix's "try again later" exit code (sysexits EX_TEMPFAIL).
const EX_TEMPFAIL: u8 = 75;

/// sysexits EX_DATAERR: the input is unacceptable. An MTA's pipe treats it as a permanent failure and
/// reports it (for a bounce, to the postmaster), so nothing is lost silently.
const EX_DATAERR: u8 = 65;

/// Our own addresses (From, Reply-To): never a failed recipient of a bounce.
fn own_addresses(config: &Config) -> Vec<String> {
    [&config.mail.from, &config.mail.reply_to]
        .iter()
        .flat_map(|m| bounce::text::addresses(m))
        .map(|(a, _)| a)
        .collect()
}

fn policy(config: &Config) -> BouncePolicy {
    BouncePolicy {
        soft_limit: config.bounces.soft_limit,
        soft_window_secs: config.bounces.soft_window_days * 86_400,
    }
}

/// Runs one `bounces` subcommand.
pub fn bounces(
    config: Option<&Path>,
    url: Option<&str>,
    cmd: &BouncesCommand,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let rt = runtime()?;
    match cmd {
        BouncesCommand::Inspect { files, format } => rt.block_on(async {
            // Inspect needs the VERP key to recognise our addresses and the deliveries to weigh
            // the proof, but writes nothing.
            let store = open_store(&config, url).await?;
            let verp = Verp::new(&store.verp_key().await?, &config.mail.bounce_domain);
            let own = own_addresses(&config);
            let ctx = bounce::Context {
                verp: &verp,
                envelope_to: None,
                own: &own,
                unsubscribe_local: &config.mail.unsubscribe_local,
            };
            let result = inspect(&store, &ctx, files, *format).await;
            store.close().await;
            result
        }),
        BouncesCommand::List { since, format } => rt.block_on(async {
            let store = open_store(&config, url).await?;
            let since = match since {
                Some(d) => {
                    Date::parse(d)
                        .map_err(|e| anyhow!("--since {d}: {e} (use YYYY-MM-DD)"))?
                        .to_unix_days()
                        * 86_400
                }
                None => 0,
            };
            let entries = store.bounces(since, None, 100_000).await?;
            store.close().await;
            match format {
                StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
                StatusFormat::Human => {
                    for e in &entries {
                        println!("{}", bounce_line(e, true));
                    }
                    println!("{} bounce(s)", entries.len());
                }
            }
            Ok(ExitCode::SUCCESS)
        }),
        BouncesCommand::Process {
            maildir,
            mbox,
            stdin,
            quarantine,
            recipient,
            imap,
        } => {
            let quarantine = quarantine
                .clone()
                .unwrap_or_else(|| PathBuf::from(&config.bounces.quarantine));
            let result = rt.block_on(async {
                let store = open_store(&config, url).await?;
                let verp = Verp::new(&store.verp_key().await?, &config.mail.bounce_domain);
                let intake = Intake {
                    store: &store,
                    verp,
                    own: own_addresses(&config),
                    unsubscribe_local: config.mail.unsubscribe_local.clone(),
                    policy: policy(&config),
                    quarantine,
                    max_bytes: config.bounces.max_message_bytes,
                };
                let r = if *imap {
                    intake.imap(&config.bounces.imap).await
                } else if let Some(dir) = maildir {
                    intake.maildir(dir).await
                } else if let Some(file) = mbox {
                    intake.mbox(file).await
                } else if *stdin {
                    intake.stdin(recipient.as_deref()).await
                } else {
                    bail!(
                        "say where the bounces are: --maildir DIR, --mbox FILE, --stdin or --imap"
                    )
                };
                store.close().await;
                r
            });
            match result {
                Ok(code) => Ok(code),
                Err(e) if is_outage(&e) => {
                    eprintln!("error: {e:#}");
                    eprintln!("the database is unavailable; nothing was lost, try again later");
                    Ok(ExitCode::from(EX_TEMPFAIL))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// One line of the bounce log, for `bounces list` (with the address) and `subscribers show`.
pub(crate) fn bounce_line(e: &crate::store::BounceEntry, with_email: bool) -> String {
    let email = if with_email {
        format!("{:<24} ", e.email.as_deref().unwrap_or("(unknown)"))
    } else {
        String::new()
    };
    format!(
        "{}  {:<9} {:<6} {email}{}  ({} via {}){}",
        crate::domain::rfc5322_date(e.received_at),
        e.kind,
        e.status.as_deref().unwrap_or("-"),
        e.diagnostic.as_deref().unwrap_or(""),
        e.source,
        e.attribution,
        e.campaign_id
            .map(|c| format!(", campaign {c}"))
            .unwrap_or_default()
    )
}

fn is_outage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_outage)
    })
}

async fn inspect(
    store: &Store,
    ctx: &bounce::Context<'_>,
    files: &[PathBuf],
    format: StatusFormat,
) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let report = bounce::read(&bytes, ctx);
        let proofs = bounce::proofs(store, &report).await?;
        all.push((f.clone(), report, proofs));
    }
    match format {
        StatusFormat::Json => {
            let v: Vec<_> = all
                .iter()
                .map(|(f, r, p)| serde_json::json!({"file": f, "report": r, "proof": p}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        StatusFormat::Human => {
            for (f, r, p) in &all {
                print_report(f, r, p);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(f: &Path, r: &Report, proofs: &[bounce::Proof]) {
    match &r.family {
        Some(family) => println!("{}: {} ({family})", f.display(), r.kind.as_str()),
        None => println!("{}: {}", f.display(), r.kind.as_str()),
    }
    if let Some(note) = &r.note {
        println!("  {note}");
    }
    if r.kind == bounce::Kind::Unsubscribe && r.unsubscribe.is_some() {
        println!("  a request to unsubscribe whoever the token in its address belongs to");
    }
    for (rc, proof) in r.recipients.iter().zip(proofs) {
        let proof = proof.explain();
        println!(
            "  {}  {}  status {}  attributed by {}{}  ({proof})",
            rc.email.as_deref().unwrap_or("(no address)"),
            rc.class.as_str(),
            rc.status.as_deref().unwrap_or("-"),
            rc.attribution.as_str(),
            rc.delivery
                .map(|d| format!(
                    " (subscriber {}, {})",
                    d.subscriber_id,
                    match (d.campaign_id, d.issue) {
                        (Some(c), _) => format!("campaign {c}"),
                        (None, Some(n)) => format!("issue {n}"),
                        _ => String::new(),
                    }
                ))
                .unwrap_or_default()
        );
        println!("    address from: {}", rc.found_in);
        println!("    class from:   {}", rc.evidence);
        if let Some(d) = &rc.diagnostic {
            println!("    {d}");
        }
    }
}

/// Counts of one intake run.
#[derive(Default)]
struct Tally {
    handled: usize,
    suppressed: usize,
    counted: usize,
    ignored: usize,
    quarantined: usize,
    unsubscribed: usize,
}

impl Tally {
    fn print(&self) {
        let by_mail = if self.unsubscribed > 0 {
            format!(", {} unsubscribed by mail", self.unsubscribed)
        } else {
            String::new()
        };
        println!(
            "{} message(s) handled: {} subscriber(s) suppressed, {} soft bounce(s) counted, {} not bounces, {} quarantined{by_mail}",
            self.handled, self.suppressed, self.counted, self.ignored, self.quarantined
        );
    }
}

struct Intake<'a> {
    store: &'a Store,
    verp: Verp,
    /// Our own addresses, never a failed recipient.
    own: Vec<String>,
    /// `[mail] unsubscribe_local`.
    unsubscribe_local: String,
    policy: BouncePolicy,
    quarantine: PathBuf,
    /// `[bounces] max_message_bytes`.
    max_bytes: u64,
}

/// What became of one message.
enum Fate {
    /// Understood (bounce applied, or not a bounce at all).
    Done,
    /// A bounce we cannot tie to anyone, or could not parse: keep it for a person.
    Quarantine,
}

impl Intake<'_> {
    async fn handle(
        &self,
        bytes: &[u8],
        envelope_to: Option<&str>,
        tally: &mut Tally,
    ) -> Result<Fate, StoreError> {
        let report = bounce::read(
            bytes,
            &bounce::Context {
                verp: &self.verp,
                envelope_to,
                own: &self.own,
                unsubscribe_local: &self.unsubscribe_local,
            },
        );
        tally.handled += 1;
        match report.kind {
            bounce::Kind::AutoReply | bounce::Kind::NotABounce => {
                tally.ignored += 1;
                return Ok(Fate::Done);
            }
            bounce::Kind::Unparsable => return Ok(Fate::Quarantine),
            bounce::Kind::Unsubscribe => {
                return match &report.unsubscribe {
                    Some(token) => self.unsubscribe(token, tally).await,
                    None => Ok(Fate::Quarantine),
                };
            }
            _ => {}
        }
        let decisions = bounce::apply(self.store, &report, self.policy).await?;
        let mut attributed = false;
        for d in &decisions {
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
            .all(|r| r.class == bounce::Class::None);
        if attributed || (only_success && !report.recipients.is_empty()) {
            Ok(Fate::Done)
        } else {
            Ok(Fate::Quarantine)
        }
    }

    /// Moves a file into the quarantine without reading it (copies it when the quarantine is on
    /// another file system).
    fn quarantine_file(&self, path: &Path, name: &str) -> anyhow::Result<()> {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(self.quarantine.join(sub)).with_context(|| {
                format!("cannot create the quarantine {}", self.quarantine.display())
            })?;
        }
        let target = self.quarantine.join("new").join(name);
        if std::fs::rename(path, &target).is_err() {
            let tmp = self.quarantine.join("tmp").join(name);
            std::fs::copy(path, &tmp)?;
            std::fs::rename(&tmp, &target)?;
            std::fs::remove_file(path)?;
        }
        Ok(())
    }

    /// Unsubscribes whoever the token belongs to (idempotent; a token that matches nobody changes
    /// nothing and is quarantined). No reply is sent.
    async fn unsubscribe(
        &self,
        token: &crate::domain::UnsubscribeToken,
        tally: &mut Tally,
    ) -> Result<Fate, StoreError> {
        let Some(s) = self.store.find_by_token(token).await? else {
            tracing::warn!("an unsubscribe request by mail carries a token that matches nobody");
            return Ok(Fate::Quarantine);
        };
        if matches!(
            s.status,
            crate::domain::SubscriberStatus::Active | crate::domain::SubscriberStatus::Pending
        ) {
            let now = self
                .store
                .change_status(
                    &s,
                    crate::domain::SubscriberStatus::Unsubscribed,
                    crate::store::Source::Mail,
                    "unsubscribe by mail (List-Unsubscribe mailto)",
                )
                .await?;
            if now.status == crate::domain::SubscriberStatus::Unsubscribed {
                tally.unsubscribed += 1;
            }
        }
        Ok(Fate::Done)
    }

    fn quarantine_bytes(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(self.quarantine.join(sub)).with_context(|| {
                format!("cannot create the quarantine {}", self.quarantine.display())
            })?;
        }
        let tmp = self.quarantine.join("tmp").join(name);
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, self.quarantine.join("new").join(name))?;
        Ok(())
    }

    async fn maildir(&self, dir: &Path) -> anyhow::Result<ExitCode> {
        let new = dir.join("new");
        let cur = dir.join("cur");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
            .with_context(|| format!("{} is not a Maildir (no new/ folder)", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        std::fs::create_dir_all(&cur)?;
        let mut tally = Tally::default();
        for path in names {
            let name = path
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > self.max_bytes {
                // Not read at all: moved to the quarantine as it is, for a person.
                let base = name.split(':').next().unwrap_or(&name).to_string();
                self.quarantine_file(&path, &base)?;
                eprintln!(
                    "note: {} is {size} bytes, over [bounces] max_message_bytes ({}); quarantined unread",
                    path.display(),
                    self.max_bytes
                );
                tally.handled += 1;
                tally.quarantined += 1;
                continue;
            }
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            // An outage stops here, leaving this message and the rest in new/ for the next run.
            let fate = self.handle(&bytes, None, &mut tally).await?;
            let base = name.split(':').next().unwrap_or(&name).to_string();
            match fate {
                Fate::Done => std::fs::rename(&path, cur.join(format!("{base}:2,S")))?,
                Fate::Quarantine => {
                    // Moved, not copied: written to the quarantine first, then removed here.
                    self.quarantine_bytes(&base, &bytes)?;
                    std::fs::remove_file(&path)?;
                    tally.quarantined += 1;
                }
            }
        }
        tally.print();
        Ok(ExitCode::SUCCESS)
    }

    async fn mbox(&self, file: &Path) -> anyhow::Result<ExitCode> {
        let data =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let mut tally = Tally::default();
        for (i, msg) in split_mbox(&data).into_iter().enumerate() {
            if let Fate::Quarantine = self.handle(&msg, None, &mut tally).await? {
                let stem = file
                    .file_name()
                    .map_or("mbox".into(), |s| s.to_string_lossy());
                self.quarantine_bytes(&format!("{stem}.{}.{i}", crate::domain::unix_now()), &msg)?;
                tally.quarantined += 1;
            }
        }
        tally.print();
        Ok(ExitCode::SUCCESS)
    }

    async fn stdin(&self, recipient: Option<&str>) -> anyhow::Result<ExitCode> {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(self.max_bytes + 1)
            .read_to_end(&mut bytes)
            .context("cannot read the message from standard input")?;
        if bytes.len() as u64 > self.max_bytes {
            eprintln!(
                "error: the message is over {} bytes ([bounces] max_message_bytes); refused whole, nothing stored",
                self.max_bytes
            );
            return Ok(ExitCode::from(EX_DATAERR));
        }
        let mut tally = Tally::default();
        if let Fate::Quarantine = self.handle(&bytes, recipient, &mut tally).await? {
            let mut r = [0u8; 6];
            let _ = getrandom::fill(&mut r);
            let name = format!(
                "{}.{}.stdin",
                crate::domain::unix_now(),
                r.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            self.quarantine_bytes(&name, &bytes)?;
            tally.quarantined += 1;
        }
        tally.print();
        Ok(ExitCode::SUCCESS)
    }
}

impl Intake<'_> {
    /// Fetches the unseen messages of the configured IMAP folder, handles each, and marks it \Seen
    /// (or moves it). A message that cannot be attributed is copied to the quarantine Maildir and
    /// flagged. On a database outage the current message stays unseen for the next run.
    async fn imap(&self, c: &crate::config::ImapSettings) -> anyhow::Result<ExitCode> {
        let password = std::env::var("NEWSLETTER_IMAP_PASSWORD").map_err(|_| {
            anyhow!(
                "set the IMAP password of {} in NEWSLETTER_IMAP_PASSWORD",
                c.user
            )
        })?;
        let tcp = tokio::net::TcpStream::connect((c.host.as_str(), c.port))
            .await
            .with_context(|| format!("cannot connect to the IMAP server {}:{}", c.host, c.port))?;
        match c.tls.as_str() {
            "none" => self.imap_session(tcp, c, &password).await,
            "tls" => {
                use rustls_platform_verifier::ConfigVerifierExt;
                let config = tokio_rustls::rustls::ClientConfig::with_platform_verifier()
                    .map_err(|e| anyhow!("TLS set-up: {e}"))?;
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(c.host.clone())
                    .map_err(|e| anyhow!("[bounces.imap] host `{}`: {e}", c.host))?;
                let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                    .connect(name, tcp)
                    .await
                    .with_context(|| format!("TLS with {}:{} failed", c.host, c.port))?;
                self.imap_session(tls, c, &password).await
            }
            other => bail!("[bounces.imap] tls = `{other}`: use tls or none"),
        }
    }

    async fn imap_session<T>(
        &self,
        stream: T,
        c: &crate::config::ImapSettings,
        password: &str,
    ) -> anyhow::Result<ExitCode>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        use futures_util::TryStreamExt;
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .context("no IMAP greeting")?
            .ok_or_else(|| anyhow!("the IMAP server closed the connection"))?;
        let mut session = client
            .login(&c.user, password)
            .await
            .map_err(|(e, _)| anyhow!("IMAP login as {} failed: {e}", c.user))?;
        session
            .select(&c.folder)
            .await
            .with_context(|| format!("cannot open the IMAP folder {}", c.folder))?;
        let mut uids: Vec<u32> = session.uid_search("UNSEEN").await?.into_iter().collect();
        uids.sort_unstable();
        let mut tally = Tally::default();
        for uid in uids {
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await?
                .try_collect()
                .await?;
            let Some(bytes) = fetched.iter().find_map(|f| f.body()).map(<[u8]>::to_vec) else {
                continue;
            };
            let fate = self.handle(&bytes, None, &mut tally).await?;
            let flags = match fate {
                Fate::Done => "+FLAGS (\\Seen)",
                Fate::Quarantine => {
                    self.quarantine_bytes(&format!("imap.{}.{uid}", c.folder), &bytes)?;
                    tally.quarantined += 1;
                    "+FLAGS (\\Seen \\Flagged)"
                }
            };
            let _: Vec<_> = session
                .uid_store(uid.to_string(), flags)
                .await?
                .try_collect()
                .await?;
            if matches!(fate, Fate::Done) && !c.move_to.is_empty() {
                session.uid_mv(uid.to_string(), &c.move_to).await?;
            }
        }
        let _ = session.logout().await;
        tally.print();
        Ok(ExitCode::SUCCESS)
    }
}

/// Splits an mbox (mboxo/mboxrd) into messages, undoing `>From ` quoting.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                out.push(m);
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let unquoted = if line.starts_with(b">")
            && line
                .iter()
                .skip_while(|&&b| b == b'>')
                .take(5)
                .eq(b"From ".iter())
        {
            &line[1..]
        } else {
            line
        };
        m.extend_from_slice(unquoted);
    }
    if let Some(m) = current {
        out.push(m);
    }
    out
}
