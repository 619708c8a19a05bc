//! Finds text that is UTF-8 misread as Windows-1252 or MacRoman, by round-tripping each span: the
//! span is encoded back to the bytes it was misread from, and if those bytes are valid UTF-8 (and
//! plausible text), the span is damage and the decoded text is its repair.
//!
//! Damage is always a run of non-ASCII characters (every byte of a UTF-8 sequence is ≥ 0x80, and both
//! encodings map those bytes to non-ASCII characters). Legitimate text next to damage on the same line
//! is left alone because each run is tried piece by piece. A single character never round-trips to a
//! complete UTF-8 sequence, so `Ã` in a Portuguese word or `√` in maths is never flagged.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

/// One damaged span and its repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Byte range in the text.
    pub range: Range<usize>,
    /// What is there now, e.g. `Ã¼`.
    pub damaged: String,
    /// What was meant, e.g. `ü`.
    pub repaired: String,
    /// The encoding it was misread as: `Windows-1252` or `MacRoman`.
    pub encoding: &'static str,
}

struct Table {
    name: &'static str,
    to_byte: HashMap<char, u8>,
}

fn tables() -> &'static [Table; 2] {
    static TABLES: OnceLock<[Table; 2]> = OnceLock::new();
    TABLES.get_or_init(|| {
        let build = |name, enc: &'static encoding_rs::Encoding| {
            let mut to_byte = HashMap::new();
            for b in 0x80u8..=0xFF {
                let byte = [b];
                let (s, _, had_errors) = enc.decode(&byte);
                let mut chars = s.chars();
                if let (Some(c), None, false) = (chars.next(), chars.next(), had_errors) {
                    to_byte.insert(c, b);
                }
            }
            Table { name, to_byte }
        };
        [
            build("Windows-1252", encoding_rs::WINDOWS_1252),
            build("MacRoman", encoding_rs::MACINTOSH),
        ]
    })
}

/// Characters a repair may produce: the scripts, punctuation and symbols real text uses. Anything
/// else (C1 controls, IPA, click letters, lone combining marks, private use) means the span was not
/// damage: `«É` in MacRoman would "repair" to U+01C3, a letter nobody writes.
fn plausible(c: char) -> bool {
    matches!(u32::from(c),
        0x20..=0x7E
        | 0xA0..=0x17F          // Latin-1 Supplement, Latin Extended-A
        | 0x218..=0x21B         // Romanian ș ț
        | 0x370..=0x3FF         // Greek
        | 0x400..=0x52F         // Cyrillic
        | 0x590..=0x6FF         // Hebrew, Arabic
        | 0x900..=0xE7F         // Indic scripts, Thai
        | 0x1E00..=0x1EFF       // Latin Extended Additional (Vietnamese)
        | 0x2000..=0x2BFF       // punctuation, currency, letterlike, arrows, maths, symbols, dingbats
        | 0x3000..=0x30FF       // CJK punctuation, kana
        | 0x3400..=0x9FFF       // CJK ideographs
        | 0xAC00..=0xD7AF       // Hangul
        | 0x1100..=0x11FF       // Hangul Jamo (decomposed Korean, as macOS file names store it)
        | 0x3130..=0x318F       // Hangul compatibility Jamo
        | 0xFE0F                // emoji presentation selector
        | 0xFF00..=0xFFEF       // full-width forms
        | 0x1F000..=0x1FAFF) // emoji and pictographs
}

/// Combining marks: plausible in a repair only after a letter (decomposed text, `e` + U+0301), never
/// on their own.
fn is_combining(c: char) -> bool {
    matches!(u32::from(c),
        0x300..=0x36F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// The repair of `chars` if they are UTF-8 misread through `table`. `prev` is the character before
/// them in the repaired text, which a leading combining mark attaches to.
fn round_trip(chars: &[char], table: &Table, prev: Option<char>) -> Option<String> {
    let bytes: Option<Vec<u8>> = chars
        .iter()
        .map(|c| table.to_byte.get(c).copied())
        .collect();
    let s = String::from_utf8(bytes?).ok()?;
    let mut last = prev;
    for c in s.chars() {
        let ok = if is_combining(c) {
            last.is_some_and(|l| l.is_alphanumeric() || is_combining(l))
        } else {
            plausible(c)
        };
        if !ok {
            return None;
        }
        last = Some(c);
    }
    Some(s)
}

/// Longest run tried at once; longer runs are tried in windows of this size.
const MAX_RUN: usize = 96;

/// Every damaged span in `text`, in order.
pub fn find(text: &str) -> Vec<Repair> {
    let mut repairs = Vec::new();
    let mut run: Vec<(usize, char)> = Vec::new();
    let bytes = text.as_bytes();
    let mut pos = 0;
    // Runs of at most MAX_RUN non-ASCII characters; the ASCII between them is skipped byte-wise
    // (the first byte of 0x80 or more after ASCII starts a character).
    while let Some(k) = bytes[pos..].iter().position(|&b| b >= 0x80) {
        pos += k;
        run.clear();
        for (i, c) in text[pos..].char_indices() {
            if c.is_ascii() || run.len() >= MAX_RUN {
                break;
            }
            run.push((pos + i, c));
        }
        if run.len() >= 2 {
            scan_run(text, &run, &mut repairs);
        }
        pos = run.last().map_or(pos + 1, |&(i, c)| i + c.len_utf8());
    }
    repairs
}

fn scan_run(text: &str, run: &[(usize, char)], out: &mut Vec<Repair>) {
    let chars: Vec<char> = run.iter().map(|&(_, c)| c).collect();
    let end_of = |k: usize| {
        run.get(k)
            .map_or_else(|| run[k - 1].0 + run[k - 1].1.len_utf8(), |&(o, _)| o)
    };
    let mut i = 0;
    let mut prev = text[..run[0].0].chars().next_back();
    while i + 1 < chars.len() {
        let found = (i + 2..=chars.len()).rev().find_map(|j| {
            tables()
                .iter()
                .find_map(|t| round_trip(&chars[i..j], t, prev).map(|s| (j, s, t.name)))
        });
        match found {
            Some((j, repaired, encoding)) => {
                let range = run[i].0..end_of(j);
                prev = repaired.chars().next_back();
                out.push(Repair {
                    damaged: text[range.clone()].to_string(),
                    range,
                    repaired,
                    encoding,
                });
                i = j;
            }
            None => {
                prev = Some(chars[i]);
                i += 1;
            }
        }
    }
}

/// `text` with every repair applied.
pub fn apply(text: &str, repairs: &[Repair]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for r in repairs {
        out.push_str(&text[pos..r.range.start]);
        out.push_str(&r.repaired);
        pos = r.range.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn misread(s: &str, enc: &'static encoding_rs::Encoding) -> String {
        enc.decode(s.as_bytes()).0.into_owned()
    }

    #[test]
    fn repairs_windows_1252_and_macroman_byte_exactly() {
        for original in [
            "🦀",
            "Nürnberg",
            "SecureDrop’s",
            "introducción",
            "Довгий шлях",
            "2024 🦀 Encore ✨ Talks",
        ] {
            for enc in [encoding_rs::WINDOWS_1252, encoding_rs::MACINTOSH] {
                let damaged = misread(original, enc);
                let repairs = find(&damaged);
                assert!(!repairs.is_empty(), "{damaged:?} not found");
                assert_eq!(apply(&damaged, &repairs), original, "{damaged:?}");
            }
        }
    }

    #[test]
    fn repairs_decomposed_text_byte_exactly() {
        // Rémy, Vietnamese and Korean as macOS writes them (NFD), then misread.
        for original in [
            "Re\u{301}my",
            "Tie\u{302}\u{301}ng Vie\u{323}\u{302}t",
            "\u{1112}\u{1161}\u{11AB}\u{1100}\u{1173}\u{11AF}",
            "Jose\u{301} and Zoe\u{308}",
        ] {
            for enc in [encoding_rs::WINDOWS_1252, encoding_rs::MACINTOSH] {
                let damaged = misread(original, enc);
                let repairs = find(&damaged);
                assert_eq!(
                    apply(&damaged, &repairs),
                    original,
                    "{damaged:?} ({})",
                    enc.name()
                );
            }
        }
    }

    #[test]
    fn clean_decomposed_text_is_never_flagged() {
        for ok in [
            "Re\u{301}my Cafe\u{301} na\u{308}ive",
            "Tie\u{302}\u{301}ng Vie\u{323}\u{302}t, Ngu\u{31b}o\u{31b}\u{300}i",
            "\u{1112}\u{1161}\u{11AB}\u{1100}\u{1173}\u{11AF} \u{D55C}\u{AE00}",
            "\u{915}\u{94D}\u{937} \u{CE8}\u{CBE}",
        ] {
            assert!(find(ok).is_empty(), "{ok}: {:?}", find(ok));
        }
    }

    #[test]
    fn the_macroman_crab_starts_with_the_apple_logo() {
        let damaged = misread("🦀", encoding_rs::MACINTOSH);
        assert!(damaged.starts_with('\u{F8FF}'));
        assert_eq!(find(&damaged)[0].encoding, "MacRoman");
    }

    #[test]
    fn mixed_lines_are_repaired_span_by_span() {
        let line = format!(
            "Rust München online {}",
            misread("🦀", encoding_rs::MACINTOSH)
        );
        let repairs = find(&line);
        assert_eq!(repairs.len(), 1);
        assert_eq!(apply(&line, &repairs), "Rust München online 🦀");
        let adjacent = format!("ü{}", misread("ü", encoding_rs::WINDOWS_1252));
        assert_eq!(apply(&adjacent, &find(&adjacent)), "üü");
    }

    #[test]
    fn legitimate_text_is_never_flagged() {
        for ok in [
            "SÃO PAULO, São Paulo, ação, Ñandú, señor, Müller, Straße, Ærø, Œuvre",
            "√2 ≈ 1.414, ∑ xᵢ, π ≤ 4, x² + y² = z², ±½, 90°, µs, ×÷",
            "Привет, мир! Довгий шлях — Ελληνικά",
            "日本語のテキスト, 한국어, 中文",
            "🦀 ✨ 🎉 ❤️ 👩‍💻",
            "– Johannes Lade · “quoted” ‘single’ … •",
            "«Été» « Noël », ¿Qué? ¡Sí!",
        ] {
            assert!(find(ok).is_empty(), "{ok}: {:?}", find(ok));
        }
    }
}
