//! Unsubscribe by mail. Every message's `List-Unsubscribe` carries, beside the HTTPS URL, a mailto
//! address of its recipient's own: `mailto:unsubscribe+TOKEN@<bounce domain>?subject=unsubscribe`,
//! where TOKEN is the subscriber's unsubscribe token in base32 (a mail system may change the case of
//! a local part; base32 survives it). A message to that address is an unsubscribe request, whatever
//! it says: mail clients that use the mailto form send a fixed text or none.

use crate::domain::UnsubscribeToken;

/// The local part before `+TOKEN` unless `[mail] unsubscribe_local` says otherwise.
pub const DEFAULT_LOCAL: &str = "unsubscribe";

/// The unsubscribe address of one subscriber (the format is the token's: see
/// [`UnsubscribeToken::mailto_address`]).
pub fn address(local: &str, domain: &str, token: &UnsubscribeToken) -> String {
    token.mailto_address(local, domain)
}

/// Whether one of `addresses` is an unsubscribe address of ours: `Some(Some(token))` for a valid one,
/// `Some(None)` for our unsubscribe local part with no valid token (it is quarantined), `None` when
/// the message was not sent to one.
pub fn recognise(
    addresses: &[String],
    local: &str,
    domain: &str,
) -> Option<Option<UnsubscribeToken>> {
    let mut ours = false;
    for a in addresses {
        let a = a.trim().trim_start_matches('<').trim_end_matches('>');
        let Some((l, d)) = a.rsplit_once('@') else {
            continue;
        };
        if !d.eq_ignore_ascii_case(domain) {
            continue;
        }
        let Some(rest) = l
            .get(..local.len())
            .filter(|p| p.eq_ignore_ascii_case(local))
            .map(|_| &l[local.len()..])
        else {
            continue;
        };
        if rest.is_empty() {
            ours = true;
            continue;
        }
        let Some(token) = rest.strip_prefix(['+', '-']) else {
            continue;
        };
        ours = true;
        if let Some(t) = UnsubscribeToken::from_mailto_form(token) {
            return Some(Some(t));
        }
    }
    ours.then_some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_our_addresses_in_any_case() {
        let t = UnsubscribeToken::generate();
        let a = address("unsubscribe", "bounces.example.org", &t);
        assert_eq!(
            recognise(
                std::slice::from_ref(&a),
                "unsubscribe",
                "bounces.example.org"
            ),
            Some(Some(t.clone()))
        );
        assert_eq!(
            recognise(
                &[format!("<{}>", a.to_uppercase())],
                "unsubscribe",
                "bounces.example.org"
            ),
            Some(Some(t))
        );
        assert_eq!(
            recognise(
                &["unsubscribe+nothing@bounces.example.org".into()],
                "unsubscribe",
                "bounces.example.org"
            ),
            Some(None)
        );
        assert_eq!(
            recognise(
                &["unsubscribe@bounces.example.org".into()],
                "unsubscribe",
                "bounces.example.org"
            ),
            Some(None)
        );
        assert_eq!(
            recognise(
                &[a.replace("example.org", "example.net")],
                "unsubscribe",
                "bounces.example.org"
            ),
            None
        );
        assert_eq!(
            recognise(
                &["bounces+1-2-abc@bounces.example.org".into()],
                "unsubscribe",
                "bounces.example.org"
            ),
            None
        );
    }
}
