//! Rendering the project's fixtures and the shared seed drafts, checked with an HTML5 parser.

mod common;

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
    let files: Vec<_> = fixtures().into_iter().chain(seeds()).collect();
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
            assert!(
                unicode_width::UnicodeWidthStr::width(line) <= 72 || has_url,
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
