//! `newsletter doctor`: what an operator checks before the first send and after any DNS change.
//! Each finding names what is wrong and the setting or record that fixes it.
//!
//! - config: the From and bounce domains, HTTPS links, the secrets that the configuration needs;
//! - dns ([`dns`]): SPF, the DKIM key, DMARC and alignment, MX;
//! - relays: each one's greeting, TLS and AUTH (for Amazon SES: the account, its access and quota);
//! - database: reachable, and how many of this version's migrations it has (nothing is changed);
//! - web: the unsubscribe and confirmation links reach the routes `newsletter serve` answers;
//! - webhooks: each provider webhook in use answers, as `newsletter serve` and configured, at
//!   `[webhooks] public_url` over HTTPS (a provider posts nowhere else).

pub mod dns;

use crate::config::Config;
use crate::domain::EmailAddress;
use crate::transport::{PASSWORD_ENV, Transport};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One thing `doctor` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub level: Level,
    /// config, dns, relay, database, web.
    pub area: &'static str,
    pub what: String,
    /// The setting or record that fixes it (empty when nothing is wrong).
    pub fix: String,
}

impl Finding {
    pub fn ok(area: &'static str, what: impl Into<String>) -> Self {
        Self {
            level: Level::Ok,
            area,
            what: what.into(),
            fix: String::new(),
        }
    }

    pub fn error(area: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Error,
            area,
            what: what.into(),
            fix: fix.into(),
        }
    }

    pub fn warning(area: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Warning,
            area,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// Every finding, in the order found.
pub type Findings = Vec<Finding>;

/// What `doctor` needs besides the configuration.
pub struct Inputs<'a> {
    pub database_url: &'a str,
    /// The transport URL in use (the `--transport` option or the config's).
    pub transport_url: &'a str,
}

/// Runs every check.
pub async fn run(config: &Config, inputs: &Inputs<'_>) -> Findings {
    let mut out = Findings::new();
    let from_domain = check_config(config, &mut out);
    let dkim = check_dkim_config(config, &mut out);
    match dns::resolver(&config.doctor.nameserver) {
        Err(e) => out.push(Finding::error(
            "dns",
            e,
            "set [doctor] nameserver to host:port, or leave it empty for the system's resolvers",
        )),
        Ok(resolver) => {
            if let Some(from_domain) = &from_domain {
                let names = dns::Names {
                    from_domain,
                    bounce_domain: config.mail.bounce_domain.trim(),
                    dkim: dkim.as_ref(),
                };
                dns::check(&resolver, &names, &mut out).await;
            }
        }
    }
    check_relays(config, inputs.transport_url, &mut out).await;
    check_database(inputs.database_url, &mut out).await;
    check_web(config, &mut out);
    check_webhooks(config, inputs.transport_url, &mut out).await;
    out
}

/// The webhooks a provider would post to: the one of the provider sending (`ses://`,
/// `postmark://`, `mailgun://`), and any configured, each fetched at `[webhooks] public_url`.
async fn check_webhooks(config: &Config, transport_url: &str, out: &mut Findings) {
    let area = "webhooks";
    use crate::bounce::webhook::{Provider, mailgun, postmark};
    let sending = Provider::ALL
        .into_iter()
        .find(|p| transport_url.trim().starts_with(&format!("{}:", p.name())));
    // What this environment configures; `serve`'s own answer says what it has.
    let configured = |p: Provider| match p {
        Provider::Ses => !config.webhooks.ses.topics.is_empty(),
        Provider::Postmark => std::env::var_os(postmark::USER_ENV).is_some(),
        Provider::Mailgun => std::env::var_os(mailgun::SIGNING_KEY_ENV).is_some(),
    };
    let wanted: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|&p| Some(p) == sending || configured(p))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let public = config.webhooks.public_url.trim().trim_end_matches('/');
    if public.is_empty() {
        out.push(Finding::warning(
            area,
            format!(
                "the {} webhook is not checked: [webhooks] public_url is empty",
                wanted.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
            ),
            "set [webhooks] public_url to the https:// address providers reach `newsletter serve` at",
        ));
        return;
    }
    let loopback = crate::fetch::is_loopback_http(public);
    if !public.starts_with("https://") && !loopback {
        out.push(Finding::error(
            area,
            format!(
                "[webhooks] public_url `{public}` is not HTTPS: providers post only to https://"
            ),
            "serve behind a TLS-terminating proxy and set [webhooks] public_url = \"https://…\"",
        ));
        return;
    }
    for provider in wanted {
        let url = format!("{public}/webhooks/{}", provider.name());
        let got = crate::fetch::get(&url, loopback, 4096, std::time::Duration::from_secs(10)).await;
        let marker = got.as_ref().ok().and_then(|f| {
            f.headers
                .get(crate::bounce::webhook::PROBE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
        out.push(match (got, marker.as_deref()) {
            (Err(e), _) => Finding::error(
                area,
                format!("{url}: {e}"),
                "check that `newsletter serve` runs and that the proxy in front of it is reachable at [webhooks] public_url",
            ),
            (Ok(_), Some("configured")) if loopback => Finding::warning(
                area,
                format!("{url}: answered by newsletter serve, configured"),
                "this is plain http on this machine: providers need an https:// public_url",
            ),
            (Ok(_), Some("configured")) => Finding::ok(
                area,
                format!("{url}: reachable over HTTPS, answered by newsletter serve, configured"),
            ),
            (Ok(_), Some(_)) => Finding::error(
                area,
                format!("{url}: answered by newsletter serve, but not configured there: it refuses every event"),
                format!("set {}", provider.needs()),
            ),
            (Ok(f), None) => Finding::error(
                area,
                format!("{url}: HTTP {} from something else than newsletter serve", f.status),
                "route /webhooks/ on the proxy to `newsletter serve`",
            ),
        });
    }
}

/// The From address and the bounce domain, HTTPS links, and the secrets. Returns the From domain.
fn check_config(config: &Config, out: &mut Findings) -> Option<String> {
    let area = "config";
    let from = config.mail.from.trim();
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'))
        .trim();
    let from_domain = match EmailAddress::parse(address) {
        Ok(a) => {
            let domain = a
                .as_str()
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase());
            out.push(Finding::ok(area, format!("From: {from}")));
            domain
        }
        Err(e) => {
            out.push(Finding::error(
                area,
                format!("[mail] from `{from}` is not an address: {e}"),
                "set [mail] from = \"Name <newsletter@your-domain>\"",
            ));
            None
        }
    };
    let bounce = config.mail.bounce_domain.trim();
    let bounce_ok = bounce.contains('.')
        && bounce
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if bounce_ok {
        out.push(Finding::ok(area, format!("bounce domain: {bounce}")));
        if let Some(d) = &from_domain
            && crate::domain::organizational_domain(d)
                != crate::domain::organizational_domain(bounce)
        {
            out.push(Finding::warning(
                area,
                format!("the bounce domain {bounce} is not under the From domain {d}: SPF then cannot align for DMARC, which rests on DKIM alone"),
                format!("use a subdomain of {d} as [mail] bounce_domain, e.g. bounces.{d}"),
            ));
        }
    } else {
        out.push(Finding::error(
            area,
            format!("[mail] bounce_domain `{bounce}` is not a domain"),
            "set [mail] bounce_domain to a domain whose mail reaches `newsletter bounces process`",
        ));
    }
    // RFC 5321: a local part is at most 64 octets; the mailto one is LOCAL+TOKEN (39 characters).
    let local = config.mail.unsubscribe_local.trim();
    if local.len() + 1 + 39 > 64 {
        out.push(Finding::error(
            area,
            format!(
                "[mail] unsubscribe_local `{local}` is {} characters: with `+` and the 39-character token the address's local part passes the 64 that mail allows",
                local.len()
            ),
            "shorten [mail] unsubscribe_local to 24 characters or fewer (the default is `unsubscribe`)",
        ));
    }
    for (key, url, required) in [
        ("[site] unsubscribe_url", &config.site.unsubscribe_url, true),
        (
            "[subscribe] confirm_url",
            &config.subscribe.confirm_url,
            true,
        ),
        ("[site] url", &config.site.url, false),
        ("[site] privacy_url", &config.site.privacy_url, false),
        ("[site] logo_url", &config.site.logo_url, false),
    ] {
        if url.starts_with("https://") {
            continue;
        }
        let what = format!("{key} `{url}` is not HTTPS");
        let fix = format!("serve it over HTTPS and set {key} = \"https://…\"");
        out.push(if required {
            Finding::error(
                area,
                format!("{what}: Gmail and Yahoo require one-click unsubscribe over HTTPS"),
                fix,
            )
        } else {
            Finding::warning(area, what, fix)
        });
    }
    if std::env::var("NEWSLETTER_API_TOKEN").is_ok_and(|t| !t.is_empty()) {
        out.push(Finding::ok(area, "NEWSLETTER_API_TOKEN is set"));
    } else {
        out.push(Finding::warning(
            area,
            "NEWSLETTER_API_TOKEN is not set: the admin API and /metrics answer nobody",
            "set NEWSLETTER_API_TOKEN in the environment of `newsletter serve`",
        ));
    }
    from_domain
}

/// DKIM enabled, and its key loads.
fn check_dkim_config(config: &Config, out: &mut Findings) -> Option<crate::dkim::Signer> {
    let area = "config";
    if !config.dkim.enabled {
        out.push(Finding::error(
            area,
            "DKIM signing is off: Gmail and Yahoo require DKIM of bulk senders",
            "set [dkim] enabled = true, domain, selector and key_file, and publish the key (doctor prints the record)",
        ));
        return None;
    }
    match crate::dkim::Signer::from_config(&config.dkim) {
        Ok(signer) => {
            out.push(Finding::ok(
                area,
                format!(
                    "DKIM key {} loads (d={}, s={})",
                    config.dkim.key_file, config.dkim.domain, config.dkim.selector
                ),
            ));
            signer
        }
        Err(e) => {
            out.push(Finding::error(
                area,
                format!("DKIM: {e}"),
                "fix [dkim] key_file, domain and selector",
            ));
            None
        }
    }
}

async fn check_relays(config: &Config, url: &str, out: &mut Findings) {
    let area = "relay";
    let password = crate::transport::password_from_env();
    if url.contains('@') && password.is_none() {
        out.push(Finding::error(
            area,
            format!("the transport names a user but {PASSWORD_ENV} is not set"),
            format!("set {PASSWORD_ENV} in the environment"),
        ));
    }
    let transport =
        match Transport::from_url(url, config.send.concurrency as u32, password.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                out.push(Finding::error(
                    area,
                    format!("transport: {e}"),
                    "fix [transport] url (or --transport)",
                ));
                return;
            }
        };
    for (label, result) in transport.probe(Some(&config.mail.from)).await {
        out.push(match result {
            Ok(what) if url.starts_with("file:") => Finding::warning(
                area,
                format!("{label}: {what}"),
                "set [transport] url to your SMTP relay (or ses://REGION, postmark://, mailgun://DOMAIN) before the first real send",
            ),
            Ok(what) => Finding::ok(area, format!("{label}: {what}")),
            Err(e) => Finding::error(
                area,
                format!("{label}: {e}"),
                if url.starts_with("ses:") {
                    "check the region in [transport] url, and that AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY hold a key allowed ses:GetAccount, ses:GetEmailIdentity and ses:SendEmail, and that the From domain is verified in that region"
                } else if url.starts_with("postmark:") {
                    "check that NEWSLETTER_POSTMARK_TOKEN holds the server token (the Postmark server's API Tokens tab) and the endpoint in [transport] url"
                } else if url.starts_with("mailgun:") {
                    "check the domain in [transport] url (mailgun://DOMAIN, ?region=eu for an EU domain), that NEWSLETTER_MAILGUN_KEY holds an API key of its account, and that the domain is verified"
                } else {
                    "check the relay's host, port, TLS mode and credentials in [transport] url"
                },
            ),
        });
    }
    transport.shutdown().await;
}

async fn check_database(url: &str, out: &mut Findings) {
    let area = "database";
    let shown = crate::config::redact_url(url);
    match crate::store::Store::schema(url).await {
        Ok(s) if s.applied == s.known => out.push(Finding::ok(
            area,
            format!("{shown}: reachable, all {} migrations applied", s.known),
        )),
        Ok(s) if s.applied < s.known => out.push(Finding::warning(
            area,
            format!("{shown}: reachable, {} of {} migrations applied", s.applied, s.known),
            "the next command that opens the database (send, worker, serve, subscribers) applies the rest; run one before a worker on another machine with an older version starts",
        )),
        Ok(s) => out.push(Finding::error(
            area,
            format!("{shown}: it has {} migrations, this version knows {}: a newer version wrote it", s.applied, s.known),
            "upgrade newsletter on this machine",
        )),
        Err(e) => out.push(Finding::error(
            area,
            format!("{shown}: {e}"),
            "check [database] url (or --database-url); a new SQLite database is created by `newsletter subscribers import` or `add`",
        )),
    }
}

/// The links in every message reach `newsletter serve`: it answers `/unsubscribe/{token}` and
/// `/confirm/{token}` at its root, so both URLs must end that way, behind the same host and prefix
/// (the proxy in front of it strips the prefix).
fn check_web(config: &Config, out: &mut Findings) {
    let area = "web";
    let split = |url: &str, route: &str| -> Option<String> {
        let rest = url.split_once("://")?.1;
        rest.strip_suffix(route).map(str::to_string)
    };
    let unsub = split(&config.site.unsubscribe_url, "/unsubscribe/");
    let confirm = split(&config.subscribe.confirm_url, "/confirm/");
    match (unsub, confirm) {
        (Some(u), Some(c)) if u == c => out.push(Finding::ok(
            area,
            format!("unsubscribe and confirmation links reach `newsletter serve` at {u}/"),
        )),
        (Some(u), Some(c)) => out.push(Finding::error(
            area,
            format!("the unsubscribe links go to {u}/ but the confirmation links to {c}/: one `newsletter serve` answers both"),
            "put [site] unsubscribe_url and [subscribe] confirm_url under the same host and prefix",
        )),
        (None, _) => out.push(Finding::error(
            area,
            format!("[site] unsubscribe_url `{}` does not end in /unsubscribe/, the route `newsletter serve` answers", config.site.unsubscribe_url),
            "set it to https://<host>[/prefix]/unsubscribe/ and proxy <host>[/prefix]/ to `newsletter serve`",
        )),
        (_, None) => out.push(Finding::error(
            area,
            format!("[subscribe] confirm_url `{}` does not end in /confirm/, the route `newsletter serve` answers", config.subscribe.confirm_url),
            "set it to https://<host>[/prefix]/confirm/ and proxy <host>[/prefix]/ to `newsletter serve`",
        )),
    }
}
