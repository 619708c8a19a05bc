//! Rendered output with holes for the few bytes that differ per recipient.
//!
//! An issue is rendered and inlined once. A [`Template`] keeps the result as literal pieces and
//! [`Slot`]s; filling it for one subscriber is a copy of the pieces with the slot values escaped in
//! between: no Markdown, no CSS work per recipient.

use std::borrow::Cow;

/// A per-recipient value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The subscriber's own unsubscribe URL.
    UnsubscribeUrl,
}

/// How slot values are escaped in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Inside an HTML attribute value or text.
    Html,
    /// Plain text: taken as is.
    None,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Bytes shared by every recipient.
    Literal(String),
    /// A per-recipient value.
    Slot(Slot),
}

/// What fills the slots for one recipient.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// Absolute unsubscribe URL for this subscriber.
    pub unsubscribe_url: &'a str,
}

impl Recipient<'_> {
    fn value(&self, slot: Slot) -> &str {
        match slot {
            Slot::UnsubscribeUrl => self.unsubscribe_url,
        }
    }
}

/// Rendered output with per-recipient slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    escape: Escape,
}

impl Template {
    /// Splits `rendered` at every occurrence of each marker, turning them into slots.
    pub(crate) fn from_marked(rendered: &str, markers: &[(&str, Slot)], escape: Escape) -> Self {
        let mut parts = Vec::new();
        let mut rest = rendered;
        loop {
            let next = markers
                .iter()
                .filter_map(|(m, slot)| rest.find(m).map(|i| (i, m.len(), *slot)))
                .min_by_key(|(i, _, _)| *i);
            match next {
                Some((i, len, slot)) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_string()));
                    }
                    parts.push(Part::Slot(slot));
                    rest = &rest[i + len..];
                }
                None => {
                    if !rest.is_empty() {
                        parts.push(Part::Literal(rest.to_string()));
                    }
                    return Self { parts, escape };
                }
            }
        }
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// How many times `slot` occurs.
    pub fn slot_count(&self, slot: Slot) -> usize {
        self.parts
            .iter()
            .filter(|p| **p == Part::Slot(slot))
            .count()
    }

    /// Escapes a slot value for this template's context.
    pub fn escape_value<'v>(&self, value: &'v str) -> Cow<'v, str> {
        match self.escape {
            Escape::None => Cow::Borrowed(value),
            Escape::Html => html_escape(value),
        }
    }

    /// The filled output for one recipient.
    pub fn fill(&self, r: &Recipient<'_>) -> String {
        let mut out = String::with_capacity(self.literal_len() + 256);
        self.fill_into(r, &mut out);
        out
    }

    /// Appends the filled output for one recipient to `out`.
    pub fn fill_into(&self, r: &Recipient<'_>, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Slot(slot) => out.push_str(&self.escape_value(r.value(*slot))),
            }
        }
    }

    /// Bytes of literal text (the size without any slot values).
    pub fn literal_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.len(),
                Part::Slot(_) => 0,
            })
            .sum()
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn html_escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_fills() {
        let t = Template::from_marked(
            "<a href=\"@U@\">x</a> and @U@",
            &[("@U@", Slot::UnsubscribeUrl)],
            Escape::Html,
        );
        assert_eq!(t.slot_count(Slot::UnsubscribeUrl), 2);
        let r = Recipient {
            unsubscribe_url: "https://x.example/u?a=1&b=2",
        };
        assert_eq!(
            t.fill(&r),
            "<a href=\"https://x.example/u?a=1&amp;b=2\">x</a> and https://x.example/u?a=1&amp;b=2"
        );
        let plain =
            Template::from_marked("see @U@", &[("@U@", Slot::UnsubscribeUrl)], Escape::None);
        assert_eq!(plain.fill(&r), "see https://x.example/u?a=1&b=2");
    }
}
