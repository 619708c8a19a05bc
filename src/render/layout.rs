//! The e-mail's HTML frame: a 660 px table layout around the issue body, written with maud.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::config::Site;

/// Everything the frame shows besides the body.
pub struct Frame<'a> {
    pub site: &'a Site,
    pub title: &'a str,
    /// e.g. "issue 522 — 22 NOV 2023"
    pub issue_line: &'a str,
    pub web_url: &'a str,
    pub preheader: &'a str,
    /// The unsubscribe URL, or the slot marker that stands for it.
    pub unsubscribe_url: &'a str,
    pub stylesheet: &'a str,
}

// Outlook for Windows ignores max-width; these conditional comments give it a fixed 660 px table.
const MSO_OPEN: &str = r#"<!--[if mso]><table role="presentation" width="660" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->"#;
const MSO_CLOSE: &str = "<!--[if mso]></td></tr></table><![endif]-->";

/// Characters that pad the preheader so clients do not pull body text into the inbox preview.
const PREHEADER_PAD: &str = "&#8199;&#847;&#8199;&#847;&#8199;&#847;&#8199;&#847;&#8199;&#847;&#8199;&#847;&#8199;&#847;&#8199;&#847;";

/// The full HTML document, before CSS inlining.
pub fn page(frame: &Frame<'_>, body_html: &str) -> Markup {
    let site = frame.site;
    html! {
        (DOCTYPE)
        // `dir` beside `lang`, on the document and on the landmark: clients that drop <html> keep
        // the landmark's.
        html lang="en" dir="ltr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                meta name="x-apple-disable-message-reformatting";
                title { (frame.title) }
                style { (PreEscaped(frame.stylesheet)) }
            }
            body class="body" {
                // One landmark, named by the issue's title, so a screen reader announces the e-mail
                // as what it is (the Email Markup Consortium's check).
                div role="article" aria-roledescription="email" aria-label=(frame.title) lang="en" dir="ltr" {
                div class="preheader" style="display:none;max-height:0;overflow:hidden;mso-hide:all" {
                    (frame.preheader) (PreEscaped(PREHEADER_PAD))
                }
                table role="presentation" class="wrap" width="100%" cellpadding="0" cellspacing="0" border="0" {
                    tr { td align="center" {
                        (PreEscaped(MSO_OPEN))
                        table role="presentation" class="container" width="100%" cellpadding="0" cellspacing="0" border="0" {
                            tr { td class="topline" {
                                a href=(frame.web_url) { "Read this e-mail on the Web" }
                            } }
                            tr { td class="band" {
                                // A fixed size in CSS too: with images blocked, `height:auto` would let
                                // the alt text grow the box word by word.
                                img class="logo" src=(site.logo_url) width=(site.logo_width) height=(site.logo_height)
                                    style=(format!("width:{}px;height:{}px", site.logo_width, site.logo_height)) alt=(site.name);
                                // The first heading of the e-mail: the issue's sections (h2) follow it in order.
                                h1 class="masthead" { (site.name) }
                                div class="issue-line" { (frame.issue_line) }
                            } }
                            tr { td class="content" {
                                (PreEscaped(body_html))
                            } }
                            tr { td class="footer" {
                                @if !site.social.is_empty() {
                                    p {
                                        @for (i, s) in site.social.iter().enumerate() {
                                            @if i > 0 { " · " }
                                            a href=(s.url) { (s.name) }
                                        }
                                    }
                                }
                                p {
                                    a href=(frame.web_url) { "View on the web" }
                                    " · "
                                    a href=(site.privacy_url) { "Privacy policy" }
                                    " · "
                                    a href=(frame.unsubscribe_url) { "Unsubscribe" }
                                }
                                p { "You receive this e-mail because you subscribed to " (site.name) "." }
                            } }
                        }
                        (PreEscaped(MSO_CLOSE))
                    } }
                }
                }
            }
        }
    }
}
