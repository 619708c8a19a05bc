//! A quick look at a message's MIME structure before it is parsed: how deep its parts nest and how
//! many there are. A MIME parser walks every part, and a crafted message of 2 MB can nest 50,000
//! multiparts, which costs the parser tens of seconds. This scan is one pass over the lines, stops as
//! soon as a limit is crossed, and follows what the parser would follow: multipart boundaries,
//! `message/rfc822` parts, and `message/*` parts sent in base64 or quoted-printable (decoded and
//! scanned with the same budget).

use base64::Engine;

/// How deep parts may nest (multiparts and enclosed messages together).
pub const MAX_DEPTH: usize = 32;
/// How many parts a message may have, enclosed messages included.
pub const MAX_PARTS: usize = 500;
/// How many times an enclosed message may itself be encoded (the parser's own limit is lower).
const MAX_ENCODED: usize = 3;

/// Why a message's structure is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooComplex {
    #[error("its MIME parts nest more than {MAX_DEPTH} levels deep; not parsed")]
    Depth,
    #[error("it has more than {MAX_PARTS} MIME parts; not parsed")]
    Parts,
    #[error(
        "it nests more than {MAX_DEPTH} multiparts whose boundary this reader cannot follow; not parsed"
    )]
    UnreadableBoundaries,
}

/// Checks that `bytes` nests at most [`MAX_DEPTH`] levels and has at most [`MAX_PARTS`] parts.
pub fn check(bytes: &[u8]) -> Result<(), TooComplex> {
    let mut parts = 0;
    scan(bytes, 0, MAX_ENCODED, &mut parts)
}

/// The headers of one entity that matter to its structure.
#[derive(Default)]
struct Entity {
    /// `type/subtype`, lowercase.
    content_type: String,
    boundary: Option<Vec<u8>>,
    /// `Content-Transfer-Encoding`, lowercase.
    encoding: String,
    /// The header being read (unfolded), to be interpreted when the next one starts.
    pending: Vec<u8>,
    /// A `boundary*` parameter (RFC 2231) that was not read.
    odd_boundary: bool,
}

impl Entity {
    fn header_line(&mut self, line: &[u8]) {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            self.pending.push(b' ');
            self.pending.extend_from_slice(line);
        } else {
            self.finish_header();
            self.pending.extend_from_slice(line);
        }
    }

    fn finish_header(&mut self) {
        let header = std::mem::take(&mut self.pending);
        let Some(colon) = header.iter().position(|&b| b == b':') else {
            return;
        };
        let name = header[..colon].trim_ascii();
        let value = String::from_utf8_lossy(header[colon + 1..].trim_ascii()).to_ascii_lowercase();
        if name.eq_ignore_ascii_case(b"content-type") {
            let mut params = value.split(';');
            self.content_type = params.next().unwrap_or("").trim().to_string();
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let k = k.trim();
                if k == "boundary" {
                    // The original bytes, not lowercased: boundaries compare case-sensitively.
                    self.boundary = original_param(&header[colon + 1..], "boundary")
                        .or_else(|| Some(v.trim().trim_matches('"').as_bytes().to_vec()))
                        .filter(|b| !b.is_empty());
                } else if k.starts_with("boundary*") {
                    self.odd_boundary = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            self.encoding = value.trim().to_string();
        }
    }
}

/// The value of parameter `name` in a header value, with its case kept.
fn original_param(value: &[u8], name: &str) -> Option<Vec<u8>> {
    let lower = value.to_ascii_lowercase();
    let needle = format!("{name}=");
    let mut from = 0;
    while let Some(at) = find(&lower[from..], needle.as_bytes()).map(|i| i + from) {
        let before = lower[..at].trim_ascii_end();
        if before.last().is_none_or(|&b| b == b';') {
            let rest = &value[at + needle.len()..];
            let v = if let Some(quoted) = rest.strip_prefix(b"\"") {
                let end = quoted
                    .iter()
                    .position(|&b| b == b'"')
                    .unwrap_or(quoted.len());
                &quoted[..end]
            } else {
                let end = rest
                    .iter()
                    .position(|&b| b == b';' || b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                &rest[..end]
            };
            return Some(v.to_vec());
        }
        from = at + needle.len();
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What the scan is reading.
enum Mode {
    Headers(Entity),
    Body,
}

/// An open container: a multipart (its boundary, and whether it is a digest, whose parts are
/// messages unless they say otherwise) or an enclosed message (none).
type Frame = Option<(Vec<u8>, bool)>;

/// Where `--boundary` first occurs in `line`: its start and the index just past it. Like the
/// parser, anywhere in the line, not only at its start.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(at) = find(&line[from..], b"--").map(|i| i + from) {
        if line[at + 2..].starts_with(boundary) {
            return Some((at, at + 2 + boundary.len()));
        }
        from = at + 1;
    }
    None
}

fn scan(
    bytes: &[u8],
    base_depth: usize,
    encoded_left: usize,
    parts: &mut usize,
) -> Result<(), TooComplex> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut mode = Mode::Headers(Entity::default());
    // The body of an encoded enclosed message, gathered until its part ends.
    let mut captured: Option<(Vec<u8>, String, usize)> = None;
    let mut unreadable = 0usize;
    *parts += 1;
    for raw in bytes.split(|&b| b == b'\n') {
        let mut line = raw.strip_suffix(b"\r").unwrap_or(raw);
        loop {
            match &mut mode {
                Mode::Headers(entity) if !line.is_empty() => {
                    entity.header_line(line);
                    break;
                }
                Mode::Headers(entity) => {
                    entity.finish_header();
                    let mut entity = std::mem::take(entity);
                    mode = Mode::Body;
                    let in_digest = matches!(stack.last(), Some(Some((_, true))));
                    if entity.content_type.is_empty() && in_digest {
                        entity.content_type = "message/rfc822".into();
                    }
                    let main_type = entity.content_type.split('/').next().unwrap_or("");
                    if main_type == "multipart" {
                        let digest = entity.content_type == "multipart/digest";
                        match entity.boundary {
                            Some(b) => {
                                stack.push(Some((b, digest)));
                                if base_depth + stack.len() > MAX_DEPTH {
                                    return Err(TooComplex::Depth);
                                }
                            }
                            None => {
                                unreadable += 1;
                                if entity.odd_boundary && unreadable > MAX_DEPTH {
                                    return Err(TooComplex::UnreadableBoundaries);
                                }
                            }
                        }
                    } else if matches!(
                        entity.content_type.as_str(),
                        "message/rfc822" | "message/global"
                    ) {
                        if base_depth + stack.len() + 1 > MAX_DEPTH {
                            return Err(TooComplex::Depth);
                        }
                        match entity.encoding.as_str() {
                            "base64" | "quoted-printable" => {
                                captured = Some((
                                    Vec::new(),
                                    entity.encoding,
                                    base_depth + stack.len() + 1,
                                ));
                            }
                            _ => {
                                // The enclosed message's own headers follow at once.
                                stack.push(None);
                                *parts += 1;
                                if *parts > MAX_PARTS {
                                    return Err(TooComplex::Parts);
                                }
                                mode = Mode::Headers(Entity::default());
                            }
                        }
                    }
                    break;
                }
                Mode::Body => {
                    // Like the parser, only the innermost multipart's boundary ends a part: an
                    // outer one met inside does not close the inner ones.
                    let hit = stack.iter().rposition(Option::is_some).and_then(|i| {
                        let (b, _) = stack[i].as_ref()?;
                        delimiter(line, b).map(|(start, end)| (i, start, end))
                    });
                    let Some((i, start, end)) = hit else {
                        if let Some((body, _, _)) = &mut captured {
                            body.extend_from_slice(line);
                            body.push(b'\n');
                        }
                        break;
                    };
                    if let Some((mut body, encoding, depth)) = captured.take() {
                        body.extend_from_slice(&line[..start]);
                        if encoded_left > 0 {
                            scan(&decode(&body, &encoding), depth, encoded_left - 1, parts)?;
                        }
                    }
                    let after = &line[end..];
                    if let Some(rest) = after.strip_prefix(b"--") {
                        stack.truncate(i);
                        line = rest;
                    } else {
                        stack.truncate(i + 1);
                        *parts += 1;
                        if *parts > MAX_PARTS {
                            return Err(TooComplex::Parts);
                        }
                        mode = Mode::Headers(Entity::default());
                        line = after.trim_ascii_start();
                    }
                    if line.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    if let Some((body, encoding, depth)) = captured.take()
        && encoded_left > 0
    {
        scan(&decode(&body, &encoding), depth, encoded_left - 1, parts)?;
    }
    Ok(())
}

/// Decodes a transfer-encoded body, leniently (what cannot be decoded is dropped).
fn decode(body: &[u8], encoding: &str) -> Vec<u8> {
    if encoding == "base64" {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::RequireNone),
        );
        let mut clean: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
            .collect();
        // A lone last character holds no whole byte.
        if clean.len() % 4 == 1 {
            clean.pop();
        }
        LENIENT.decode(&clean).unwrap_or_default()
    } else {
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                b'=' if body.get(i + 1) == Some(&b'\n') => i += 2,
                b'=' if body.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
                b'=' => match body
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                },
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Vec<u8> {
        let mut m = String::from("From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n");
        for i in 0..levels {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        m.push_str("Content-Type: text/plain\r\n\r\nhello\r\n");
        for i in (0..levels).rev() {
            m.push_str(&format!("--b{i}--\r\n"));
        }
        m.into_bytes()
    }

    #[test]
    fn ordinary_nesting_passes_and_deep_nesting_is_refused() {
        assert_eq!(check(&nested(3)), Ok(()));
        assert_eq!(check(&nested(MAX_DEPTH)), Ok(()));
        assert_eq!(check(&nested(MAX_DEPTH + 1)), Err(TooComplex::Depth));
        let start = std::time::Instant::now();
        assert_eq!(check(&nested(50_000)), Err(TooComplex::Depth));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn many_siblings_are_refused() {
        let mut m = String::from("Content-Type: multipart/mixed; boundary=Q\r\n\r\n");
        for _ in 0..MAX_PARTS {
            m.push_str("--Q\r\nContent-Type: text/plain\r\n\r\nx\r\n");
        }
        m.push_str("--Q--\r\n");
        assert_eq!(check(m.as_bytes()), Err(TooComplex::Parts));
    }

    #[test]
    fn siblings_closed_in_turn_stay_shallow() {
        let mut m = String::from("Content-Type: multipart/mixed; boundary=Q\r\n\r\n");
        for i in 0..100 {
            m.push_str(&format!(
                "--Q\r\nContent-Type: multipart/alternative; boundary=i{i}\r\n\r\n--i{i}\r\nContent-Type: text/plain\r\n\r\nx\r\n--i{i}--\r\n"
            ));
        }
        m.push_str("--Q--\r\n");
        assert_eq!(check(m.as_bytes()), Ok(()));
    }

    #[test]
    fn an_outer_boundary_inside_does_not_hide_depth() {
        // The parser seeks only the innermost boundary: an outer one met inside closes nothing.
        let mut m = String::from("Content-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\n");
        for i in 0..MAX_DEPTH {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=i{i}\r\n\r\n--Q\r\nx --i{i}\r\n"
            ));
        }
        m.push_str("Content-Type: text/plain\r\n\r\nx\r\n");
        assert_eq!(check(m.as_bytes()), Err(TooComplex::Depth));
    }

    #[test]
    fn delimiters_count_anywhere_in_a_line() {
        // `x--b` opens a part for the parser, and the headers may follow on the same line.
        let mut m = String::new();
        for i in 0..=MAX_DEPTH {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\n\nfiller --b{i} "
            ));
        }
        m.push_str("Content-Type: text/plain\n\nx\n");
        assert_eq!(check(m.as_bytes()), Err(TooComplex::Depth));
        assert_eq!(delimiter(b"a---b", b"b"), Some((2, 5)));
        assert_eq!(delimiter(b"--b--", b"b"), Some((0, 3)));
        assert_eq!(delimiter(b"--c", b"b"), None);
        assert_eq!(delimiter(b"x-------=_P", b"----=_P"), Some((2, 11)));
    }

    #[test]
    fn a_digest_s_parts_are_messages() {
        // In a multipart/digest a part without a Content-Type is a message: its own parts count.
        let inner = String::from_utf8(nested(MAX_DEPTH)).unwrap();
        let digest = format!(
            "Content-Type: multipart/digest; boundary=D\r\n\r\n--D\r\n\r\n{inner}\r\n--D--\r\n"
        );
        assert_eq!(check(digest.as_bytes()), Err(TooComplex::Depth));
    }

    #[test]
    fn encoded_enclosed_messages_are_scanned_too() {
        let inner = nested(MAX_DEPTH);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&inner);
        let wrapped = |body: &str, enc: &str| {
            format!(
                "Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--R\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: {enc}\r\n\r\n{body}\r\n--R--\r\n"
            )
        };
        assert_eq!(
            check(wrapped(&b64, "base64").as_bytes()),
            Err(TooComplex::Depth)
        );
        let shallow = base64::engine::general_purpose::STANDARD.encode(nested(2));
        assert_eq!(check(wrapped(&shallow, "base64").as_bytes()), Ok(()));
        // A plain enclosed message counts one level, and its own parts count.
        let plain = String::from_utf8(nested(MAX_DEPTH - 1)).unwrap();
        assert_eq!(
            check(wrapped(&plain, "7bit").as_bytes()),
            Err(TooComplex::Depth)
        );
    }
}
