//! The DNS half of `doctor`: SPF for the bounce domain (the envelope sender's), the DKIM key at
//! `<selector>._domainkey.<d>`, DMARC for the From domain with its alignment to `d=`, and an MX for
//! the bounce domain. Lookups go through hickory-resolver, to the system's resolvers or to the
//! configured server; each record's reading is a plain function, tested on its own.

use std::net::SocketAddr;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};

use super::{Finding, Findings};
use crate::domain::organizational_domain as organizational;

/// What a TXT or MX lookup found.
pub enum Lookup {
    Found(Vec<String>),
    /// No such name, or no record of that type.
    None,
    /// The lookup itself failed (timeout, refused): nothing can be said about the record.
    Failed(String),
}

/// A resolver asking `nameserver` (`host:port`), or the system's resolvers when it is empty.
pub fn resolver(nameserver: &str) -> Result<TokioResolver, String> {
    let mut opts = ResolverOpts::default();
    opts.timeout = std::time::Duration::from_secs(3);
    opts.attempts = 1;
    opts.cache_size = 0;
    if nameserver.trim().is_empty() {
        return TokioResolver::builder_tokio()
            .map(|b| b.with_options(opts).build())
            .map_err(|e| format!("cannot read the system's resolver configuration: {e}"));
    }
    let addr: SocketAddr = nameserver.trim().parse().map_err(|_| {
        format!("[doctor] nameserver `{nameserver}` is not an address: write host:port, e.g. 127.0.0.1:53")
    })?;
    let mut config = ResolverConfig::new();
    config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
    config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
    Ok(
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts)
            .build(),
    )
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn missing_or_failed(e: ResolveError) -> Lookup {
    if e.is_no_records_found() || e.is_nx_domain() {
        Lookup::None
    } else {
        Lookup::Failed(e.to_string())
    }
}

/// The TXT records at `name`, each one's strings joined as RFC 7208 and RFC 6376 read them.
pub async fn txt(resolver: &TokioResolver, name: &str) -> Lookup {
    match resolver.txt_lookup(fqdn(name)).await {
        Ok(found) => Lookup::Found(
            found
                .iter()
                .map(|t| {
                    t.txt_data()
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>()
                })
                .collect(),
        ),
        Err(e) => missing_or_failed(e),
    }
}

/// The MX hosts of `name`.
pub async fn mx(resolver: &TokioResolver, name: &str) -> Lookup {
    match resolver.mx_lookup(fqdn(name)).await {
        Ok(found) => Lookup::Found(
            found
                .iter()
                .map(|m| m.exchange().to_utf8().trim_end_matches('.').to_string())
                .collect(),
        ),
        Err(e) => missing_or_failed(e),
    }
}

/// The SPF records among a name's TXT records (`v=spf1` as the first term, any case).
pub fn spf_records(txt: &[String]) -> Vec<&String> {
    txt.iter()
        .filter(|t| {
            let t = t.trim_start().to_ascii_lowercase();
            t == "v=spf1" || t.starts_with("v=spf1 ")
        })
        .collect()
}

/// The tags of a DKIM or DMARC record (`k=v; k=v`), names lowercased, values trimmed.
pub fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the DKIM `d=` aligns with the From domain under DMARC's relaxed rule (the default `adkim`)
/// or, with `strict`, only when they are the same.
pub fn aligned(from_domain: &str, d: &str, strict: bool) -> bool {
    let (a, b) = (from_domain.to_ascii_lowercase(), d.to_ascii_lowercase());
    if strict {
        a == b
    } else {
        organizational(&a) == organizational(&b)
    }
}

/// What every DNS check needs from the configuration.
pub struct Names<'a> {
    pub from_domain: &'a str,
    pub bounce_domain: &'a str,
    /// The DKIM signer, when DKIM is enabled and its key loads.
    pub dkim: Option<&'a crate::dkim::Signer>,
}

/// Runs the DNS checks.
pub async fn check(resolver: &TokioResolver, names: &Names<'_>, out: &mut Findings) {
    let area = "dns";
    // SPF: receivers check the envelope sender's domain, which is the bounce domain (VERP).
    let bounce = names.bounce_domain;
    match txt(resolver, bounce).await {
        Lookup::Failed(e) => out.push(Finding::error(area, format!("SPF for {bounce}: the lookup failed: {e}"), "check that the domain's nameservers answer (or [doctor] nameserver)")),
        Lookup::None => out.push(Finding::error(
            area,
            format!("no SPF record for {bounce}, the envelope sender's domain"),
            format!("publish a TXT record at {bounce}: \"v=spf1 ip4:<your relay's address> -all\" (or include: your provider's SPF)"),
        )),
        Lookup::Found(records) => match spf_records(&records).as_slice() {
            [] => out.push(Finding::error(
                area,
                format!("no SPF record for {bounce}, the envelope sender's domain (TXT records there, none starts with v=spf1)"),
                format!("publish a TXT record at {bounce}: \"v=spf1 ip4:<your relay's address> -all\""),
            )),
            [one] => out.push(Finding::ok(area, format!("SPF for {bounce}: {one}"))),
            many => out.push(Finding::error(
                area,
                format!("{} SPF records for {bounce}: receivers treat that as a permanent error (RFC 7208 4.5)", many.len()),
                "merge them into one v=spf1 record",
            )),
        },
    }
    // MX: bounces and the List-Unsubscribe mailto come back to the bounce domain.
    match mx(resolver, bounce).await {
        Lookup::Found(hosts) if !hosts.is_empty() => {
            out.push(Finding::ok(area, format!("MX for {bounce}: {}", hosts.join(", "))))
        }
        Lookup::Failed(e) => out.push(Finding::error(area, format!("MX for {bounce}: the lookup failed: {e}"), "check that the domain's nameservers answer")),
        _ => out.push(Finding::error(
            area,
            format!("no MX record for {bounce}: bounces and unsubscribe mails cannot reach us"),
            format!("publish \"{bounce}. MX 10 <your inbound mail server>.\" and route its mail to `newsletter bounces process`"),
        )),
    }
    // DKIM: the key published at the selector is the configured key's public half.
    let mut dkim_domain = None;
    if let Some(signer) = names.dkim {
        let name = format!("{}._domainkey.{}", signer.selector(), signer.domain());
        let expected = format!("v=DKIM1; k=rsa; p={}", signer.public_key_record());
        match txt(resolver, &name).await {
            Lookup::Failed(e) => out.push(Finding::error(
                area,
                format!("DKIM key at {name}: the lookup failed: {e}"),
                "check that the domain's nameservers answer",
            )),
            Lookup::None => out.push(Finding::error(
                area,
                format!("no DKIM key at {name}: receivers cannot verify our signatures"),
                format!("publish a TXT record at {name}: \"{expected}\""),
            )),
            Lookup::Found(records) => {
                let keys: Vec<Vec<(String, String)>> = records
                    .iter()
                    .map(|r| tags(r))
                    .filter(|t| tag(t, "p").is_some())
                    .collect();
                let matching = keys
                    .iter()
                    .any(|t| tag(t, "p").is_some_and(|p| signer.publishes_as(p)));
                if matching {
                    out.push(Finding::ok(
                        area,
                        format!("DKIM key at {name} matches the configured private key"),
                    ));
                    dkim_domain = Some(signer.domain());
                } else if keys.iter().any(|t| tag(t, "p") == Some("")) {
                    out.push(Finding::error(
                        area,
                        format!("the DKIM key at {name} is revoked (empty p=)"),
                        format!("publish the current key: \"{expected}\""),
                    ));
                } else {
                    out.push(Finding::error(
                        area,
                        format!("the DKIM key at {name} is not the public half of [dkim] key_file: every signature would fail"),
                        format!("replace the TXT record at {name} with \"{expected}\", or configure the private key that belongs to it"),
                    ));
                }
            }
        }
    }
    // DMARC: at the From domain, else at its organizational domain (RFC 7489 6.6.3).
    let from = names.from_domain;
    let org = organizational(from);
    let mut record = None;
    for name in [from, org.as_str()] {
        let at = format!("_dmarc.{name}");
        match txt(resolver, &at).await {
            Lookup::Found(txts) => {
                if let Some(r) = txts
                    .iter()
                    .find(|t| t.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
                {
                    record = Some((at, r.clone()));
                    break;
                }
            }
            Lookup::Failed(e) => {
                out.push(Finding::error(
                    area,
                    format!("DMARC at {at}: the lookup failed: {e}"),
                    "check that the domain's nameservers answer",
                ));
                return;
            }
            Lookup::None => {}
        }
        if name == org {
            break;
        }
    }
    let Some((at, record)) = record else {
        out.push(Finding::error(
            area,
            format!("no DMARC record for {from}: Gmail and Yahoo require one of bulk senders"),
            format!("publish a TXT record at _dmarc.{from}: \"v=DMARC1; p=none; rua=mailto:<a mailbox for reports>\""),
        ));
        return;
    };
    let t = tags(&record);
    out.push(Finding::ok(area, format!("DMARC at {at}: {record}")));
    let strict = tag(&t, "adkim").is_some_and(|v| v.eq_ignore_ascii_case("s"));
    match (names.dkim, dkim_domain) {
        (Some(signer), _) if !aligned(from, signer.domain(), strict) => out.push(Finding::error(
            area,
            format!(
                "the From domain {from} does not align with the DKIM d={} ({} alignment): DMARC fails even with a good signature",
                signer.domain(),
                if strict { "strict" } else { "relaxed" }
            ),
            format!("sign as d={from} ([dkim] domain), or send From an address at {}", signer.domain()),
        )),
        (Some(signer), _) => out.push(Finding::ok(
            area,
            format!("From {from} aligns with DKIM d={}", signer.domain()),
        )),
        (None, _) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_is_the_txt_record_that_starts_with_its_version() {
        let txt = vec![
            "google-site-verification=abc".to_string(),
            "V=SPF1 ip4:192.0.2.1 -all".to_string(),
            "v=spf10 nonsense".to_string(),
        ];
        assert_eq!(spf_records(&txt).len(), 1);
        assert!(spf_records(&["v=spf1".to_string()]).len() == 1);
    }

    #[test]
    fn alignment_is_relaxed_by_organizational_domain() {
        assert!(aligned(
            "this-week-in-rust.org",
            "this-week-in-rust.org",
            false
        ));
        assert!(aligned("news.example.org", "example.org", false));
        assert!(aligned("news.example.co.uk", "mail.example.co.uk", false));
        assert!(!aligned("example.org", "example.net", false));
        assert!(!aligned("example.co.uk", "other.co.uk", false));
        assert!(!aligned("news.example.org", "example.org", true));
        assert_eq!(organizational("a.b.example.com"), "example.com");
    }

    #[test]
    fn tags_read_dkim_and_dmarc_records() {
        let t = tags("v=DKIM1; k=rsa; p=MIIB IjAN ;");
        assert_eq!(tag(&t, "k"), Some("rsa"));
        assert_eq!(tag(&t, "p"), Some("MIIB IjAN"));
        let t = tags("v=DMARC1;p=none;ADKIM=s");
        assert_eq!(tag(&t, "adkim"), Some("s"));
    }
}
