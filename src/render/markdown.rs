//! Markdown → comrak AST, made safe for e-mail, then → an HTML fragment.

use comrak::nodes::{AstNode, ListDelimType, ListType, NodeList, NodeValue};
use comrak::{Arena, Options};

// The scheme rules live with the raw HTML reader, which judges `href`s with them; they are named here
// too, where links are classified.
pub use super::rawhtml::{BLOCKED_SCHEMES, Scheme, scheme};

/// The comrak options every stage uses: TWiR's Markdown with GFM tables, strikethrough, autolinks and
/// footnotes, and the raw inline HTML it relies on (`<small>`).
pub fn options() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.footnotes = true;
    o.render.r#unsafe = true;
    o
}

/// Tags whose raw HTML is shown as text instead of being passed to mail clients.
const FORBIDDEN_TAGS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "link",
    "meta",
    "form",
    "input",
    "textarea",
    "title",
    "base",
    "frame",
    "frameset",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
    "template",
    "xmp",
    "svg",
    "math",
];

/// What happened to links while preparing the AST.
#[derive(Debug, Default, Clone)]
pub struct LinkReport {
    /// Links kept (absolute, or resolved against the site).
    pub kept: usize,
    /// Link targets that were not absolute and could not be resolved: the text is kept, the link dropped.
    pub dropped: Vec<String>,
    /// Link or image targets whose scheme runs code or embeds content (`javascript:`, `data:`):
    /// dropped, their text kept.
    pub unsafe_targets: Vec<String>,
}

/// What a link target is, as a browser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An absolute URL a subscriber may follow (relative paths resolved against the site).
    Absolute(String),
    /// A scheme from [`BLOCKED_SCHEMES`]; carries the scheme, lowercase.
    Blocked(String),
    /// Not absolute and not resolvable (`INSERT_LINK_HERE`, `#anchor`, empty).
    Unresolvable,
}

/// Classifies a link or image target; `site_url` resolves `/path` and `//host/path`.
pub fn classify_target(url: &str, site_url: &str) -> Target {
    let url = url.trim();
    if let Some(scheme) = scheme(url) {
        if scheme.is_blocked() {
            return Target::Blocked(scheme.as_str().to_string());
        }
        // Something must follow the colon (and the slashes of `https://`).
        let rest = url[url.find(':').map_or(0, |i| i + 1)..].trim_start_matches('/');
        return if rest.is_empty() {
            Target::Unresolvable
        } else {
            Target::Absolute(url.to_string())
        };
    }
    if let Some(rest) = url.strip_prefix("//") {
        return if rest.is_empty() {
            Target::Unresolvable
        } else {
            Target::Absolute(format!("https://{rest}"))
        };
    }
    if url.starts_with('/') {
        return Target::Absolute(format!("{}{url}", site_url.trim_end_matches('/')));
    }
    Target::Unresolvable
}

/// Parses `markdown` and prepares the tree for e-mail:
/// - links and images are made absolute against `site_url` when they start with `/`; any other
///   relative target (`INSERT_LINK_HERE`, `#anchor`, empty) is dropped and its text kept;
/// - footnote references become `<sup>[n]</sup>`, and their definitions an ordered list at the end,
///   so no in-page anchors are needed (most mail clients strip them);
/// - raw HTML that mail must not carry (`<script>`, `<style>`, `<iframe>`, …) is shown as text.
pub fn parse<'a>(
    arena: &'a Arena<'a>,
    markdown: &str,
    site_url: &str,
    options: &Options,
) -> (&'a AstNode<'a>, LinkReport) {
    let root = comrak::parse_document(arena, markdown, options);
    let mut report = LinkReport::default();
    let nodes: Vec<_> = root.descendants().collect();
    let mut footnotes = Vec::new();
    for node in nodes {
        let value = node.data().value.clone();
        match value {
            NodeValue::Link(link) => match classify_target(&link.url, site_url) {
                Target::Absolute(url) => {
                    report.kept += 1;
                    if let NodeValue::Link(l) = &mut node.data_mut().value {
                        l.url = url;
                    }
                }
                Target::Blocked(_) => {
                    report.unsafe_targets.push(link.url.clone());
                    unwrap_node(node);
                }
                Target::Unresolvable => {
                    report.dropped.push(link.url.clone());
                    unwrap_node(node);
                }
            },
            NodeValue::Image(img) => match classify_target(&img.url, site_url) {
                Target::Absolute(url) => {
                    if let NodeValue::Image(i) = &mut node.data_mut().value {
                        i.url = url;
                    }
                }
                Target::Blocked(_) => {
                    report.unsafe_targets.push(img.url.clone());
                    unwrap_node(node);
                }
                Target::Unresolvable => unwrap_node(node),
            },
            NodeValue::FootnoteReference(r) => {
                node.data_mut().value = NodeValue::Superscript;
                let text =
                    arena.alloc(AstNode::from(NodeValue::Text(format!("[{}]", r.ix).into())));
                node.append(text);
            }
            NodeValue::FootnoteDefinition(_) => footnotes.push(node),
            // A table wider than a phone scrolls inside its own box instead of widening the e-mail.
            NodeValue::Table(_) => {
                let open = NodeValue::HtmlBlock(comrak::nodes::NodeHtmlBlock {
                    block_type: 6,
                    literal: "<div class=\"table-wrap\">\n".into(),
                });
                let close = NodeValue::HtmlBlock(comrak::nodes::NodeHtmlBlock {
                    block_type: 6,
                    literal: "</div>\n".into(),
                });
                node.insert_before(arena.alloc(AstNode::from(open)));
                node.insert_after(arena.alloc(AstNode::from(close)));
            }
            NodeValue::HtmlInline(html) if inline_html_is_text(node, &html) => {
                node.data_mut().value = NodeValue::Text(html.into());
            }
            NodeValue::HtmlBlock(block) if block_html_is_text(&block.literal) => {
                node.data_mut().value = NodeValue::Paragraph;
                let text = arena.alloc(AstNode::from(NodeValue::Text(
                    block.literal.trim_end().to_string().into(),
                )));
                node.append(text);
            }
            _ => {}
        }
    }
    if !footnotes.is_empty() {
        root.append(arena.alloc(AstNode::from(NodeValue::ThematicBreak)));
        let list = arena.alloc(AstNode::from(NodeValue::List(ordered_list())));
        root.append(list);
        for def in footnotes {
            def.detach();
            def.data_mut().value = NodeValue::Item(ordered_list());
            list.append(def);
        }
    }
    (root, report)
}

fn ordered_list() -> NodeList {
    NodeList {
        list_type: ListType::Ordered,
        start: 1,
        delimiter: ListDelimType::Period,
        tight: true,
        ..NodeList::default()
    }
}

/// Replaces `node` by its children.
fn unwrap_node<'a>(node: &'a AstNode<'a>) {
    let children: Vec<_> = node.children().collect();
    for child in children {
        child.detach();
        node.insert_before(child);
    }
    node.detach();
}

/// Raw inline HTML that must reach the reader as text: a forbidden element, a tag carrying script,
/// or text that only looks like a tag (`TryFrom<u8>`, `Box<T>`).
fn inline_html_is_text<'a>(node: &'a AstNode<'a>, html: &str) -> bool {
    if has_forbidden_tag(html) {
        return true;
    }
    let Some(tag) = super::rawhtml::tag_at(html) else {
        return false;
    };
    let before = match node.previous_sibling().map(|n| n.data().value.clone()) {
        Some(NodeValue::Text(t)) => t.to_string(),
        _ => String::new(),
    };
    tag.is_active() || tag.is_not_markup(&before)
}

/// The same for an HTML block: shown as text when any of its tags is forbidden or carries script, or
/// when it opens with something that is not markup.
fn block_html_is_text(html: &str) -> bool {
    if has_forbidden_tag(html) {
        return true;
    }
    let tags = super::rawhtml::tags(html, 0);
    tags.iter().any(super::rawhtml::Tag::is_active)
        || tags
            .first()
            .is_some_and(|t| html[..t.range.start].trim().is_empty() && t.is_not_markup(""))
}

fn has_forbidden_tag(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    FORBIDDEN_TAGS.iter().any(|t| {
        lower.match_indices(t).any(|(i, _)| {
            let before = &lower[..i];
            let after = lower[i + t.len()..].chars().next();
            (before.ends_with('<') || before.ends_with("</"))
                && after.is_none_or(|c| !c.is_ascii_alphanumeric())
        })
    })
}

/// An absolute URL for `url`, or `None` when it cannot be made one or must not be followed.
pub fn absolutize(url: &str, site_url: &str) -> Option<String> {
    match classify_target(url, site_url) {
        Target::Absolute(u) => Some(u),
        Target::Blocked(_) | Target::Unresolvable => None,
    }
}

/// The HTML fragment for a prepared tree.
pub fn to_html<'a>(root: &'a AstNode<'a>, options: &Options) -> String {
    let mut html = String::new();
    // Writing into a String cannot fail.
    let _ = comrak::html::format_document(root, options, &mut html);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(md: &str) -> String {
        let arena = Arena::new();
        let o = options();
        let (root, _) = parse(&arena, md, "https://site.example", &o);
        to_html(root, &o)
    }

    #[test]
    fn absolute_links() {
        assert_eq!(
            absolutize("https://a.example/x", "https://s").as_deref(),
            Some("https://a.example/x")
        );
        assert_eq!(
            absolutize("/blog/", "https://s/").as_deref(),
            Some("https://s/blog/")
        );
        assert_eq!(
            absolutize("//cdn.example/x", "https://s").as_deref(),
            Some("https://cdn.example/x")
        );
        assert_eq!(absolutize("INSERT_LINK_HERE", "https://s"), None);
        assert_eq!(absolutize("#fn-1", "https://s"), None);
        assert_eq!(absolutize("", "https://s"), None);
        assert_eq!(absolutize("https://", "https://s"), None);
        assert_eq!(absolutize("javascript:alert(1)", "https://s"), None);
    }

    #[test]
    fn every_safe_scheme_is_kept_and_active_ones_are_blocked() {
        for url in [
            "irc://irc.mozilla.org/rust-community",
            "ircs://irc.libera.chat:6697/rust",
            "ftp://ftp.example.org/pub/x.tar.gz",
            "mailto:community-team@rust-lang.org",
            "tel:+15555550100",
            "HTTPS://Example.org/Path",
            "matrix:r/rust:matrix.org",
            "ssh://git@example.org/repo",
        ] {
            assert_eq!(
                classify_target(url, "https://s"),
                Target::Absolute(url.into()),
                "{url}"
            );
        }
        for (url, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("JavaScript:alert(1)", "javascript"),
            ("  java\tscript:alert(1)", "javascript"),
            ("java\nscript:alert(1)", "javascript"),
            ("vbscript:msgbox", "vbscript"),
            ("data:text/html;base64,PHNjcmlwdD4=", "data"),
            ("file:///etc/passwd", "file"),
        ] {
            assert_eq!(
                classify_target(url, "https://s"),
                Target::Blocked(scheme.into()),
                "{url}"
            );
        }
        for url in [
            "INSERT_LINK_HERE",
            "Item URL",
            "#anchor",
            "C:\\x",
            "mailto:",
            "irc://",
            "",
        ] {
            assert_eq!(
                classify_target(url, "https://s"),
                Target::Unresolvable,
                "{url}"
            );
        }
    }

    #[test]
    fn irc_links_reach_html_and_unsafe_ones_do_not() {
        let out = html("[#rust](irc://irc.mozilla.org/rust) and [x](javascript:alert(1))\n");
        assert_eq!(
            out,
            "<p><a href=\"irc://irc.mozilla.org/rust\">#rust</a> and x</p>\n"
        );
    }

    #[test]
    fn twir_markdown_features() {
        let out = html(
            "### [Approved RFCs](https://github.com/rust-lang/rfcs/commits/master)\n\n\
             Submit [here][guidelines] or [there][x].\n\n\
             [guidelines]:https://users.rust-lang.org/t/4821\n[x]: https://x.example\n\n\
             <small>[Discuss](https://reddit.example)</small>\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n\
             see https://auto.example/link\n",
        );
        assert!(out.contains("<h3><a href=\"https://github.com/rust-lang/rfcs/commits/master\">Approved RFCs</a></h3>"), "{out}");
        assert!(
            out.contains("<a href=\"https://users.rust-lang.org/t/4821\">here</a>"),
            "{out}"
        );
        assert!(
            out.contains("<small><a href=\"https://reddit.example\">Discuss</a></small>"),
            "{out}"
        );
        assert!(
            out.contains("<table>") && out.contains("<del>2</del>"),
            "{out}"
        );
        assert!(
            out.contains("<a href=\"https://auto.example/link\">"),
            "{out}"
        );
    }

    #[test]
    fn unresolvable_links_keep_their_text() {
        let out = html("See the [thread](INSERT_LINK_HERE) and [x]().\n");
        assert_eq!(out, "<p>See the thread and x.</p>\n");
    }

    #[test]
    fn footnotes_need_no_anchors() {
        let out = html("Claim.[^1]\n\n[^1]: Source.\n");
        assert!(!out.contains("href=\"#"), "{out}");
        assert!(out.contains("<sup>[1]</sup>"), "{out}");
        assert!(
            out.contains("<ol>\n<li>\n<p>Source.</p>") || out.contains("<li>Source."),
            "{out}"
        );
    }

    #[test]
    fn text_that_looks_like_a_tag_is_shown() {
        let out = html("impl TryFrom<u8> for Port and Box<T>, with <small>small</small>.\n");
        assert_eq!(
            out,
            "<p>impl TryFrom&lt;u8&gt; for Port and Box&lt;T&gt;, with <small>small</small>.</p>\n"
        );
        let out = html("a <a href=\"javascript:alert(1)\">x</a> <img src=x onerror=alert(1)>\n");
        assert!(!out.contains("<a href"), "{out}");
        assert!(!out.contains("<img"), "{out}");
    }

    #[test]
    fn scripts_are_shown_as_text() {
        let out = html(
            "a <script>alert(1)</script> b\n\n<iframe src=\"x\"></iframe>\n\n<small>ok</small>\n",
        );
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<iframe"), "{out}");
        assert!(out.contains("<small>ok</small>"));
    }
}
