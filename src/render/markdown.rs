//! Markdown → comrak AST, made safe for e-mail, then → an HTML fragment.

use comrak::nodes::{AstNode, ListDelimType, ListType, NodeList, NodeValue};
use comrak::{Arena, Options};

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
    "plaintext",
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
            NodeValue::Link(link) => match absolutize(&link.url, site_url) {
                Some(url) => {
                    report.kept += 1;
                    if let NodeValue::Link(l) = &mut node.data_mut().value {
                        l.url = url;
                    }
                }
                None => {
                    report.dropped.push(link.url.clone());
                    unwrap_node(node);
                }
            },
            NodeValue::Image(img) => match absolutize(&img.url, site_url) {
                Some(url) => {
                    if let NodeValue::Image(i) = &mut node.data_mut().value {
                        i.url = url;
                    }
                }
                None => unwrap_node(node),
            },
            NodeValue::FootnoteReference(r) => {
                node.data_mut().value = NodeValue::Superscript;
                let text =
                    arena.alloc(AstNode::from(NodeValue::Text(format!("[{}]", r.ix).into())));
                node.append(text);
            }
            NodeValue::FootnoteDefinition(_) => footnotes.push(node),
            NodeValue::HtmlInline(html) if has_forbidden_tag(&html) => {
                node.data_mut().value = NodeValue::Text(html.into());
            }
            NodeValue::HtmlBlock(block) if has_forbidden_tag(&block.literal) => {
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

/// An absolute URL for `url`, or `None` when it cannot be made one.
pub fn absolutize(url: &str, site_url: &str) -> Option<String> {
    let url = url.trim();
    if has_scheme(url) {
        return Some(url.to_string());
    }
    if let Some(rest) = url.strip_prefix("//") {
        return (!rest.is_empty()).then(|| format!("https://{rest}"));
    }
    if url.starts_with('/') {
        return Some(format!("{}{url}", site_url.trim_end_matches('/')));
    }
    None
}

/// True for `scheme:…` with a scheme we let subscribers follow.
pub fn has_scheme(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
        && url.len() > lower.find(':').map_or(0, |i| i + 3)
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
    fn scripts_are_shown_as_text() {
        let out = html(
            "a <script>alert(1)</script> b\n\n<iframe src=\"x\"></iframe>\n\n<small>ok</small>\n",
        );
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<iframe"), "{out}");
        assert!(out.contains("<small>ok</small>"));
    }
}
