//! Rendering the project's fixtures and the shared seed drafts, checked with an HTML5 parser.

use crate::common;

use common::*;
use newsletter::render::Recipient;
use scraper::{Html, Selector};

const BUDGET: usize = 90_000;

fn fixture(name: &str) -> Output {
    render_file(&fixtures_dir().join(name))
}

fn select_count(html: &str, css: &str) -> usize {
    Html::parse_document(html)
        .select(&Selector::parse(css).unwrap())
        .count()
}

#[test]
fn every_fixture_and_seed_passes_the_html_checks() {
    let files: Vec<_> = fixtures()
        .into_iter()
        .chain(seeds())
        .chain(published())
        .collect();
    assert!(files.len() >= 10, "fixtures missing: {files:?}");
    for path in files {
        let out = render_file(&path);
        let problems = html_problems(&out.html);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
    }
}

#[test]
fn headings_outside_comments_are_never_lost() {
    for path in fixtures().into_iter().chain(seeds()) {
        let out = render_file(&path);
        let expected = expected_headings(&out.issue);
        assert!(
            !expected.is_empty()
                || path.ends_with("reference-links.md")
                || path.ends_with("small-html.md")
                || path.ends_with("placeholders.md"),
            "{}: no headings found",
            path.display()
        );
        assert_eq!(html_headings(&out.html), expected, "{}", path.display());
        for h in &expected {
            assert!(
                out.text.contains(h.as_str()),
                "{}: heading {h:?} missing from text",
                path.display()
            );
        }
    }
}

#[test]
fn seeds_fit_the_size_budget() {
    let seeds = seeds();
    if seeds.is_empty() {
        eprintln!("../shared/seeds is absent: nothing to check here");
        return;
    }
    for path in seeds {
        let out = render_file(&path);
        assert!(
            out.html.len() <= BUDGET,
            "{}: {} bytes",
            path.display(),
            out.html.len()
        );
        assert_eq!(out.rendered.html_len(UNSUBSCRIBE), out.html.len());
    }
}

#[test]
fn a_2024_size_issue_fits_the_budget() {
    let out = fixture("large-2024.md");
    let md = std::fs::read_to_string(fixtures_dir().join("large-2024.md")).unwrap();
    assert!(md.len() >= 38_000, "fixture is {} bytes", md.len());
    assert!(
        out.rendered.link_count >= 280,
        "{} links",
        out.rendered.link_count
    );
    let events = md.lines().filter(|l| l.starts_with("* 2024-")).count();
    assert!(events >= 60, "{events} events");
    assert!(out.html.len() <= BUDGET, "HTML is {} bytes", out.html.len());
}

#[test]
fn unterminated_comment_does_not_swallow_headings() {
    let out = fixture("unterminated-comment.md");
    let h = html_headings(&out.html);
    assert!(h.contains(&"Unsafe Code Guidelines".to_string()), "{h:?}");
    assert!(h.contains(&"New and Updated RFCs".to_string()), "{h:?}");
    assert!(out.html.contains("The end."));
    for doc in [&out.html, &out.text] {
        assert!(
            !doc.contains("Remove this section"),
            "an editor's note leaked"
        );
        assert!(!doc.contains("an inline note"), "an editor's note leaked");
    }
}

#[test]
fn pseudo_comments_and_commented_sections_are_removed() {
    let out = fixture("pseudo-comment.md");
    for doc in [&out.html, &out.text] {
        assert!(!doc.contains("<!~~") && !doc.contains("~~>") && !doc.contains("&lt;!~~"));
        assert!(!doc.contains("Major Change Proposals"));
    }
    assert_eq!(
        html_headings(&out.html),
        ["Approved RFCs", "Final Comment Period"]
    );
}

#[test]
fn placeholder_links_are_not_links() {
    let out = fixture("placeholders.md");
    assert!(!out.html.contains("INSERT_LINK_HERE") && !out.html.contains("REDDIT_LINK_HERE"));
    assert!(
        out.html.contains("Who's Hiring thread on r/rust") || out.html.contains("Who&#39;s Hiring")
    );
    assert_eq!(
        out.rendered.dropped_links.len(),
        3,
        "{:?}",
        out.rendered.dropped_links
    );
}

#[test]
fn mojibake_is_passed_through_unchanged_by_render() {
    // Repair is `check --fix`'s job; render never rewrites what the editor wrote.
    let out = fixture("mojibake.md");
    assert!(out.text.contains("NÃ¼rnberg"));
    assert!(out.text.contains("Rust München online"));
}

#[test]
fn heading_links_stay_links() {
    let out = fixture("heading-links.md");
    let doc = Html::parse_document(&out.html);
    let sel = Selector::parse("h3 > a, h4 > a, h5 > a").unwrap();
    let hrefs: Vec<_> = doc.select(&sel).filter_map(|a| a.attr("href")).collect();
    assert_eq!(hrefs.len(), 3, "{hrefs:?}");
    assert_eq!(hrefs[0], "https://github.com/rust-lang/rfcs/commits/master");
    assert!(
        out.text.contains("Approved RFCs [1]\n~~~~~~~~~~~~~~~~~"),
        "{}",
        out.text
    );
}

#[test]
fn reference_links_resolve_without_a_space() {
    let out = fixture("reference-links.md");
    for href in [
        "https://users.rust-lang.org/t/crate-of-the-week/2704",
        "https://github.com/rust-lang/this-week-in-rust?tab=readme-ov-file#call-for-participation-guidelines",
        "mailto:community-team@rust-lang.org",
    ] {
        assert_eq!(
            select_count(&out.html, &format!("a[href=\"{href}\"]")),
            1,
            "{href}"
        );
    }
    assert!(!out.html.contains("[guidelines]"));
}

#[test]
fn small_html_survives() {
    let out = fixture("small-html.md");
    assert_eq!(
        select_count(&out.html, "small > a[href^=\"https://www.reddit.com/\"]"),
        1
    );
    assert!(!out.text.contains("<small>"));
}

#[test]
fn nested_event_lists_nest() {
    let out = fixture("nested-events.md");
    assert_eq!(select_count(&out.html, "td.content ul > li > ul > li"), 3);
    assert!(
        out.text.contains("\n    * Rust.Tokyo 2025 ["),
        "{}",
        out.text
    );
}

#[test]
fn an_h1_among_h2s_is_kept() {
    let out = fixture("h1-among-h2.md");
    assert_eq!(
        html_headings(&out.html),
        ["Jobs", "Quote of the Week", "Closing"]
    );
    assert_eq!(select_count(&out.html, "td.content h1"), 1);
    assert_eq!(select_count(&out.html, "blockquote"), 1);
    assert!(out.text.contains("Quote of the Week\n=================\n"));
}

#[test]
fn plaintext_rules_hold_for_every_fixture() {
    for path in fixtures().into_iter().chain(seeds()) {
        let out = render_file(&path);
        for needle in ["<!--", "<small", "</", "<a ", "<p>", "<!~~"] {
            assert!(
                !out.text.contains(needle),
                "{}: {needle} in text",
                path.display()
            );
        }
        for line in out.text.lines() {
            let has_url = line.contains("://") || line.contains("mailto:");
            // A word longer than the line (an identifier in code) gets a line of its own, unbroken.
            let one_word = line.trim_start_matches([' ', '*', '>']).split(' ').count() == 1;
            assert!(
                unicode_width::UnicodeWidthStr::width(line) <= 72 || has_url || one_word,
                "{}: line over 72 columns: {line}",
                path.display()
            );
        }
        assert!(out.text.contains(&format!("Unsubscribe: {UNSUBSCRIBE}")));
        assert!(out.text.contains(&out.rendered.web_url));
        // Every numbered reference is listed with its URL.
        let refs = out
            .text
            .lines()
            .filter(|l| l.starts_with('[') && l.contains("] http"))
            .count();
        assert!(
            refs > 0 || out.rendered.link_count == 0,
            "{}",
            path.display()
        );
    }
}

#[test]
fn the_frame_has_what_subscribers_expect() {
    let out = fixture("large-2024.md");
    let doc = Html::parse_document(&out.html);
    let link = |text: &str| {
        let sel = Selector::parse("a").unwrap();
        doc.select(&sel)
            .find(|a| a.text().collect::<String>() == text)
            .and_then(|a| a.attr("href").map(str::to_string))
    };
    let web = "https://this-week-in-rust.org/blog/2024/11/27/this-week-in-rust-999/";
    assert_eq!(link("Read this e-mail on the Web").as_deref(), Some(web));
    assert_eq!(link("Unsubscribe").as_deref(), Some(UNSUBSCRIBE));
    assert!(link("Privacy policy").is_some() && link("Mastodon").is_some());
    assert!(out.html.contains("issue 999 \u{2014} 27 NOV 2024"));
    assert!(out.html.contains("max-width:660px"));
    assert!(out.html.contains("<!--[if mso]>"));
    assert_eq!(select_count(&out.html, "img.logo[src^=\"https://\"]"), 1);
    let pre = Selector::parse("div.preheader").unwrap();
    let preheader: String = doc.select(&pre).flat_map(|e| e.text()).collect();
    assert!(preheader.starts_with("Hello and welcome to another issue of This Week in Rust!"));
}

#[test]
fn recipients_differ_only_in_their_slot() {
    let out = fixture("large-2024.md");
    let a = out.rendered.html.fill(&Recipient {
        unsubscribe_url: "https://x.example/u/AAAA",
    });
    let b = out.rendered.html.fill(&Recipient {
        unsubscribe_url: "https://x.example/u/BBBB&x=<1>",
    });
    assert_eq!(a.replace("AAAA", "BBBB&amp;x=&lt;1&gt;"), b);
    assert_eq!(
        out.rendered
            .html
            .slot_count(newsletter::render::Slot::UnsubscribeUrl),
        1
    );
}

#[test]
fn snapshots() {
    for path in fixtures() {
        let out = render_file(&path);
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(format!("{name}.txt"), out.text);
        insta::assert_snapshot!(format!("{name}.html"), out.html);
    }
}

/// Words of at least five letters in `s`.
fn words(s: &str) -> std::collections::HashSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 5)
        .map(str::to_string)
        .collect()
}

/// The comments of `body` as CommonMark reads them (what a browser hides too), independently of the
/// renderer's own parser: the text from `<!--` to the first `-->` of every HTML block or inline
/// comment node.
fn commonmark_comments(body: &str) -> Vec<String> {
    let arena = comrak::Arena::new();
    let root = comrak::parse_document(&arena, body, &newsletter::render::markdown::options());
    let mut out = Vec::new();
    for node in root.descendants() {
        let literal = match &node.data().value {
            comrak::nodes::NodeValue::HtmlBlock(b) => b.literal.clone(),
            comrak::nodes::NodeValue::HtmlInline(h) => h.to_string(),
            _ => continue,
        };
        let mut rest = literal.as_str();
        while let Some(i) = rest.find("<!--") {
            let after = &rest[i..];
            let end = after.find("-->").map_or(after.len(), |e| e + 3);
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// The accidents the README documents, where we deliberately show what follows the comment's
/// first line: no `-->`, a bare `>` ending the first line, or a second `<!--` inside.
fn documented_accident(comment: &str) -> bool {
    let first = comment.lines().next().unwrap_or("").trim_end();
    !comment.ends_with("-->")
        || (first.ends_with('>') && !first.ends_with("-->") && comment.contains('\n'))
        || comment[4..].contains("<!--")
}

#[test]
fn no_word_from_inside_a_comment_reaches_the_mail() {
    // Words the frame itself prints (footer, masthead) say nothing about leaks.
    let frame = fixture("small-html.md");
    let frame_words: std::collections::HashSet<String> = words(&frame.html)
        .union(&words(&frame.text))
        .cloned()
        .collect();
    let mut checked = 0;
    for path in fixtures().into_iter().chain(seeds()).chain(published()) {
        let out = render_file(&path);
        let body = out.issue.body();
        let comments = commonmark_comments(body);
        let mut visible_text = format!("{}{body}", &out.issue.source[..out.issue.body_offset]);
        for c in &comments {
            // An accident hides only its own first line; everything after it is shown on purpose.
            let hidden = if documented_accident(c) {
                c.lines().next().unwrap_or("")
            } else {
                c.as_str()
            };
            visible_text = visible_text.replacen(hidden, " ", 1);
        }
        let visible = words(&visible_text);
        let (html, text) = (words(&out.html), words(&out.text));
        for c in comments.iter().filter(|c| !documented_accident(c)) {
            for w in words(c) {
                if visible.contains(&w) || frame_words.contains(&w) {
                    continue;
                }
                checked += 1;
                assert!(
                    !text.contains(&w) && !html.contains(&w),
                    "{}: `{w}` from a comment reached the mail: {c}",
                    path.display()
                );
            }
        }
    }
    assert!(checked > 200, "only {checked} hidden words were checked");
    // The two shapes that leaked before: text on the first line, headings and links inside.
    let out = fixture("fcp-comments.md");
    for w in [
        "Zanzibar",
        "Kilimanjaro",
        "Quarantined",
        "disposition",
        "Group",
        "Dear",
        "Sample",
    ] {
        assert!(!out.text.contains(w) && !out.html.contains(w), "{w} leaked");
    }
    assert!(out.text.contains("Stabilize `Box::take`"));
}

#[test]
fn every_safe_link_scheme_reaches_html_and_text() {
    let out = fixture("layout-2019.md");
    for url in [
        "irc://irc.mozilla.org/rust-community",
        "irc://irc.mozilla.org/rust-beginners",
    ] {
        assert_eq!(
            select_count(&out.html, &format!("a[href=\"{url}\"]")),
            1,
            "{url}"
        );
        assert!(
            out.text.lines().any(|l| l.ends_with(&format!("] {url}"))),
            "{url}"
        );
    }
    assert!(out.rendered.dropped_links.is_empty() && out.rendered.unsafe_links.is_empty());
    let links = common::render_file(&fixtures_dir().join("check/links.md"));
    assert_eq!(
        links.rendered.unsafe_links.len(),
        4,
        "{:?}",
        links.rendered.unsafe_links
    );
    for bad in ["javascript:", "vbscript:", "data:image", "onerror="] {
        let html = Html::parse_document(&links.html);
        let sel = Selector::parse("a, img").unwrap();
        for e in html.select(&sel) {
            for (_, v) in e.value().attrs() {
                assert!(!v.to_ascii_lowercase().contains(bad), "{bad} in {v}");
            }
        }
    }
    assert_eq!(select_count(&links.html, "a[href^=\"ircs://\"]"), 1);
    assert_eq!(select_count(&links.html, "a[href^=\"ftp://\"]"), 1);
}

#[test]
fn raw_html_that_is_not_markup_is_shown_and_images_keep_their_alt() {
    let out = fixture("perf-triage.md");
    assert!(
        out.html
            .contains("implement TryFrom&lt;u8&gt; for fieldless enums"),
        "html"
    );
    assert!(
        out.text.contains("implement TryFrom<u8> for fieldless"),
        "{}",
        out.text
    );
    assert!(
        out.text
            .contains("> [image: A flame graph of the compiler's type checking pass] [")
    );
    // The table scrolls inside its own box; `<br />` never breaks a row of the plaintext.
    assert_eq!(select_count(&out.html, "div.table-wrap > table"), 2);
    assert!(
        out.text.contains("\n Regressions ❌ (primary)    0.3%"),
        "{}",
        out.text
    );
    let old = fixture("layout-2019.md");
    assert!(
        old.text
            .contains("* 🎉 Announcing the 2019 survey results ["),
        "{}",
        old.text
    );
    assert!(
        old.text.contains("> [image: Ferris the crab, waving] ["),
        "{}",
        old.text
    );
    let doc = Html::parse_document(&old.html);
    let emoji = doc
        .select(&Selector::parse("img.emoji").unwrap())
        .next()
        .unwrap();
    assert!(
        emoji.attr("style").unwrap().contains("width:1.25em"),
        "emoji at text size"
    );
}

#[test]
fn header_dates_read_as_pelican_reads_them() {
    assert!(
        fixture("perf-triage.md")
            .rendered
            .web_url
            .contains("/blog/2025/10/08/this-week-in-rust-941/")
    );
    assert!(
        fixture("layout-2019.md")
            .rendered
            .web_url
            .contains("/blog/2019/04/09/this-week-in-rust-281/")
    );
}

#[test]
fn the_logo_is_the_real_one_and_names_the_newsletter() {
    let out = fixture("small-html.md");
    let doc = Html::parse_document(&out.html);
    let logo = doc
        .select(&Selector::parse("img.logo").unwrap())
        .next()
        .unwrap();
    assert_eq!(
        logo.attr("src"),
        Some("https://this-week-in-rust.org/images/logo32.png")
    );
    assert_eq!(logo.attr("alt"), Some("This Week in Rust"));
    assert_eq!(
        (logo.attr("width"), logo.attr("height")),
        (Some("32"), Some("32"))
    );
}

#[test]
fn headings_keep_distinct_sizes() {
    let css = newsletter::config::DEFAULT_STYLESHEET;
    let size = |h: &str| -> u32 {
        let rule = css
            .lines()
            .find(|l| l.starts_with(&format!("{h} {{")))
            .unwrap_or_else(|| panic!("no rule for {h}"));
        let at = rule.find("font-size: ").unwrap() + 11;
        rule[at..at + 2].parse().unwrap()
    };
    let sizes: Vec<u32> = ["h1", "h2", "h3", "h4", "h5", "h6"]
        .iter()
        .map(|h| size(h))
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] > w[1]), "{sizes:?}");
}
