//! Raw HTML in an issue, read the way CommonMark reads it: which `<…>` are tags, what they are called,
//! and what their attributes say; and a URL's scheme as a browser reads it, with the schemes that must
//! never reach a subscriber. The renderer uses it to decide what may pass to a mail client; `check`
//! uses it to find what a mail client would hide. It depends on no other part of `render`.

use std::ops::Range;

/// The elements of HTML (current and obsolete). A tag whose name is not here (`<u8>`, `<T>`,
/// `<Feature>`) is not markup an author meant: it is text that a browser would swallow.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "article",
    "aside",
    "audio",
    "b",
    "base",
    "basefont",
    "bdi",
    "bdo",
    "big",
    "blink",
    "blockquote",
    "body",
    "br",
    "button",
    "canvas",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "datalist",
    "dd",
    "del",
    "details",
    "dfn",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "font",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "i",
    "iframe",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "link",
    "main",
    "map",
    "mark",
    "marquee",
    "math",
    "menu",
    "meta",
    "meter",
    "nav",
    "nobr",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "optgroup",
    "option",
    "output",
    "p",
    "param",
    "picture",
    "plaintext",
    "pre",
    "progress",
    "q",
    "rb",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "script",
    "search",
    "section",
    "select",
    "slot",
    "small",
    "source",
    "span",
    "strike",
    "strong",
    "style",
    "sub",
    "summary",
    "sup",
    "svg",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "title",
    "tr",
    "track",
    "tt",
    "u",
    "ul",
    "var",
    "video",
    "wbr",
    "xmp",
];

/// True for the name of an HTML element (case-insensitive).
pub fn is_element(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ELEMENTS.binary_search(&lower.as_str()).is_ok()
}

/// One tag found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Byte range of the whole tag, `<` to `>`.
    pub range: Range<usize>,
    /// The name as written.
    pub name: String,
    /// `</name>`.
    pub closing: bool,
    /// Attributes as written: lowercase name, value (unquoted, entities left as they are).
    pub attributes: Vec<(String, String)>,
}

impl Tag {
    /// True when this is not markup but text that happens to look like a tag: the name is not an HTML
    /// element (`<u8>`), or it is a one-letter element in capitals right after a word, where Rust
    /// puts a type parameter (`Box<T>`, `Foo<S>`, `Vec<B>`).
    pub fn is_not_markup(&self, text_before: &str) -> bool {
        if !is_element(&self.name) {
            return true;
        }
        self.name.len() == 1
            && self.name.bytes().all(|b| b.is_ascii_uppercase())
            && self.attributes.is_empty()
            && text_before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '&')
    }

    /// The value of an attribute (case-insensitive name).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the tag carries script: an `on…` event handler, or a URL attribute whose scheme runs
    /// code or embeds content (`href="javascript:…"`, `src="data:…"`).
    pub fn is_active(&self) -> bool {
        self.attributes.iter().any(|(n, v)| {
            (n.starts_with("on") && n.len() > 2)
                || (URL_ATTRIBUTES.contains(&n.as_str())
                    && scheme(&decode_entities(v)).is_some_and(|s| s.is_blocked()))
        })
    }
}

/// Attributes that hold a URL a client may follow or load.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "action",
    "formaction",
    "background",
    "poster",
    "xlink:href",
    "cite",
    "longdesc",
    "data",
    "lowsrc",
    "dynsrc",
];

/// Schemes a subscriber must never be sent to: they run script, embed content, or point into the
/// reader's own machine. Every other syntactically valid scheme (`https`, `mailto`, `irc`, `ftp`,
/// `tel`, …) is kept as written.
pub const BLOCKED_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "livescript",
    "mocha",
    "data",
    "blob",
    "filesystem",
    "view-source",
    "jar",
    "about",
    "file",
    "mhtml",
    "ms-its",
];

/// A URI scheme, lowercase, held without allocating (schemes are short; longer ones are not schemes
/// we care about and are cut at 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    buf: [u8; 32],
    len: u8,
}

impl Scheme {
    /// The scheme, lowercase, e.g. `https`.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters, digits, `+`, `-` and `.` are ever stored.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    /// True for a scheme that must never reach a subscriber ([`BLOCKED_SCHEMES`]).
    pub fn is_blocked(&self) -> bool {
        BLOCKED_SCHEMES.contains(&self.as_str())
    }
}

impl std::fmt::Debug for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scheme of `url` as a browser finds it (tabs and newlines removed, leading spaces and control
/// characters ignored, case folded), if it has one: RFC 3986 `ALPHA *( ALPHA / DIGIT / + / - / . )`,
/// at least two characters (so `C:\` is not a scheme).
pub fn scheme(url: &str) -> Option<Scheme> {
    let mut out = Scheme {
        buf: [0; 32],
        len: 0,
    };
    for c in url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
    {
        if c == ':' {
            return (out.len >= 2).then_some(out);
        }
        let ok = if out.len == 0 {
            c.is_ascii_alphabetic()
        } else {
            c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
        };
        if !ok || usize::from(out.len) == out.buf.len() {
            return None;
        }
        out.buf[usize::from(out.len)] = c.to_ascii_lowercase() as u8;
        out.len += 1;
    }
    None
}

/// Numeric and the common named character references, so `java&#x73;cript:` is read as a browser
/// reads it. Borrows when there is nothing to decode.
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(after.len());
        let entity = &after[..end];
        let decoded = if let Some(num) = entity.strip_prefix('#') {
            let n = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            n.and_then(char::from_u32)
        } else {
            match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "colon" => Some(':'),
                "Tab" => Some('\t'),
                "NewLine" => Some('\n'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                let skip = end + usize::from(after[end..].starts_with(';'));
                rest = &after[skip..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The tag that starts at `text[0]` (`<` …), per CommonMark's open and closing tag grammar.
pub fn tag_at(text: &str) -> Option<Tag> {
    let b = text.as_bytes();
    if b.first() != Some(&b'<') {
        return None;
    }
    let mut i = 1;
    let closing = b.get(1) == Some(&b'/');
    if closing {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let name_start = i;
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
    {
        i += 1;
    }
    let name = text[name_start..i].to_string();
    let space = |i: &mut usize| {
        let s = *i;
        while b
            .get(*i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            *i += 1;
        }
        *i > s
    };
    let mut attributes = Vec::new();
    if closing {
        space(&mut i);
    } else {
        loop {
            let had_space = space(&mut i);
            let c = *b.get(i)?;
            if c == b'>' || c == b'/' {
                break;
            }
            if !had_space || !(c.is_ascii_alphabetic() || c == b'_' || c == b':') {
                return None;
            }
            let a = i;
            while b.get(i).is_some_and(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-')
            }) {
                i += 1;
            }
            let attr = text[a..i].to_ascii_lowercase();
            let mut j = i;
            space(&mut j);
            let mut value = String::new();
            if b.get(j) == Some(&b'=') {
                j += 1;
                space(&mut j);
                match *b.get(j)? {
                    q @ (b'"' | b'\'') => {
                        let end = text[j + 1..].find(q as char)? + j + 1;
                        value = text[j + 1..end].to_string();
                        j = end + 1;
                    }
                    _ => {
                        let s = j;
                        while b.get(j).is_some_and(|c| {
                            !matches!(
                                c,
                                b' ' | b'\t'
                                    | b'\n'
                                    | b'\r'
                                    | b'"'
                                    | b'\''
                                    | b'='
                                    | b'<'
                                    | b'>'
                                    | b'`'
                            )
                        }) {
                            j += 1;
                        }
                        if j == s {
                            return None;
                        }
                        value = text[s..j].to_string();
                    }
                }
                i = j;
            }
            attributes.push((attr, value));
        }
        if b.get(i) == Some(&b'/') {
            i += 1;
        }
    }
    if b.get(i) != Some(&b'>') {
        return None;
    }
    Some(Tag {
        range: 0..i + 1,
        name,
        closing,
        attributes,
    })
}

/// Every tag in `text` from byte `from` on, skipping backslash-escaped `\<`, autolinks
/// (`<https://…>`) and link destinations written in angle brackets (`](<…>)`).
pub fn tags(text: &str, from: usize) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut pos = from;
    while let Some(i) = text[pos..].find('<') {
        let at = pos + i;
        pos = at + 1;
        let escaped = text[..at].bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1;
        if escaped || text[..at].ends_with("](") {
            continue;
        }
        if let Some(mut tag) = tag_at(&text[at..]) {
            tag.range = at + tag.range.start..at + tag.range.end;
            pos = tag.range.end;
            out.push(tag);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_element_list_is_sorted_for_binary_search() {
        assert!(ELEMENTS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn reads_tags_as_commonmark_does() {
        let t = tag_at("<img class=\"emoji\" alt='🦀' src=x.png width=20/>").unwrap();
        assert_eq!(t.name, "img");
        assert_eq!(t.attribute("alt"), Some("🦀"));
        assert_eq!(t.attribute("src"), Some("x.png"));
        assert!(tag_at("</small >").unwrap().closing);
        assert!(tag_at("<https://example.org>").is_none(), "an autolink");
        assert!(tag_at("< u8>").is_none());
        assert!(tag_at("<3").is_none());
        assert!(tag_at("<a href=\"x>").is_none());
        let found: Vec<String> = tags("impl TryFrom<u8> for X, `a<b>` \\<T> and <br />", 0)
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(found, ["u8", "b", "br"]);
    }

    #[test]
    fn text_that_looks_like_a_tag_is_not_markup() {
        let cases = [
            ("impl TryFrom", "<u8>", true),
            ("Box", "<T>", true),
            ("Foo", "<S>", true),
            ("x ", "<small>", false),
            ("x", "<sup>", false),
            ("a ", "<B>", false),
            ("", "<Feature>", true),
        ];
        for (before, tag, not_markup) in cases {
            let t = tag_at(tag).unwrap();
            assert_eq!(t.is_not_markup(before), not_markup, "{before}{tag}");
        }
    }

    #[test]
    fn script_in_attributes_is_active() {
        for html in [
            "<a href=\"javascript:alert(1)\">",
            "<a href=\"java&#x73;cript:alert(1)\">",
            "<a href='JAVASCRIPT&colon;alert(1)'>",
            "<img src=x onerror=alert(1)>",
            "<img src=\"data:image/png;base64,AAAA\">",
            "<a xlink:href=\"javascript:x\">",
        ] {
            assert!(tag_at(html).unwrap().is_active(), "{html}");
        }
        for html in [
            "<a href=\"https://example.org\">",
            "<img class=\"emoji\" src=\"https://x.example/1f980.png\" alt=\"🦀\">",
            "<small>",
        ] {
            assert!(!tag_at(html).unwrap().is_active(), "{html}");
        }
    }
}
