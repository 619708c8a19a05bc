//! Mailbox providers: which company's servers receive mail for a recipient's domain. Shaping is per
//! provider, because Gmail throttles every gmail.com and googlemail.com address alike, and one
//! provider that pushes back should not slow the others.

use std::fmt;

use super::error::{ParseError, err};

/// A provider's name: lowercase letters, digits and `-` (`google`, `microsoft`, `other`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ProviderName(String);

impl ProviderName {
    /// Every domain not in the table.
    pub const OTHER: &'static str = "other";

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(err(format!(
                "`{s}` is not a provider name: use lowercase letters, digits and `-`, e.g. `google`"
            )))
        }
    }

    pub fn other() -> Self {
        Self(Self::OTHER.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A domain in the provider table: exact (`gmail.com`), or a name under any country or generic
/// suffix (`outlook.*` is outlook.com, outlook.de, outlook.co.uk and outlook.com.br, but not
/// outlook.example.org).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPattern {
    Exact(String),
    AnySuffix(String),
}

impl DomainPattern {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().to_ascii_lowercase();
        let (name, any) = match s.strip_suffix(".*") {
            Some(name) => (name.to_string(), true),
            None => (s.clone(), false),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || !name.split('.').all(label_ok) || (!any && !name.contains('.')) {
            return Err(err(format!(
                "`{s}` is not a provider domain: write `example.com`, or `example.*` for every country's domain"
            )));
        }
        Ok(if any {
            Self::AnySuffix(name)
        } else {
            Self::Exact(name)
        })
    }

    /// Whether `domain` (lowercase) is this pattern's.
    pub fn matches(&self, domain: &str) -> bool {
        match self {
            Self::Exact(d) => d == domain,
            Self::AnySuffix(name) => domain
                .strip_prefix(name.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(looks_like_a_public_suffix),
        }
    }
}

/// `com`, `de`, `co.uk`, `com.br`, `ne.jp`: one label, or a short second-level label under a country
/// code. A longer rest (`example.org`) is someone's own domain. An approximation of the Public
/// Suffix List, shared by the provider table and by DMARC alignment ([`organizational_domain`]).
fn looks_like_a_public_suffix(rest: &str) -> bool {
    let labels: Vec<&str> = rest.split('.').collect();
    match labels.as_slice() {
        [tld] => !tld.is_empty(),
        [second, cc] => second.len() <= 3 && cc.len() == 2,
        _ => false,
    }
}

/// The organizational domain, approximately: the last two labels, or three when the last two look
/// like a country's second level (`example.co.uk`). DMARC's relaxed alignment compares these. (The
/// exact rule uses the Public Suffix List; this errs towards calling two domains unaligned.)
pub fn organizational_domain(domain: &str) -> String {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    let take = if n >= 3 && looks_like_a_public_suffix(&labels[n - 2..].join(".")) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(take)..]
        .join(".")
        .to_ascii_lowercase()
}

/// The domain → provider table: the built-in entries, then the configuration's.
#[derive(Debug, Clone)]
pub struct ProviderMap {
    entries: Vec<(DomainPattern, ProviderName)>,
}

/// The built-in table: the three providers that throttle a weekly burst hardest.
pub const BUILT_IN: &[(&str, &[&str])] = &[
    ("google", &["gmail.com", "googlemail.com"]),
    (
        "yahoo",
        &["yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com"],
    ),
    (
        "microsoft",
        &[
            "outlook.*",
            "hotmail.*",
            "live.*",
            "msn.com",
            "windowslive.com",
        ],
    ),
];

/// The built-in providers' names and `other`.
pub fn provider_names() -> Vec<&'static str> {
    BUILT_IN
        .iter()
        .map(|(n, _)| *n)
        .chain([ProviderName::OTHER])
        .collect()
}

impl ProviderMap {
    /// The built-in table, with `extra` (provider, domains) entries in front of it, so that
    /// configuration can move a domain to another provider.
    pub fn new(extra: &[(ProviderName, Vec<DomainPattern>)]) -> Self {
        let mut entries = Vec::new();
        for (name, patterns) in extra {
            for p in patterns {
                entries.push((p.clone(), name.clone()));
            }
        }
        for (name, patterns) in BUILT_IN {
            let name = ProviderName::parse(name).expect("built-in provider names are valid");
            for p in *patterns {
                let p = DomainPattern::parse(p).expect("built-in patterns are valid");
                entries.push((p, name.clone()));
            }
        }
        Self { entries }
    }

    /// The provider of a recipient's domain (any case); `other` when none matches.
    pub fn provider_of(&self, domain: &str) -> ProviderName {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(p, _)| p.matches(&domain))
            .map_or_else(ProviderName::other, |(_, n)| n.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_big_three_and_their_country_domains() {
        let map = ProviderMap::new(&[]);
        for (domain, provider) in [
            ("gmail.com", "google"),
            ("GoogleMail.com", "google"),
            ("yahoo.com", "yahoo"),
            ("yahoo.co.uk", "yahoo"),
            ("yahoo.com.br", "yahoo"),
            ("aol.com", "yahoo"),
            ("aol.de", "yahoo"),
            ("ymail.com", "yahoo"),
            ("outlook.com", "microsoft"),
            ("outlook.de", "microsoft"),
            ("hotmail.co.uk", "microsoft"),
            ("hotmail.fr", "microsoft"),
            ("live.com.au", "microsoft"),
            ("msn.com", "microsoft"),
        ] {
            assert_eq!(map.provider_of(domain).as_str(), provider, "{domain}");
        }
    }

    #[test]
    fn lookalikes_are_other() {
        let map = ProviderMap::new(&[]);
        for domain in [
            "gmail.example.org",
            "mygmail.com",
            "live.example.org",
            "outlook.mycompany.co.uk",
            "yahoo",
            "example.org",
            "hotmailer.com",
            "rust-lang.org",
        ] {
            assert_eq!(map.provider_of(domain).as_str(), "other", "{domain}");
        }
    }

    #[test]
    fn configuration_comes_first_and_adds_providers() {
        let map = ProviderMap::new(&[
            (
                ProviderName::parse("fastmail").unwrap(),
                vec![
                    DomainPattern::parse("fastmail.com").unwrap(),
                    DomainPattern::parse("fastmail.*").unwrap(),
                ],
            ),
            (
                ProviderName::parse("mine").unwrap(),
                vec![DomainPattern::parse("msn.com").unwrap()],
            ),
        ]);
        assert_eq!(map.provider_of("fastmail.fm").as_str(), "fastmail");
        assert_eq!(map.provider_of("msn.com").as_str(), "mine");
        assert_eq!(map.provider_of("gmail.com").as_str(), "google");
    }

    #[test]
    fn bad_names_and_patterns_are_refused() {
        assert!(ProviderName::parse("Google").is_err());
        assert!(ProviderName::parse("").is_err());
        assert!(ProviderName::parse("a b").is_err());
        assert!(DomainPattern::parse("com").is_err());
        assert!(DomainPattern::parse("*.gmail.com").is_err());
        assert!(DomainPattern::parse("gm ail.com").is_err());
        assert!(DomainPattern::parse("gmail.*").is_ok());
    }
}
