//! Property tests: no input makes parsing, rendering or checking panic.
//! `PROPTEST_CASES=20000 cargo test --release --test no_panic` runs a longer search.

use std::path::Path;

use newsletter::check::{self, CheckOptions};
use newsletter::config::Config;
use newsletter::issue::Issue;
use newsletter::render::{self, Recipient, Theme};
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "<!--",
    "-->",
    "<!-- note>",
    "<!~~",
    "~~>",
    "\n",
    "\n\n",
    "# ",
    "## ",
    "### [x](https://a.example)",
    "* ",
    "    * ",
    "[a](",
    ")",
    "[b]: https://b.example\n",
    "[b]",
    "[^1]",
    "[^1]: note\n",
    "<small>",
    "</small>",
    "```",
    "`",
    "|a|b|\n|-|-|\n|1|2|\n",
    "**",
    "~~",
    "INSERT_LINK_HERE",
    "ðŸ¦€",
    "🦀",
    "\r\n",
    "<script>",
    "&amp;",
    "> ",
    "Title:",
    "Number: 1",
    "Date: 2024-02-29",
    "\t",
    "\u{feff}",
];

fn check(bytes: &[u8], theme: &Theme) {
    let mut opts = CheckOptions::from_config(&Config::defaults()).unwrap();
    opts.theme = Some(theme.clone());
    let report = check::check_bytes(Path::new("prop.md"), bytes, &opts);
    for d in &report.diagnostics {
        assert!(
            d.range.start <= d.range.end && d.range.end <= report.text.len(),
            "{d:?}"
        );
        assert!(
            report.text.is_char_boundary(d.range.start)
                && report.text.is_char_boundary(d.range.end)
        );
    }
    let (fixed, _) = report.fixed_text();
    // A fixed text checks again without panicking, and fixes do not pile up forever.
    let again = check::check_bytes(Path::new("prop.md"), fixed.as_bytes(), &opts);
    let _ = again.fixed_text();
    if let Ok(issue) = Issue::parse(Path::new("prop.md"), bytes) {
        let rendered = render::render(&issue, theme).expect("render succeeds on any parsed issue");
        let r = Recipient {
            unsubscribe_url: "https://x.example/u/T",
        };
        let html = rendered.html.fill(&r);
        assert!(html.contains("https://x.example/u/T"));
        let _ = rendered.text.fill(&r);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let theme = Theme::from_config(&Config::defaults()).unwrap();
        let mut bytes = b"Title: T 1\nNumber: 1\nDate: 2024-01-03\n\n".to_vec();
        bytes.extend(&body);
        check(&bytes, &theme);
        check(&body, &theme);
    }

    #[test]
    fn twir_shaped_fragments_never_panic(idx in proptest::collection::vec(0..PIECES.len(), 0..80)) {
        let theme = Theme::from_config(&Config::defaults()).unwrap();
        let body: String = idx.iter().map(|&i| PIECES[i]).collect();
        check(format!("Title: T 1\nNumber: 1\nDate: 2024-01-03\n\n{body}").as_bytes(), &theme);
        check(body.as_bytes(), &theme);
    }
}
