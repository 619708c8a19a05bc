//! Fuzzing the Markdown path with nesting-heavy input (issue #21, finding 1): long runs of
//! blockquote and list markers, emphasis and bracket openers and closers, nested raw HTML and
//! sanitizer tricks, rendered in this process by the library. A stack overflow aborts the whole test
//! binary, so "the test finished" is the property; each rendering must also be an `Ok` with no event
//! handler in its HTML, or a `TooDeep` error. `PROPTEST_CASES=2000 cargo test --release --test it
//! render_fuzz` searches longer.

use std::path::Path;

use newsletter::check::{self, CheckOptions, Severity};
use newsletter::config::Config;
use newsletter::issue::Issue;
use newsletter::render::{self, Recipient, RenderError, Theme};
use proptest::prelude::*;
use scraper::{Html, Selector};

const PIECES: &[&str] = &[
    ">",
    "> ",
    "- ",
    "* ",
    "1. ",
    "  ",
    "    ",
    "*",
    "**",
    "_",
    "*a ",
    " a*",
    "_a ",
    " a_",
    "[",
    "]",
    "](https://a.example/x)",
    "![",
    "<small>",
    "</small>",
    "<div>",
    "</div>",
    "<span>",
    "<b>",
    "`",
    "```\n",
    "\n",
    "\n\n",
    "word ",
    "<noscript>",
    "</noscript>",
    "<p title=\"",
    "\">",
    "<img src=x onerror=alert(1)>",
    "<a href=\"java&#x73;cript:alert(1)\">",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<small style=\"x\">",
    "<table><tr><td>",
    "|a|b|\n|-|-|\n|",
    "[^1]",
    "[^1]: ",
];

/// A draft: the header, then runs of pieces (a run repeats one piece up to 3,000 times).
fn draft() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (0..PIECES.len(), prop_oneof![1usize..4, 1usize..100, 1usize..1500]),
        1..10,
    )
    .prop_map(|runs| {
        let mut s = String::from(
            "Title: This Week in Rust 1\nNumber: 1\nDate: 2024-02-29\nCategory: This Week in Rust\n\n",
        );
        for (piece, n) in runs {
            s.push_str(&PIECES[piece].repeat(n));
        }
        s.push('\n');
        s
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn nesting_heavy_drafts_render_or_are_refused(source in draft()) {
        let config = Config::defaults();
        let theme = Theme::from_config(&config).unwrap();
        let path = Path::new("fuzz.md");
        let issue = Issue::parse(path, source.as_bytes()).unwrap();
        match render::render(&issue, &theme) {
            Ok(rendered) => {
                let html = rendered.html.fill(&Recipient { unsubscribe_url: "https://u.example/x" });
                let doc = Html::parse_document(&html);
                for e in doc.select(&Selector::parse("*").unwrap()) {
                    for (name, _) in e.value().attrs() {
                        prop_assert!(!name.starts_with("on"), "<{} {name}>", e.value().name());
                    }
                }
            }
            Err(RenderError::TooDeep { .. }) => {
                // `check` refuses what `render` refuses, with an error.
                let opts = CheckOptions::from_config(&config).unwrap();
                let report = check::check_bytes(path, source.as_bytes(), &opts);
                prop_assert!(report.diagnostics.iter().any(|d| d.rule.name() == "nesting" && d.severity == Severity::Error));
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
