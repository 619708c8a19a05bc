//! RFC 3464 delivery status fields, read wherever a reporting MTA put them: in a proper
//! `message/delivery-status` part, in a `text/plain` part of a report sent with the wrong type, or in
//! the body of a single-part message. Field names are case-insensitive (`Final-recipient`), the
//! address type is optional (`Final-Recipient: <user@example.org>`), groups may lack the blank line
//! between them, and continuation lines are joined.
//!
//! The recipient of a group is its `Final-Recipient`, unless that names an internal routing address
//! (`userx@sims-ms-daemon` of Sun/Oracle Messaging Server, `LOCAL; alias` of a relay, a host without
//! a dot): then `X-Actual-Recipient`, then `Original-Recipient` say who it was.

/// One per-recipient group: lowercase field names and their values, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub fields: Vec<(String, String)>,
}

impl Group {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The fields that open a recipient's group.
const RECIPIENT_FIELDS: &[&str] = &[
    "final-recipient",
    "original-recipient",
    "x-actual-recipient",
];

/// True when `text` holds delivery status fields: a recipient field beside an action or a status.
pub fn has_fields(text: &str) -> bool {
    let mut recipient = false;
    let mut outcome = false;
    for line in text.lines() {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        recipient |= RECIPIENT_FIELDS.contains(&name.as_str());
        outcome |= name == "action" || name == "status";
        if recipient && outcome {
            return true;
        }
    }
    false
}

/// `Name: value` lines with continuation lines, lowercase names; `None` marks a blank line.
fn fields(text: &str) -> Vec<Option<(String, String)>> {
    let mut out: Vec<Option<(String, String)>> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push(None);
        } else if line.starts_with([' ', '\t']) {
            if let Some(Some((_, v))) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            let name = n.trim().to_ascii_lowercase();
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                out.push(Some((name, v.trim().to_string())));
            }
        }
    }
    out
}

/// The per-recipient groups in `text`. A new group starts at a blank line, or at a recipient field
/// when the current group already has one of the same name (MTAs that omit the blank line).
pub fn groups(text: &str) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut current = Group::default();
    let flush = |current: &mut Group, groups: &mut Vec<Group>| {
        if current
            .fields
            .iter()
            .any(|(n, _)| RECIPIENT_FIELDS.contains(&n.as_str()))
        {
            groups.push(std::mem::take(current));
        } else {
            current.fields.clear();
        }
    };
    for f in fields(text) {
        match f {
            None => flush(&mut current, &mut groups),
            Some((n, v)) => {
                if RECIPIENT_FIELDS.contains(&n.as_str()) && current.get(&n).is_some() {
                    flush(&mut current, &mut groups);
                }
                current.fields.push((n, v));
            }
        }
    }
    flush(&mut current, &mut groups);
    groups
}

/// An address field's value, `rfc822; user@example.org` → (`rfc822`, `user@example.org`).
pub fn typed_address(value: &str) -> (String, String) {
    let (kind, addr) = match value.split_once(';') {
        Some((k, a)) => (k.trim().to_ascii_lowercase(), a),
        None => ("rfc822".to_string(), value),
    };
    let addr = addr
        .trim()
        .trim_matches(|c: char| matches!(c, '<' | '>' | '"' | '\'') || c.is_whitespace())
        .to_string();
    (kind, addr)
}

/// True for an address that names a routing step, not a mailbox anyone writes to.
pub fn is_internal(kind: &str, addr: &str) -> bool {
    if !(kind == "rfc822" || kind == "utf-8" || kind.is_empty()) {
        return true;
    }
    // A pipe to a command (`|/usr/local/bin/deliver user@example.org`) or a file is a routing
    // step, whatever address its arguments carry.
    if addr.starts_with(['|', '/']) || addr.contains(char::is_whitespace) {
        return true;
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return true;
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    local.is_empty()
        || !domain.contains('.')
        || domain == "localhost"
        || [
            ".local",
            ".localdomain",
            ".internal",
            ".lan",
            ".localnet",
            ".invalid",
        ]
        .iter()
        .any(|s| domain.ends_with(s))
}

/// The recipient of a group and the field that named it; `None` when every field names an internal
/// address (the caller then looks elsewhere).
pub fn recipient(group: &Group) -> Option<(String, &'static str)> {
    for name in [
        "final-recipient",
        "x-actual-recipient",
        "original-recipient",
    ] {
        if let Some(v) = group.get(name) {
            let (kind, addr) = typed_address(v);
            if !is_internal(&kind, &addr) {
                let field = match name {
                    "final-recipient" => "Final-Recipient",
                    "x-actual-recipient" => "X-Actual-Recipient (Final-Recipient is internal)",
                    _ => "Original-Recipient (Final-Recipient is internal)",
                };
                return Some((addr, field));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_with_or_without_blank_lines() {
        let text = "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: rfc822; b@example.org\nAction: delayed\nStatus: 4.4.7\n\nfinal-recipient: c@example.org\naction: failed\nDiagnostic-Code: smtp; 550 5.1.1\n  no such user\n";
        let g = groups(text);
        assert_eq!(g.len(), 3);
        assert_eq!(g[1].get("status"), Some("4.4.7"));
        assert_eq!(
            g[2].get("diagnostic-code"),
            Some("smtp; 550 5.1.1 no such user")
        );
        assert!(has_fields(text));
        assert!(!has_fields("Final-Recipient only, in a sentence"));
    }

    #[test]
    fn internal_final_recipients_give_way() {
        let g = groups(
            "Original-recipient: rfc822;reader@example.org\nFinal-recipient: rfc822;userx@sims-ms-daemon\nAction: failed\nStatus: 5.2.2\n",
        );
        assert_eq!(
            recipient(&g[0]),
            Some((
                "reader@example.org".into(),
                "Original-Recipient (Final-Recipient is internal)"
            ))
        );
        let g = groups(
            "Final-Recipient: LOCAL; editor-alias\nX-Actual-Recipient: rfc822; editor@example.org\nAction: failed\n",
        );
        assert_eq!(recipient(&g[0]).unwrap().0, "editor@example.org");
        let g = groups(
            "Final-Recipient: rfc822; a@example.org\nX-Actual-Recipient: rfc822; a@mail.example.org\nAction: failed\n",
        );
        assert_eq!(
            recipient(&g[0]).unwrap(),
            ("a@example.org".into(), "Final-Recipient")
        );
        let g = groups("Final-Recipient: rfc822; root@localhost\nAction: failed\n");
        assert_eq!(recipient(&g[0]), None);
        let g = groups(
            "Final-Recipient: rfc822; |/usr/local/bin/deliver reader@example.org\nAction: failed\n",
        );
        assert_eq!(recipient(&g[0]), None);
    }
}
