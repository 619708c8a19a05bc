//! One MIME message per recipient, built by splicing a few bytes into parts encoded once per campaign.
//!
//! The message is `multipart/alternative` (text first, then HTML), UTF-8, quoted-printable. Each
//! literal piece of a [`Template`] is encoded once and ends in a soft line break, so a slot value can be
//! encoded on its own and dropped in between: every line stays within 76 octets (RFC 2045), far below
//! SMTP's 998.

use sha2::{Digest, Sha256};

use crate::config::Mail;
pub use crate::domain::Verp;
use crate::domain::{EmailAddress, UnsubscribeToken, rfc5322_date};
use crate::render::{Part, Recipient, Rendered, Template};

/// Who one message is for.
#[derive(Debug, Clone, Copy)]
pub struct MailRecipient<'a> {
    /// The subscriber's address.
    pub email: &'a EmailAddress,
    /// The subscriber's id in the store; with the campaign it determines the Message-ID.
    pub subscriber_id: i64,
    /// This subscriber's unsubscribe URL (web page and RFC 8058 one-click POST target).
    pub unsubscribe_url: &'a str,
    /// This subscriber's unsubscribe token, for their own `List-Unsubscribe` mailto address.
    pub unsubscribe_token: &'a UnsubscribeToken,
}

enum Piece {
    Encoded(Vec<u8>),
    Slot(Part),
}

struct EncodedTemplate {
    template: Template,
    pieces: Vec<Piece>,
}

impl EncodedTemplate {
    fn new(template: &Template) -> Self {
        let pieces = template
            .parts()
            .iter()
            .map(|p| match p {
                Part::Literal(s) => Piece::Encoded(qp_encode_piece(s.as_bytes())),
                slot @ Part::Slot(_) => Piece::Slot(slot.clone()),
            })
            .collect();
        Self {
            template: template.clone(),
            pieces,
        }
    }

    fn write(&self, r: &Recipient<'_>, out: &mut Vec<u8>) {
        for p in &self.pieces {
            match p {
                Piece::Encoded(b) => out.extend_from_slice(b),
                Piece::Slot(Part::Slot(slot)) => {
                    let value = match slot {
                        crate::render::Slot::UnsubscribeUrl => r.unsubscribe_url,
                    };
                    out.extend_from_slice(&qp_encode_piece(
                        self.template.escape_value(value).as_bytes(),
                    ));
                }
                Piece::Slot(Part::Literal(_)) => {}
            }
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }

    fn encoded_len(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Encoded(b) => b.len(),
                Piece::Slot(_) => 0,
            })
            .sum()
    }
}

/// Builds every recipient's message for one campaign.
pub struct MessageFactory {
    campaign: String,
    /// Makes the keyed Message-IDs (and knows the bounce domain they use).
    ids: Verp,
    /// The local part of the unsubscribe mailto addresses.
    unsubscribe_local: String,
    common_headers: String,
    boundary: String,
    text: EncodedTemplate,
    html: EncodedTemplate,
}

impl MessageFactory {
    /// Prepares a campaign's messages. `campaign` is a short stable key, e.g. `issue-522`; `ids`
    /// signs each Message-ID so that a bounce quoting it proves it is about our delivery.
    pub fn new(rendered: &Rendered, mail: &Mail, campaign: &str, ids: &Verp) -> Self {
        let digest = Sha256::digest(format!("{campaign}\n{}", rendered.title).as_bytes());
        let hex = crate::domain::hex(&digest[..12]);
        // "=_" cannot occur in quoted-printable output, so the boundary never collides with content.
        let boundary = format!("=_nl_{hex}");
        let feedback_id = mail
            .feedback_id
            .replace("{number}", &rendered.number.to_string());
        let mut common = String::new();
        push_header(&mut common, "From", &mailbox(&mail.from));
        push_header(&mut common, "Reply-To", &mailbox(&mail.reply_to));
        push_header(&mut common, "Subject", &encode_words(&rendered.title));
        push_header(&mut common, "List-Id", &mailbox(&mail.list_id));
        push_header(&mut common, "Precedence", "bulk");
        push_header(&mut common, "Auto-Submitted", "auto-generated");
        push_header(&mut common, "Feedback-ID", &feedback_id);
        push_header(&mut common, "MIME-Version", "1.0");
        push_header(
            &mut common,
            "Content-Type",
            &format!("multipart/alternative;\r\n boundary=\"{boundary}\""),
        );
        Self {
            campaign: campaign.to_string(),
            ids: ids.clone(),
            unsubscribe_local: mail.unsubscribe_local.clone(),
            common_headers: common,
            boundary,
            text: EncodedTemplate::new(&rendered.text),
            html: EncodedTemplate::new(&rendered.html),
        }
    }

    /// The Message-ID for a subscriber in this campaign: the same on every attempt.
    pub fn message_id(&self, subscriber_id: i64) -> String {
        self.ids.message_id(&self.campaign, subscriber_id)
    }

    /// The complete message (CRLF line endings) for one recipient, dated `unix_seconds`.
    pub fn for_recipient(&self, r: &MailRecipient<'_>, unix_seconds: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.encoded_len() + self.html.encoded_len() + 2048);
        self.write(r, unix_seconds, &mut out);
        out
    }

    /// Like [`MessageFactory::for_recipient`], appending to `out`.
    pub fn write(&self, r: &MailRecipient<'_>, unix_seconds: i64, out: &mut Vec<u8>) {
        let mut h = String::with_capacity(1024);
        push_header(&mut h, "Date", &rfc5322_date(unix_seconds));
        push_header(&mut h, "To", &format!("<{}>", r.email));
        push_header(&mut h, "Message-ID", &self.message_id(r.subscriber_id));
        let mailto = r
            .unsubscribe_token
            .mailto_address(&self.unsubscribe_local, self.ids.domain());
        push_header(
            &mut h,
            "List-Unsubscribe",
            &format!(
                "<{}>,\r\n <mailto:{mailto}?subject=unsubscribe>",
                r.unsubscribe_url
            ),
        );
        push_header(
            &mut h,
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click",
        );
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(self.common_headers.as_bytes());
        out.extend_from_slice(b"\r\nThis is a multi-part message in MIME format.\r\n");
        let slot = Recipient {
            unsubscribe_url: r.unsubscribe_url,
        };
        for (ctype, part) in [("text/plain", &self.text), ("text/html", &self.html)] {
            out.extend_from_slice(
                format!(
                    "\r\n--{}\r\nContent-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                    self.boundary
                )
                .as_bytes(),
            );
            part.write(&slot, out);
        }
        out.extend_from_slice(format!("\r\n--{}--\r\n", self.boundary).as_bytes());
    }
}

fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

/// `Name <addr>` with a non-ASCII name encoded (RFC 2047); ASCII names are quoted when needed.
fn mailbox(s: &str) -> String {
    let s = s.trim();
    match s.rfind('<') {
        Some(i) if i > 0 => {
            let name = s[..i].trim().trim_matches('"');
            let addr = &s[i..];
            if !name.is_ascii() {
                format!("{} {addr}", encode_words(name))
            } else if name.contains([',', ';', ':', '@', '.', '(', ')', '[', ']', '"', '\\']) {
                format!(
                    "\"{}\" {addr}",
                    name.replace('\\', "\\\\").replace('"', "\\\"")
                )
            } else {
                format!("{name} {addr}")
            }
        }
        _ => s.to_string(),
    }
}

/// Encodes a header text as RFC 2047 `B` encoded-words when it is not plain ASCII, folding long values.
pub fn encode_words(text: &str) -> String {
    use base64::Engine;
    if text.is_ascii() && !text.contains("=?") && !text.chars().any(|c| c.is_ascii_control()) {
        return fold_ascii(text);
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(if c.is_control() { ' ' } else { c });
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn fold_ascii(text: &str) -> String {
    let mut out = String::new();
    let mut line_len = 10; // room for the header name
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if line_len + 1 + word.len() > 76 {
                out.push_str("\r\n ");
                line_len = 1;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

/// Quoted-printable encodes `input` (`\n` or `\r\n` line ends become CRLF hard breaks). The result
/// always ends at the start of a line: with a hard break if the input ended with one, otherwise with a
/// soft break, so the next piece can follow directly.
pub fn qp_encode_piece(input: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 8);
    let mut col = 0usize;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'\r' && input.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
            col = 0;
            i += 1;
            continue;
        }
        let at_line_end = matches!(input.get(i + 1), None | Some(b'\n') | Some(b'\r'));
        let literal = match b {
            b'=' => false,
            b' ' | b'\t' => !at_line_end,
            b'.' if col == 0 => false,
            b'F' if col == 0 && input[i..].starts_with(b"From ") => false,
            33..=126 => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        // Keep one column for the soft-break "=".
        if col + width > 75 {
            out.extend_from_slice(b"=\r\n");
            col = 0;
            // A new line may start with "." or "From ": re-evaluate this byte.
            continue;
        }
        if literal {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        col += width;
        i += 1;
    }
    if col > 0 {
        out.extend_from_slice(b"=\r\n");
    }
    out
}

/// A short plain-text message (for example the double opt-in confirmation): UTF-8, quoted-printable.
pub fn simple_message(
    mail: &Mail,
    to: &EmailAddress,
    subject: &str,
    text: &str,
    unix_seconds: i64,
) -> Vec<u8> {
    let id = crate::domain::UnsubscribeToken::generate();
    let mut h = String::new();
    push_header(&mut h, "Date", &rfc5322_date(unix_seconds));
    push_header(&mut h, "From", &mailbox(&mail.from));
    push_header(&mut h, "To", &format!("<{to}>"));
    push_header(&mut h, "Subject", &encode_words(subject));
    push_header(
        &mut h,
        "Message-ID",
        &format!("<confirm.{}@{}>", id.expose(), mail.bounce_domain),
    );
    push_header(&mut h, "Auto-Submitted", "auto-generated");
    push_header(&mut h, "MIME-Version", "1.0");
    push_header(&mut h, "Content-Type", "text/plain; charset=utf-8");
    push_header(&mut h, "Content-Transfer-Encoding", "quoted-printable");
    let mut out = h.into_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&qp_encode_piece(text.as_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qp_decode(input: &[u8]) -> Vec<u8> {
        let s = String::from_utf8(input.to_vec()).unwrap();
        let mut out = Vec::new();
        let joined = s.replace("=\r\n", "");
        let b = joined.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else if b[i] == b'\r' {
                i += 1;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn qp_round_trips_and_keeps_lines_short() {
        let input = "Rust Nürnberg 🦀 a=b \n.dot\nFrom here\n".to_string()
            + &"x".repeat(300)
            + "\ttrailing \n";
        let enc = qp_encode_piece(input.as_bytes());
        for line in enc.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{}", String::from_utf8_lossy(line));
            assert!(!line.starts_with(b"."));
            assert!(!line.starts_with(b"From "));
        }
        assert_eq!(qp_decode(&enc), input.as_bytes());
        let piece = qp_encode_piece(b"no newline");
        assert!(piece.ends_with(b"=\r\n"));
        assert_eq!(qp_decode(&piece), b"no newline");
    }

    #[test]
    fn headers_are_encoded() {
        assert_eq!(
            encode_words("This Week in Rust 522"),
            "This Week in Rust 522"
        );
        assert!(encode_words("Rust 🦀 news").starts_with("=?utf-8?B?"));
        assert_eq!(mailbox("TWiR <a@b.org>"), "TWiR <a@b.org>");
        assert_eq!(
            mailbox("This Week in Rust, Editors <a@b.org>"),
            "\"This Week in Rust, Editors\" <a@b.org>"
        );
        assert!(mailbox("Zoë <a@b.org>").starts_with("=?utf-8?B?"));
    }
}
