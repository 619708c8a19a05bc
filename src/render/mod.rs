//! Render an issue once into an inlined HTML e-mail and a plaintext e-mail, each a [`Template`] whose
//! per-recipient slots are filled by a cheap splice.

pub mod depth;
pub mod layout;
pub mod markdown;
pub mod rawhtml;
pub mod sanitize;
pub mod template;
pub mod text;

use comrak::Arena;
use comrak::nodes::{AstNode, NodeValue};
use thiserror::Error;

use crate::config::{Config, ConfigError, Site};
use crate::domain::{Date, IssueNumber};
use crate::issue::Issue;
pub use template::{Escape, Part, Recipient, Slot, Template};

/// Everything about the look that comes from config.
#[derive(Debug, Clone)]
pub struct Theme {
    pub site: Site,
    /// CSS text; `@media` rules stay in `<style>`, the rest is inlined.
    pub stylesheet: String,
    /// HTML size budget in bytes.
    pub size_budget: usize,
    /// Preheader length in characters.
    pub preheader_chars: usize,
}

impl Theme {
    /// The theme described by `config` (reads the operator's stylesheet, if one is set).
    pub fn from_config(config: &Config) -> Result<Theme, ConfigError> {
        Ok(Theme {
            site: config.site.clone(),
            stylesheet: config.stylesheet()?,
            size_budget: config.theme.size_budget,
            preheader_chars: config.theme.preheader_chars,
        })
    }
}

/// Why rendering failed.
#[derive(Debug, Error)]
pub enum RenderError {
    /// css-inline could not process the document (usually a stylesheet syntax error).
    #[error("inlining the stylesheet failed: {0}. Check the stylesheet set in [theme] stylesheet")]
    Inline(String),
    /// The layout lost the unsubscribe link (a broken custom layout or stylesheet).
    #[error("the rendered e-mail has {found} unsubscribe links, expected {expected}")]
    SlotLost { found: usize, expected: usize },
    /// The text nests deeper than the renderer allows (see [`depth`]).
    #[error(
        "{}: line {line}: {nesting}; flatten the structure (or put the text in a code block)",
        path.display()
    )]
    TooDeep {
        path: std::path::PathBuf,
        /// 1-based line in the issue file.
        line: usize,
        nesting: depth::NestingError,
    },
    /// The rendering thread could not be started, or stopped on a bug.
    #[error("the renderer failed: {0}. This is a bug; please report it with the issue file")]
    Crashed(String),
}

/// The stack of the rendering thread. Every stage walks trees as deep as the input nests, and
/// [`depth`] bounds that nesting; this leaves a wide margin over what the bounded depth needs.
pub const RENDER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// An issue rendered once, ready to be filled per recipient.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub number: IssueNumber,
    pub title: String,
    pub date: Date,
    /// The web version of this issue.
    pub web_url: String,
    /// The HTML e-mail, CSS inlined.
    pub html: Template,
    /// The plaintext e-mail.
    pub text: Template,
    /// The hidden preview line.
    pub preheader: String,
    /// Link targets that were not absolute and were dropped (their text kept).
    pub dropped_links: Vec<String>,
    /// Link and image targets with a scheme that runs code or embeds content (`javascript:`,
    /// `data:`): dropped, their text kept.
    pub unsafe_links: Vec<String>,
    /// Links kept in the body.
    pub link_count: usize,
}

impl Rendered {
    /// HTML size in bytes for a recipient whose unsubscribe URL is `unsubscribe_url`.
    pub fn html_len(&self, unsubscribe_url: &str) -> usize {
        self.html.literal_len()
            + self.html.slot_count(Slot::UnsubscribeUrl)
                * self.html.escape_value(unsubscribe_url).len()
    }
}

/// The token in sample output and size measurements: as long as a real token (24 URL-safe
/// characters), but no subscriber's.
pub const SAMPLE_TOKEN: &str = "SAMPLE-token-00000000000";

/// [`SAMPLE_TOKEN`] as a token, for sample messages.
pub fn sample_token() -> crate::domain::UnsubscribeToken {
    crate::domain::UnsubscribeToken::parse(SAMPLE_TOKEN)
        .expect("the sample token has a token's shape")
}

/// A sample recipient's unsubscribe URL. Sizes are measured with it, so they include the footer as
/// a real subscriber receives it.
pub fn sample_unsubscribe_url(site: &Site) -> String {
    format!("{}{SAMPLE_TOKEN}", site.unsubscribe_url)
}

/// The web URL of an issue: `{year}`, `{month}`, `{day}` and `{number}` filled in.
pub fn issue_url(pattern: &str, number: IssueNumber, date: Date) -> String {
    pattern
        .replace("{year}", &format!("{:04}", date.year()))
        .replace("{month}", &format!("{:02}", date.month()))
        .replace("{day}", &format!("{:02}", date.day()))
        .replace("{number}", &number.to_string())
}

/// Renders `issue` with `theme`. Runs comrak and css-inline exactly once, on a thread of its own
/// with a known stack ([`RENDER_STACK_BYTES`]), after [`depth::check`] has bounded the nesting: no
/// input can overflow the caller's stack, whatever thread the caller runs on.
pub fn render(issue: &Issue, theme: &Theme) -> Result<Rendered, RenderError> {
    if let Err(nesting) = depth::check(&issue.clean_body) {
        let line = issue
            .clean_line_map
            .get(nesting.line.saturating_sub(1))
            .copied()
            .unwrap_or(nesting.line + issue.body_line.saturating_sub(1));
        return Err(RenderError::TooDeep {
            path: issue.path.clone(),
            line,
            nesting,
        });
    }
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("render".into())
            .stack_size(RENDER_STACK_BYTES)
            .spawn_scoped(s, || render_here(issue, theme))
            .map_err(|e| RenderError::Crashed(format!("cannot start the rendering thread: {e}")))?;
        worker.join().unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(RenderError::Crashed(what))
        })
    })
}

/// [`render`] on the current thread.
fn render_here(issue: &Issue, theme: &Theme) -> Result<Rendered, RenderError> {
    let h = &issue.header;
    let arena = Arena::new();
    let options = markdown::options();
    let (root, links) = markdown::parse(&arena, &issue.clean_body, &theme.site.url, &options);
    for url in &links.dropped {
        tracing::debug!(issue = %h.number, target = %url, "link target is not absolute; rendering its text without a link");
    }
    for url in &links.unsafe_targets {
        tracing::debug!(issue = %h.number, target = %url, "link target runs code or embeds content; rendering its text without a link");
    }
    // The Markdown links' schemes were judged by `markdown::parse`; the sanitizer keeps them.
    let mut schemes: Vec<String> = root
        .descendants()
        .filter_map(|n| match &n.data().value {
            NodeValue::Link(l) | NodeValue::Image(l) => {
                markdown::scheme(&l.url).map(|s| s.as_str().to_string())
            }
            _ => None,
        })
        .collect();
    schemes.sort_unstable();
    schemes.dedup();
    let body_html = sanitize::clean(&markdown::to_html(root, &options), &schemes);
    let body_text = text::to_text(root);
    let preheader = preheader(root, theme.preheader_chars);
    let web_url = issue_url(&theme.site.issue_url, h.number, h.date);
    let issue_line = format!(
        "issue {} \u{2014} {} {} {}",
        h.number,
        h.date.day(),
        h.date.month_abbrev().to_uppercase(),
        h.date.year()
    );

    let marker = slot_marker(&issue.source);
    let page = layout::page(
        &layout::Frame {
            site: &theme.site,
            title: &h.title,
            issue_line: &issue_line,
            web_url: &web_url,
            preheader: &preheader,
            unsubscribe_url: &marker,
            stylesheet: &theme.stylesheet,
        },
        &body_html,
    )
    .into_string();

    let inlined = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_style_tags(false)
        .keep_at_rules(true)
        .minify_css(true)
        .build()
        .inline(&page)
        .map_err(|e| RenderError::Inline(e.to_string()))?;
    let html = Template::from_marked(&inlined, &[(&marker, Slot::UnsubscribeUrl)], Escape::Html);
    let found = html.slot_count(Slot::UnsubscribeUrl);
    if found != 1 {
        return Err(RenderError::SlotLost { found, expected: 1 });
    }

    let text_doc = format!(
        "{title}\n{issue_line}\n\n{body_text}\n\n-- \nYou receive this e-mail because you subscribed to {name}.\n\
         Read it on the web: {web_url}\nUnsubscribe: {marker}\nPrivacy policy: {privacy}\n",
        body_text = body_text.trim_end(),
        title = h.title,
        name = theme.site.name,
        privacy = theme.site.privacy_url,
    );
    let text = Template::from_marked(&text_doc, &[(&marker, Slot::UnsubscribeUrl)], Escape::None);

    Ok(Rendered {
        number: h.number,
        title: h.title.clone(),
        date: h.date,
        web_url,
        html,
        text,
        preheader,
        dropped_links: links.dropped,
        unsafe_links: links.unsafe_targets,
        link_count: links.kept,
    })
}

/// A token that stands for the unsubscribe URL until a recipient fills it. Derived from the content so
/// output is reproducible; alphanumeric so HTML serialisation leaves it alone.
fn slot_marker(source: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut salt = 0u32;
    loop {
        let d = Sha256::digest(format!("{salt}:{source}").as_bytes());
        let hex = crate::domain::hex(&d[..8]);
        let marker = format!("nlslot{hex}unsub");
        if !source.contains(&marker) {
            return marker;
        }
        salt += 1;
    }
}

/// The preview line: the first paragraphs' text, up to `max` characters, cut at a word.
fn preheader<'a>(root: &'a AstNode<'a>, max: usize) -> String {
    let mut text = String::new();
    for node in root.children() {
        if text.chars().count() >= max {
            break;
        }
        if matches!(node.data().value, NodeValue::Paragraph) {
            if !text.is_empty() {
                text.push(' ');
            }
            collect_plain(node, &mut text);
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        if out.chars().count() + w.chars().count() + 1 > max {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn collect_plain<'a>(node: &'a AstNode<'a>, out: &mut String) {
    for child in node.children() {
        match &child.data().value {
            NodeValue::Text(t) => out.push_str(t),
            NodeValue::Code(c) => out.push_str(&c.literal),
            NodeValue::SoftBreak | NodeValue::LineBreak => out.push(' '),
            _ => collect_plain(child, out),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_token_has_a_real_tokens_shape() {
        // Sizes are measured with it, so it must be as long as a real token.
        assert!(crate::domain::UnsubscribeToken::parse(super::SAMPLE_TOKEN).is_ok());
        assert_eq!(super::sample_token().expose().len(), 24);
    }
}
