//! The HTML sanitizer between comrak and the e-mail frame: the body's HTML is parsed by a real HTML
//! parser (html5ever, through ammonia) and rebuilt from an allow-list, so no trick of the markup
//! (`<noscript><p title="</noscript><img onerror=…>">`, entity-encoded schemes, broken quoting) can
//! bring an event handler, a script or a frame into the message. The Markdown layer
//! ([`super::markdown`]) still shows text that only looks like a tag as text; this is the safety net
//! under it, and `check` reports against the same lists ([`allows_tag`], [`allows_attribute`]).

use std::collections::{HashMap, HashSet};

/// Elements that reach the e-mail: what comrak writes for Markdown, and the inline markup issues use
/// in raw HTML (`<small>`, `<br />`, `<sup>`, `<details>`…).
pub const ALLOWED_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "center",
    "cite",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
    "var",
];

/// Attributes allowed on every allowed element. `class` picks a rule of the operator's stylesheet
/// (`img.emoji`, `div.table-wrap`); `style` is not here: inline style is the stylesheet's job.
pub const GENERIC_ATTRIBUTES: &[&str] = &["class", "dir", "lang", "title"];

/// Attributes allowed on one element.
pub const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href"]),
    ("img", &["align", "alt", "height", "src", "width"]),
    ("ol", &["start", "type"]),
    ("td", &["align", "colspan", "rowspan"]),
    ("th", &["align", "colspan", "rowspan"]),
    ("time", &["datetime"]),
    ("details", &["open"]),
];

/// Elements that are dropped AND whose presence means script could run or the markup was built to
/// be read differently by different parsers (the `noscript`, `style` and `template` tricks).
/// `check` reports these as errors; other dropped elements as warnings.
pub const SCRIPT_TAGS: &[&str] = &[
    "applet",
    "base",
    "embed",
    "frame",
    "frameset",
    "iframe",
    "link",
    "math",
    "meta",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "plaintext",
    "script",
    "style",
    "svg",
    "template",
    "xmp",
];

/// Elements whose content is dropped with them (script text, style sheets).
const CLEAN_CONTENT_TAGS: &[&str] = &["script", "style"];

/// Link schemes allowed in any `href` or `src`, besides those of the issue's own Markdown links
/// (already vetted by [`super::markdown::classify_target`]).
pub const URL_SCHEMES: &[&str] = &[
    "ftp", "ftps", "geo", "http", "https", "irc", "ircs", "magnet", "mailto", "matrix", "news",
    "nntp", "sip", "sms", "ssh", "tel", "webcal", "xmpp",
];

/// True when the sanitizer keeps the element `tag` (lowercase).
pub fn allows_tag(tag: &str) -> bool {
    ALLOWED_TAGS.contains(&tag)
}

/// True when the sanitizer keeps attribute `attr` on element `tag` (both lowercase).
pub fn allows_attribute(tag: &str, attr: &str) -> bool {
    GENERIC_ATTRIBUTES.contains(&attr)
        || TAG_ATTRIBUTES
            .iter()
            .any(|(t, attrs)| *t == tag && attrs.contains(&attr))
}

/// True when dropping `tag` means script could have run (see [`SCRIPT_TAGS`]).
pub fn is_script_tag(tag: &str) -> bool {
    SCRIPT_TAGS.contains(&tag)
}

/// Rebuilds `html` (a body fragment) from the allow-lists. `extra_schemes` are the schemes of the
/// issue's Markdown links, which the Markdown layer has already judged safe.
pub fn clean(html: &str, extra_schemes: &[String]) -> String {
    let mut schemes: HashSet<&str> = URL_SCHEMES.iter().copied().collect();
    schemes.extend(
        extra_schemes
            .iter()
            .map(String::as_str)
            .filter(|s| !super::rawhtml::BLOCKED_SCHEMES.contains(s)),
    );
    let tag_attributes: HashMap<&str, HashSet<&str>> = TAG_ATTRIBUTES
        .iter()
        .map(|(t, a)| (*t, a.iter().copied().collect()))
        .collect();
    ammonia::Builder::empty()
        .tags(ALLOWED_TAGS.iter().copied().collect())
        .clean_content_tags(CLEAN_CONTENT_TAGS.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(tag_attributes)
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(None)
        .strip_comments(true)
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noscript_trick_brings_no_handler() {
        let out = clean(
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></p></noscript>",
            &[],
        );
        assert!(!out.contains("onerror"), "{out}");
        assert!(!out.contains("<noscript"), "{out}");
    }

    #[test]
    fn what_issues_use_survives() {
        for html in [
            "<p><small><a href=\"https://www.reddit.com/r/rust/\">Discuss</a></small></p>",
            "<p>a<br>b<sup>[1]</sup></p>",
            "<div class=\"table-wrap\"><table><thead><tr><th align=\"left\">x</th></tr></thead></table></div>",
            "<p><img class=\"emoji\" title=\":tada:\" alt=\"🎉\" src=\"https://a.example/1f389.png\" width=\"64\" height=\"64\" align=\"absmiddle\"></p>",
            "<pre><code class=\"language-rust\">fn main() {}\n</code></pre>",
            "<p><a href=\"irc://irc.mozilla.org/rust\">#rust</a></p>",
        ] {
            assert_eq!(clean(html, &[]), html);
        }
    }

    #[test]
    fn script_style_and_unknown_schemes_go() {
        let out = clean(
            "<p><small style=\"x\">s</small><script>alert(1)</script><a href=\"javascript:x\">j</a><iframe src=\"https://x\"></iframe></p>",
            &[],
        );
        assert_eq!(out, "<p><small>s</small><a>j</a></p>");
        let out = clean("<a href=\"gemini://x.example/\">g</a>", &["gemini".into()]);
        assert!(out.contains("href=\"gemini://x.example/\""), "{out}");
        let out = clean("<a href=\"javascript:x\">g</a>", &["javascript".into()]);
        assert!(!out.contains("href"), "{out}");
    }
}
