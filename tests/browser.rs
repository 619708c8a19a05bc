//! A real browser: headless Chromium lays out the 2024-size issue at 660 px and 375 px, light and
//! dark. The screenshots are kept in tests/artifacts/ for people to look at.
//!
//! Chromium's headless window is at least 500 px wide, so the e-mail is laid out inside an iframe of
//! the target width; the harness page measures that iframe's document.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use newsletter::render::template::html_escape;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

const MEASURE: &str = r#"<script>
window.addEventListener('load', function () {
  var d = document.getElementById('mail').contentDocument;
  var content = d.querySelector('td.content');
  document.body.setAttribute('data-m', JSON.stringify({
    scroll: d.documentElement.scrollWidth,
    client: d.documentElement.clientWidth,
    container: Math.round(d.querySelector('table.container').getBoundingClientRect().width),
    contentBg: getComputedStyle(d.querySelector('table.container')).backgroundColor,
    contentFont: getComputedStyle(content).fontSize,
    dark: d.defaultView.matchMedia('(prefers-color-scheme: dark)').matches
  }));
});
</script>"#;

fn harness(email: &str, width: u32) -> String {
    format!(
        "<!DOCTYPE html><html><body style=\"margin:0;background:#808080\">\
         <iframe id=\"mail\" style=\"width:{width}px;height:1600px;border:0;display:block\" srcdoc=\"{}\"></iframe>{MEASURE}</body></html>",
        html_escape(email)
    )
}

fn run_chromium(bin: &Path, dark: bool, window: u32, extra: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("120").arg(bin).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.path().display()));
    cmd.arg(format!("--window-size={window},1600"));
    if dark {
        cmd.arg("--force-dark-mode");
    }
    cmd.args(extra);
    cmd.output().expect("chromium runs")
}

fn attr_json(dom: &str) -> serde_json::Value {
    let start = dom
        .find("data-m=\"")
        .expect("the harness recorded its measurements")
        + 8;
    let end = start + dom[start..].find('"').unwrap();
    let raw = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&raw).unwrap()
}

/// Fraction of sampled pixels in the content column whose luminance is below 100.
fn dark_fraction(png_path: &Path, width: u32) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.line_size / info.width as usize;
    let (mut dark, mut total) = (0u32, 0u32);
    for y in (300..info.height.min(1500)).step_by(7) {
        for x in (30..width.saturating_sub(30)).step_by(5) {
            let i = y as usize * info.line_size + x as usize * channels;
            let (r, g, b) = (
                f64::from(buf[i]),
                f64::from(buf[i + 1]),
                f64::from(buf[i + 2]),
            );
            total += 1;
            if 0.2126 * r + 0.7152 * g + 0.0722 * b < 100.0 {
                dark += 1;
            }
        }
    }
    f64::from(dark) / f64::from(total)
}

#[test]
fn the_large_issue_lays_out_at_660_and_375_in_light_and_dark() {
    let Some(bin) = chromium() else {
        if std::env::var_os("NEWSLETTER_SKIP_BROWSER").is_some() {
            eprintln!("NEWSLETTER_SKIP_BROWSER is set: skipping the browser check");
            return;
        }
        panic!(
            "chromium is not installed: `apt-get install chromium` (the CI script does), or set NEWSLETTER_SKIP_BROWSER=1"
        );
    };
    let out = common::render_file(&common::fixtures_dir().join("large-2024.md"));
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("large-2024.html"), &out.html).unwrap();

    for width in [660u32, 375] {
        let page = artifacts.join(format!("harness-{width}.html"));
        std::fs::write(&page, harness(&out.html, width)).unwrap();
        let url = format!("file://{}", page.display());
        let window = width.max(500);
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            let dom = run_chromium(&bin, dark, window, &["--dump-dom".into(), url.clone()]);
            let m = attr_json(&String::from_utf8_lossy(&dom.stdout));
            let ctx = format!("{width}px {scheme}: {m}");
            assert_eq!(m["dark"], dark, "{ctx}");
            assert_eq!(
                m["container"], width,
                "the container should fill {width}px: {ctx}"
            );
            assert_eq!(m["scroll"], m["client"], "horizontal scroll: {ctx}");
            assert_eq!(m["client"], width, "{ctx}");
            let expected_bg = if dark {
                "rgb(28, 29, 31)"
            } else {
                "rgb(255, 255, 255)"
            };
            assert_eq!(m["contentBg"], expected_bg, "{ctx}");

            let shot = artifacts.join(format!("large-2024-{width}-{scheme}.png"));
            let _ = std::fs::remove_file(&shot);
            let o = run_chromium(
                &bin,
                dark,
                window,
                &[format!("--screenshot={}", shot.display()), url.clone()],
            );
            assert!(
                shot.exists(),
                "no screenshot: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let frac = dark_fraction(&shot, width);
            if dark {
                assert!(
                    frac > 0.8,
                    "{ctx}: only {frac:.2} of the content column is dark"
                );
            } else {
                assert!(frac < 0.2, "{ctx}: {frac:.2} of the content column is dark");
            }
        }
    }
}
