//! A real browser: headless Chromium lays out the 2024-size issue at 660 px and 375 px, light and
//! dark. The screenshots are kept in tests/artifacts/ for people to look at.
//!
//! Chromium's headless window is at least 500 px wide, so the e-mail is laid out inside an iframe of
//! the target width; the harness page measures that iframe's document.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use newsletter::render::template::html_escape;

/// Chromium, under any of its names, or `None` when the test is skipped (see [`common::require`]).
fn chromium() -> Option<PathBuf> {
    common::require("chromium|chromium-browser|google-chrome")
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
    dark: d.defaultView.matchMedia('(prefers-color-scheme: dark)').matches,
    headings: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(function (h) {
      var e = d.querySelector('td.content ' + h);
      return e ? parseFloat(getComputedStyle(e).fontSize) : null;
    }),
    widest: Math.max.apply(null, [0].concat([].map.call(d.querySelectorAll('td.content *'), function (e) {
      return Math.round(e.getBoundingClientRect().right);
    }))),
    tables: [].map.call(d.querySelectorAll('div.table-wrap'), function (w) {
      return { box: Math.round(w.getBoundingClientRect().width), scroll: w.scrollWidth };
    }),
    images: [].map.call(d.querySelectorAll('td.content img'), function (i) {
      var r = i.getBoundingClientRect();
      return { emoji: i.classList.contains('emoji'), w: Math.round(r.width), h: Math.round(r.height),
               loaded: i.complete && i.naturalWidth > 0 };
    }),
    logoAlt: d.querySelector('img.logo').getAttribute('alt'),
    logoLoaded: d.querySelector('img.logo').naturalWidth > 0,
    logoBox: (function () {
      var r = d.querySelector('img.logo').getBoundingClientRect();
      return { w: Math.round(r.width), h: Math.round(r.height) };
    })(),
    masthead: (function () {
      var m = d.querySelector('.masthead'), r = m.getBoundingClientRect();
      return { text: m.textContent, w: Math.round(r.width), h: Math.round(r.height),
               color: getComputedStyle(m).color,
               band: getComputedStyle(d.querySelector('td.band')).backgroundColor };
    })()
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
        return;
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

/// Relative luminance of an `rgb(r, g, b)` colour (WCAG).
fn luminance(rgb: &str) -> f64 {
    let v: Vec<f64> = rgb
        .trim_start_matches("rgb(")
        .trim_start_matches("rgba(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|x| x.trim().parse::<f64>().unwrap() / 255.0)
        .map(|c| {
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
        .collect();
    0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]
}

/// A PNG of `w`×`h` pixels, so the wide image test has a real image to lay out.
fn write_png(path: &Path, w: u32, h: u32) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| [(i % 251) as u8, 120, 200])
        .collect();
    writer.write_image_data(&data).unwrap();
}

/// Lays out `html` at 375 px (light) and returns the measurements, keeping a screenshot.
fn layout_at_375(bin: &Path, name: &str, html: &str, extra: &[&str]) -> serde_json::Value {
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join(format!("{name}.html")), html).unwrap();
    let page = artifacts.join(format!("harness-{name}-375.html"));
    std::fs::write(&page, harness(html, 375)).unwrap();
    let url = format!("file://{}", page.display());
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.push("--allow-file-access-from-files".into());
    let dom = run_chromium(
        bin,
        false,
        500,
        &[&args[..], &["--dump-dom".into(), url.clone()]].concat(),
    );
    let m = attr_json(&String::from_utf8_lossy(&dom.stdout));
    let shot = artifacts.join(format!("{name}-375.png"));
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        bin,
        false,
        500,
        &[
            &args[..],
            &[format!("--screenshot={}", shot.display()), url],
        ]
        .concat(),
    );
    assert!(shot.exists(), "no screenshot of {name}");
    m
}

#[test]
fn nothing_is_wider_than_a_phone() {
    let Some(bin) = chromium() else {
        return;
    };
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let wide = artifacts.join("wide-1200x300.png");
    write_png(&wide, 1200, 300);
    let emoji = artifacts.join("emoji-64x64.png");
    write_png(&emoji, 64, 64);
    let mut files: Vec<PathBuf> = [
        "perf-triage.md",
        "layout-2019.md",
        "fcp-comments.md",
        "large-2024.md",
    ]
    .iter()
    .map(|f| common::fixtures_dir().join(f))
    .collect();
    files.extend(common::published());
    assert!(files.len() >= 4);
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let mut html = common::render_file(&path).html;
        // The fixture's wide picture, served as a real 1200 px image.
        html = html
            .replace(
                "https://flames.example.dev/images/flamegraph-wide.png",
                &format!("file://{}", wide.display()),
            )
            .replace(
                "https://assets.example.org/emoji/1f389.png",
                &format!("file://{}", emoji.display()),
            );
        let m = layout_at_375(&bin, &name, &html, &[]);
        let ctx = format!("{name} at 375px: {m}");
        assert_eq!(m["client"], 375, "{ctx}");
        assert_eq!(
            m["scroll"], m["client"],
            "the e-mail is wider than the phone: {ctx}"
        );
        assert_eq!(m["container"], 375, "{ctx}");
        assert!(
            m["widest"].as_i64().unwrap() <= 375,
            "something sticks out: {ctx}"
        );
        for t in m["tables"].as_array().unwrap() {
            assert!(
                t["box"].as_i64().unwrap() <= 375 - 28,
                "a table box is too wide: {ctx}"
            );
        }
        for img in m["images"].as_array().unwrap() {
            if img["loaded"] == true {
                assert!(
                    img["w"].as_i64().unwrap() <= 375 - 28,
                    "an image is too wide: {ctx}"
                );
            }
            if img["emoji"] == true && img["loaded"] == true {
                assert!(
                    img["h"].as_i64().unwrap() <= 24,
                    "an emoji image is not at text size: {ctx}"
                );
            }
        }
        if name == "perf-triage" {
            let loaded: Vec<&serde_json::Value> = m["images"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["loaded"] == true)
                .collect();
            assert_eq!(
                loaded.len(),
                1,
                "the wide image was laid out for real: {ctx}"
            );
            assert_eq!(m["tables"].as_array().unwrap().len(), 2, "{ctx}");
        }
        if name == "layout-2019" {
            let emoji = m["images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["emoji"] == true)
                .unwrap();
            assert_eq!(
                emoji["loaded"], true,
                "the emoji image was laid out for real: {ctx}"
            );
            let h: Vec<f64> = m["headings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(
                h.windows(2).all(|w| w[0] > w[1]),
                "headings h1..h6 must shrink: {h:?}"
            );
        }
    }
}

#[test]
fn the_header_reads_with_images_blocked() {
    let Some(bin) = chromium() else {
        return;
    };
    let html = common::render_file(&common::fixtures_dir().join("small-html.md")).html;
    let m = layout_at_375(
        &bin,
        "images-blocked",
        &html,
        &["--blink-settings=imagesEnabled=false"],
    );
    assert_eq!(m["logoLoaded"], false, "images are blocked: {m}");
    assert_eq!(m["logoAlt"], "This Week in Rust", "{m}");
    // The blocked logo keeps its box: its alt text does not spill over the header word by word.
    assert_eq!(
        (m["logoBox"]["w"].as_i64(), m["logoBox"]["h"].as_i64()),
        (Some(32), Some(32)),
        "{m}"
    );
    let mast = &m["masthead"];
    assert_eq!(mast["text"], "This Week in Rust", "{m}");
    assert!(
        mast["w"].as_i64().unwrap() > 100 && mast["h"].as_i64().unwrap() > 20,
        "{m}"
    );
    let (fg, bg) = (
        luminance(mast["color"].as_str().unwrap()),
        luminance(mast["band"].as_str().unwrap()),
    );
    let contrast = (fg.max(bg) + 0.05) / (fg.min(bg) + 0.05);
    assert!(contrast >= 4.5, "masthead contrast {contrast:.1}: {m}");
}

/// The e-mail as the Email Markup Consortium checks it: axe-core (in Chromium) finds nothing serious or
/// critical, the document says its language and direction, one `role="article"` landmark carries the
/// issue's title, and the headings go down one level at a time from the masthead's h1.
#[test]
fn the_email_passes_axe_with_its_landmark_and_headings_in_order() {
    let Some(bin) = chromium() else {
        return;
    };
    let Some(axe) = common::require(common::AXE_CORE) else {
        return;
    };
    let axe = std::fs::read_to_string(axe).unwrap();
    // The e-mail `newsletter render` writes (the binary under test).
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(common::bin())
        .args(["render", "-o"])
        .arg(dir.path())
        .arg(common::fixtures_dir().join("large-2024.md"))
        .env_remove("NEWSLETTER_CONFIG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::show(&o));
    let html = std::fs::read_to_string(dir.path().join("999.html")).unwrap();
    let probe = format!(
        "<script>{axe}</script><script>
axe.run(document).then(function (r) {{
  var d = document, art = d.querySelectorAll('[role=article]');
  d.body.setAttribute('data-m', JSON.stringify({{
    serious: r.violations.filter(function (v) {{ return v.impact === 'serious' || v.impact === 'critical'; }})
      .map(function (v) {{ return v.id + ': ' + v.nodes.map(function (n) {{ return n.target.join(' '); }}).join(', '); }}),
    all: r.violations.map(function (v) {{ return v.id + ' (' + v.impact + ')'; }}),
    lang: d.documentElement.getAttribute('lang'),
    dir: d.documentElement.getAttribute('dir'),
    articles: art.length,
    label: art.length ? art[0].getAttribute('aria-label') : null,
    articleDir: art.length ? art[0].getAttribute('dir') : null,
    levels: [].map.call(d.querySelectorAll('h1, h2, h3, h4, h5, h6'), function (h) {{ return +h.tagName[1]; }})
  }}));
}}, function (e) {{ d.body.setAttribute('data-m', JSON.stringify({{ error: String(e) }})); }});
</script>"
    );
    let page_html = html.replacen("</body>", &format!("{probe}</body>"), 1);
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let page = artifacts.join("large-2024-axe.html");
    std::fs::write(&page, page_html).unwrap();
    let dom = run_chromium(
        &bin,
        false,
        660,
        &["--dump-dom".into(), format!("file://{}", page.display())],
    );
    let m = attr_json(&String::from_utf8_lossy(&dom.stdout));
    assert!(m.get("error").is_none(), "axe failed: {m}");
    assert_eq!(m["serious"], serde_json::json!([]), "{m}");
    assert_eq!(
        (m["lang"].as_str(), m["dir"].as_str()),
        (Some("en"), Some("ltr")),
        "{m}"
    );
    assert_eq!(m["articles"], 1, "{m}");
    assert_eq!(m["label"], "This Week in Rust 999", "{m}");
    assert_eq!(m["articleDir"], "ltr", "{m}");
    let levels: Vec<u64> = m["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect();
    assert_eq!(
        levels.first(),
        Some(&1),
        "the masthead is the first heading: {m}"
    );
    for w in levels.windows(2) {
        assert!(
            w[1] <= w[0] + 1,
            "a heading skips a level ({} after {}): {m}",
            w[1],
            w[0]
        );
    }
    eprintln!("axe on the e-mail: {}", m["all"]);
}
