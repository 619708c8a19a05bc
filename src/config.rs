//! One typed configuration: built-in defaults (`config/default.toml`), then an operator's file, then
//! `NEWSLETTER_<SECTION>__<KEY>` environment variables. Secrets only ever come from the environment.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

const DEFAULTS: &str = include_str!("../config/default.toml");

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The operator's file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A layer is not valid TOML or does not fit the schema.
    #[error("{layer}: {message}")]
    Invalid { layer: String, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The newsletter's identity and links.
    pub site: Site,
    /// The look of the HTML e-mail.
    pub theme: Theme,
    /// Message headers.
    pub mail: Mail,
    /// `render` command settings.
    pub render: RenderSettings,
    /// `check` rules.
    pub check: CheckSettings,
    /// Where subscribers and deliveries are stored.
    pub database: Database,
    /// The subscriber-facing web server.
    pub web: Web,
    /// How mail leaves.
    pub transport: TransportSettings,
    /// Double opt-in.
    pub subscribe: SubscribeSettings,
    /// The delivery engine.
    pub send: SendSettings,
    /// DKIM signing.
    pub dkim: DkimSettings,
    /// Bounce processing.
    pub bounces: BounceSettings,
    /// `newsletter doctor`.
    pub doctor: DoctorSettings,
    /// The administrators' console of `newsletter serve`.
    pub admin: AdminSettings,
    /// Provider event webhooks on `newsletter serve`.
    pub webhooks: WebhookSettings,
}

/// The e-mail service providers' event webhooks on `newsletter serve` (`POST /webhooks/ses`,
/// `/webhooks/postmark`, `/webhooks/mailgun`). Their secrets come from the environment only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where providers reach `serve` (`https://news.example.org`); `doctor` checks each
    /// configured webhook there. Empty: not checked.
    pub public_url: String,
    pub ses: SesWebhookSettings,
    pub mailgun: MailgunWebhookSettings,
}

/// Amazon SNS deliveries of SES events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesWebhookSettings {
    /// The SNS topic ARNs whose messages are accepted, and whose subscription is confirmed.
    pub topics: Vec<String>,
    /// A notification signed longer ago than this is refused as stale.
    pub max_age_secs: i64,
    /// An SNS emulator on this machine (`http://127.0.0.1:PORT`) whose signing certificates and
    /// subscription links are trusted besides Amazon's own `https://sns.REGION.amazonaws.com`:
    /// for tests only; ignored unless it is a loopback address.
    pub certificate_origin: String,
}

/// Mailgun's signed webhooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailgunWebhookSettings {
    /// A signature whose timestamp is further than this from now is refused as stale.
    pub max_age_secs: i64,
}

/// The administrators' console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// A session ends after this long without a request.
    pub session_idle_secs: u64,
    /// And after this long in any case.
    pub session_max_secs: u64,
    /// Sign-in attempts allowed per account, and per client IP, in `login_window_secs`.
    pub login_per_account: u32,
    pub login_per_ip: u32,
    pub login_window_secs: u64,
    /// Allow the session cookie without `Secure`, for a console opened over plain http on this
    /// machine; honoured only when `[web] bind` is a loopback address.
    pub plain_loopback: bool,
    /// A folder of drafts (`*.md`) the preview page offers to pick from; empty: upload or paste only.
    pub drafts: String,
    /// The largest CSV or draft the console accepts in one upload, in bytes.
    pub max_upload_bytes: u64,
}

/// `newsletter doctor`'s DNS lookups.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorSettings {
    /// The DNS server to ask, `host:port` (e.g. "127.0.0.1:53"); empty: the system's resolvers
    /// (/etc/resolv.conf).
    pub nameserver: String,
}

/// Bounce processing and the suppression policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BounceSettings {
    /// Soft bounces in distinct campaigns that suppress a subscriber.
    pub soft_limit: i64,
    /// The window, in days, in which those soft bounces must fall.
    pub soft_window_days: i64,
    /// The least number of days from the first of them to the last.
    pub soft_min_span_days: i64,
    /// Maildir where messages that cannot be attributed or parsed are kept.
    pub quarantine: String,
    /// The largest message `bounces process` takes, in bytes: larger ones are refused (stdin) or
    /// quarantined unread (Maildir).
    pub max_message_bytes: u64,
    /// The bounce mailbox over IMAP (`bounces process --imap`).
    pub imap: ImapSettings,
}

/// An IMAP bounce mailbox. The password comes from `NEWSLETTER_IMAP_PASSWORD` only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    /// `tls` (IMAPS, the default on port 993) or `none` (loopback and tests only).
    pub tls: String,
    pub user: String,
    /// The folder holding bounces.
    pub folder: String,
    /// Where handled messages go; empty means they stay, marked \Seen.
    pub move_to: String,
}

/// DKIM signing of every message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// Sign or not.
    pub enabled: bool,
    /// The signing domain (d=).
    pub domain: String,
    /// The selector (s=): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// PEM file with the RSA private key.
    pub key_file: String,
}

/// The delivery engine of `send` and `worker`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSettings {
    /// SMTP connections open at once (each reused across messages).
    pub concurrency: usize,
    /// Messages per second handed to the transport, over all connections; 0 means no limit.
    pub rate: f64,
    /// Messages that may go at once after a pause, above the steady rate.
    pub burst: u32,
    /// Attempts per message before it is left `deferred` for a later run.
    pub max_attempts: i64,
    /// First retry delay; it doubles per attempt (with jitter) up to `retry_max_secs`.
    pub retry_base_secs: i64,
    /// Longest retry delay.
    pub retry_max_secs: i64,
    /// How long a claimed delivery stays reserved for the process that claimed it. After a crash,
    /// its claimed deliveries are sent again once the lease is over.
    pub lease_secs: i64,
    /// Deliveries claimed per database round trip.
    pub batch: i64,
    /// This many permanent refusals in a row, with no success between, stop the campaign as a
    /// relay or sender problem; none of them is counted as a bounce.
    pub fatal_streak: usize,
    /// After Ctrl-C, how long messages already being sent may take to finish.
    pub shutdown_grace_secs: u64,
    /// Inboxes that get the real rendered issue (with a test unsubscribe token) when a campaign
    /// starts, before any subscriber, and with `send --seeds` on its own.
    #[serde(default)]
    pub seed_list: Vec<crate::domain::EmailAddress>,
    /// The time zone of `send --at` times written without an offset, and of the warm-up's days: an
    /// IANA name such as `Europe/Berlin`, or `UTC`.
    pub time_zone: String,
    /// Shaping per mailbox provider, by provider name. The built-in ones (google, yahoo, microsoft,
    /// other) may be tuned; a new one needs `domains`.
    #[serde(default)]
    pub providers: std::collections::BTreeMap<String, ProviderSettings>,
    /// A daily cap that grows, for a new sending domain or IP.
    pub warmup: WarmupSettings,
    /// The circuit breaker: refusals about us at one provider pause the campaign.
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// Complaint control: a campaign whose complaint rate at one mailbox provider reaches a limit
    /// pauses itself.
    #[serde(default)]
    pub complaints: ComplaintSettings,
}

/// Complaint control ([`crate::send::complaints`]): per campaign and mailbox provider, readers who
/// complained (a feedback report or a provider's complaint event) over the messages delivered
/// there. Once at least `min_deliveries` went to a provider and the rate there reaches `percent`,
/// a campaign still sending pauses itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplaintSettings {
    pub enabled: bool,
    /// The complaint rate, in percent of the messages delivered at one provider, that pauses.
    pub percent: f64,
    /// Messages delivered at a provider before its rate is judged.
    pub min_deliveries: i64,
}

impl Default for ComplaintSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            percent: 0.3,
            min_deliveries: 1000,
        }
    }
}

/// The campaign's circuit breaker ([`crate::send::breaker`]): per provider, over the last `window`
/// attempts, refusals about the sender (block list, reputation, authentication, rate, identity) at
/// `percent` % of them and at least `min_refusals`, or `in_a_row` of them in a row, pause the campaign.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    pub enabled: bool,
    pub window: usize,
    pub percent: f64,
    pub min_refusals: usize,
    pub in_a_row: usize,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 500,
            percent: 5.0,
            min_refusals: 10,
            in_a_row: 20,
        }
    }
}

/// One mailbox provider's shaping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Recipient domains of this provider, added to the built-in table: `example.com`, or
    /// `example.*` for each country's domain.
    #[serde(default)]
    pub domains: Vec<String>,
    /// SMTP connections at once to this provider (within `[send] concurrency`); unset: all of them.
    #[serde(default)]
    pub connections: Option<usize>,
    /// Messages per second to this provider at most; unset or 0: no limit until it throttles.
    #[serde(default)]
    pub rate: Option<f64>,
}

/// The warm-up of a new sending domain or IP: at most `first_day` messages on `start`, growing by
/// `growth` each day after.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmupSettings {
    pub enabled: bool,
    /// The first day, `YYYY-MM-DD`, in `[send] time_zone`.
    pub start: String,
    pub first_day: u64,
    pub growth: f64,
}

/// How mail leaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportSettings {
    /// `file:DIR`, or one or more `smtp://`/`smtps://` relay URLs separated by commas.
    pub url: String,
}

/// Double opt-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeSettings {
    pub confirm_url: String,
    pub per_ip: u32,
    pub per_address: u32,
    pub window_secs: u64,
}

/// The subscriber-facing web server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Listen address, e.g. `127.0.0.1:8080`.
    pub bind: String,
    /// Reverse proxies (IP addresses or CIDR ranges) whose `X-Forwarded-For` / `Forwarded` headers
    /// are believed; every other peer is the client itself.
    pub trusted_proxies: Vec<String>,
    /// A second listen address for `/metrics` without authentication (for Prometheus on a private
    /// network); empty: `/metrics` is served on `bind` behind the admin API token.
    pub metrics_bind: String,
    /// Open connections at most; more wait in the kernel's queue.
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers (and an idle connection may stay open).
    pub header_timeout_secs: u64,
    /// Seconds a request may take from its headers to its answer, body upload included.
    pub request_timeout_secs: u64,
}

/// Where subscribers and deliveries are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `sqlite://FILE` or `postgres://…`.
    pub url: String,
}

/// `check` rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// Template markers that must not be left in an issue, wherever they stand.
    pub placeholders: Vec<String>,
    /// Generic words that are leftovers only where they stand in place of content.
    pub placeholder_words: Vec<String>,
    /// Rules whose findings are not reported.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// The newsletter's identity and links.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    pub url: String,
    pub issue_url: String,
    pub logo_url: String,
    /// The logo's size in CSS pixels (its `width` and `height` attributes).
    pub logo_width: u32,
    pub logo_height: u32,
    pub privacy_url: String,
    pub unsubscribe_url: String,
    #[serde(default)]
    pub social: Vec<SocialLink>,
}

/// A footer link to the newsletter elsewhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialLink {
    pub name: String,
    pub url: String,
}

/// The look of the HTML e-mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// Path of a stylesheet; empty for the built-in one.
    pub stylesheet: String,
    /// HTML size budget in bytes.
    pub size_budget: usize,
    /// Maximum characters of the hidden preheader.
    pub preheader_chars: usize,
}

/// Message headers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub from: String,
    pub reply_to: String,
    pub list_id: String,
    pub bounce_domain: String,
    /// The local part of the per-recipient unsubscribe address `<local>+<token>@<bounce_domain>`.
    pub unsubscribe_local: String,
    pub feedback_id: String,
}

/// `render` command settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderSettings {
    pub sample_recipient: String,
}

/// The built-in stylesheet, `templates/email.css`.
pub const DEFAULT_STYLESHEET: &str = include_str!("../templates/email.css");

impl Config {
    /// Loads defaults, then `file` (or `$NEWSLETTER_CONFIG`) if any, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env_file = std::env::var_os("NEWSLETTER_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut table = parse_layer("built-in defaults", DEFAULTS)?;
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let layer = parse_layer(&path.display().to_string(), &text)?;
            refuse_secrets(&path.display().to_string(), &layer)?;
            merge(&mut table, layer);
        }
        let env = env_layer(std::env::vars(), &table);
        merge(&mut table, env);
        let layer = match &file {
            Some(p) => format!("{} (with defaults and NEWSLETTER_* variables)", p.display()),
            None => "configuration (defaults and NEWSLETTER_* variables)".to_string(),
        };
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                layer,
                message: e.message().to_string(),
            })
    }

    /// The built-in defaults alone, ignoring files and environment (for tests and benches).
    pub fn defaults() -> Config {
        let table = parse_layer("built-in defaults", DEFAULTS).expect("built-in defaults parse");
        toml::Value::Table(table)
            .try_into()
            .expect("built-in defaults fit the schema")
    }

    /// The stylesheet text: the operator's file, or the built-in one.
    pub fn stylesheet(&self) -> Result<String, ConfigError> {
        if self.theme.stylesheet.trim().is_empty() {
            return Ok(DEFAULT_STYLESHEET.to_string());
        }
        let path = PathBuf::from(&self.theme.stylesheet);
        std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path, source })
    }
}

fn parse_layer(name: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Invalid {
            layer: name.to_string(),
            message: e.to_string(),
        })
}

/// `NEWSLETTER_SITE__NAME=x` becomes `[site] name = "x"`. Each value takes the type of the setting it
/// overrides, as the defaults and the file have it: `NEWSLETTER_DKIM__SELECTOR=20240101` stays a
/// string, `NEWSLETTER_THEME__SIZE_BUDGET=80000` is a number, and a list setting takes
/// comma-separated items (`NEWSLETTER_WEB__TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8`). A key that names
/// no setting keeps the old guess (number, boolean, else string), and the schema then names it.
fn env_layer(vars: impl Iterator<Item = (String, String)>, base: &toml::Table) -> toml::Table {
    let mut table = toml::Table::new();
    for (key, value) in vars {
        let Some(rest) = key.strip_prefix("NEWSLETTER_") else {
            continue;
        };
        // NEWSLETTER_BOUNCES__IMAP__PORT reaches [bounces.imap] port.
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let [sections @ .., field] = path.as_slice() else {
            continue;
        };
        if sections.is_empty() {
            continue;
        }
        let existing = sections
            .iter()
            .try_fold(base, |t, s| t.get(s.as_str())?.as_table())
            .and_then(|t| t.get(field.as_str()));
        let v = match existing {
            Some(toml::Value::String(_)) => toml::Value::String(value),
            Some(toml::Value::Integer(_)) => value
                .trim()
                .parse::<i64>()
                .map_or(toml::Value::String(value), toml::Value::Integer),
            Some(toml::Value::Float(_)) => value
                .trim()
                .parse::<f64>()
                .map_or(toml::Value::String(value), toml::Value::Float),
            Some(toml::Value::Boolean(_)) => value
                .trim()
                .parse::<bool>()
                .map_or(toml::Value::String(value), toml::Value::Boolean),
            Some(toml::Value::Array(_)) => toml::Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| toml::Value::String(v.to_string()))
                    .collect(),
            ),
            _ => {
                if let Ok(i) = value.parse::<i64>() {
                    toml::Value::Integer(i)
                } else if let Ok(f) = value.parse::<f64>() {
                    toml::Value::Float(f)
                } else if let Ok(b) = value.parse::<bool>() {
                    toml::Value::Boolean(b)
                } else {
                    toml::Value::String(value)
                }
            }
        };
        insert_path(&mut table, sections, field, v);
    }
    table
}

/// Secrets come only from the environment: a config file that holds a password in a URL is refused
/// before anything is connected, with the place to put it instead.
fn refuse_secrets(layer: &str, table: &toml::Table) -> Result<(), ConfigError> {
    let url = |section: &str| {
        table
            .get(section)
            .and_then(|t| t.get("url"))
            .and_then(toml::Value::as_str)
    };
    for (section, instead) in [
        (
            "database",
            "give the password in PGPASSWORD, or the whole URL in NEWSLETTER_DATABASE_URL",
        ),
        ("transport", "give the password in NEWSLETTER_SMTP_PASSWORD"),
    ] {
        if let Some(u) = url(section)
            && redact_url(u) != u
        {
            return Err(ConfigError::Invalid {
                layer: layer.to_string(),
                message: format!(
                    "[{section}] url `{}` holds a password; secrets never go in a config file: {instead}",
                    redact_url(u)
                ),
            });
        }
    }
    Ok(())
}

/// A database or transport URL for messages: any password after the user name becomes `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Puts `value` at `sections.field`, creating the tables on the way.
fn insert_path(table: &mut toml::Table, sections: &[String], field: &str, value: toml::Value) {
    match sections.split_first() {
        None => {
            table.insert(field.to_string(), value);
        }
        Some((first, rest)) => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = entry {
                insert_path(inner, rest, field, value);
            }
        }
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load() {
        let c = Config::defaults();
        assert_eq!(c.site.name, "This Week in Rust");
        assert_eq!(c.theme.size_budget, 90_000);
        assert!(c.stylesheet().unwrap().contains("prefers-color-scheme"));
    }

    #[test]
    fn env_overrides_merge_into_sections() {
        let mut t = parse_layer("d", DEFAULTS).unwrap();
        let env = env_layer(
            [
                ("NEWSLETTER_SITE__NAME".to_string(), "Other".to_string()),
                ("NEWSLETTER_THEME__SIZE_BUDGET".into(), "1000".into()),
                ("NEWSLETTER_DKIM__SELECTOR".into(), "20240101".into()),
                ("NEWSLETTER_DKIM__ENABLED".into(), "true".into()),
                ("NEWSLETTER_SEND__RATE".into(), "2".into()),
                (
                    "NEWSLETTER_WEB__TRUSTED_PROXIES".into(),
                    "127.0.0.1, 10.0.0.0/8".into(),
                ),
                ("NEWSLETTER_SITE__NAME2".into(), "42".into()),
                ("UNRELATED".into(), "x".into()),
            ]
            .into_iter(),
            &t,
        );
        merge(&mut t, env);
        let name2 = t["site"].as_table().unwrap()["name2"].clone();
        assert_eq!(
            name2,
            toml::Value::Integer(42),
            "an unknown key keeps the old guess"
        );
        t["site"].as_table_mut().unwrap().remove("name2");
        let c: Config = toml::Value::Table(t).try_into().unwrap();
        assert_eq!(c.site.name, "Other");
        assert_eq!(c.theme.size_budget, 1000);
        assert_eq!(
            c.dkim.selector, "20240101",
            "a numeric-looking string stays a string"
        );
        assert!(c.dkim.enabled);
        assert_eq!(c.send.rate, 2.0, "an integer-looking float is a float");
        assert_eq!(c.web.trusted_proxies, ["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(c.site.social.len(), 3);
    }

    #[test]
    fn a_password_in_a_config_file_is_refused() {
        let t = parse_layer("f", "[database]\nurl = \"postgres://app:hunter2@db/news\"").unwrap();
        let e = refuse_secrets("f", &t).unwrap_err().to_string();
        assert!(e.contains("PGPASSWORD") && !e.contains("hunter2"), "{e}");
        let ok = parse_layer("f", "[database]\nurl = \"postgres://app@db/news\"").unwrap();
        assert!(refuse_secrets("f", &ok).is_ok());
    }

    #[test]
    fn unknown_keys_are_reported() {
        let mut t = parse_layer("d", DEFAULTS).unwrap();
        merge(&mut t, parse_layer("f", "[site]\nnmae = \"typo\"").unwrap());
        let e = toml::Value::Table(t).try_into::<Config>().unwrap_err();
        assert!(e.message().contains("nmae"), "{e}");
    }
}
