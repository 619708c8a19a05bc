//! The administrators' console in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, through fantoccini) against the real `newsletter serve` on a real SQLite file.
//! An admin signs in, searches, opens a subscriber, unsubscribes one and forgets another, imports a
//! CSV with a bad line and reads it reported, watches a campaign finish against the file outbox,
//! opens the quarantine, previews a draft and sends a test copy. On every page axe-core runs in the
//! page and no serious or critical violation may be found. Screenshots of each page are kept in
//! tests/artifacts/console/.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common;
use crate::common::console::{self, add_account};
use crate::common::db::TestDb;
use crate::common::web::serve_with;
use crate::common::{Env, emails, small_issue};

const PASSWORD: &str = "a console password for tests";

/// What every test here needs: the WebDriver server, the browser it drives, and axe-core.
const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "chromium";
const AXE: &str = common::AXE_CORE;

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/install-test-deps.sh)");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, url }
}

async fn browser(driver: &Driver) -> Client {
    browser_as(driver, false, false).await
}

/// A Chromium session: a desktop window of 1280 px, or a phone's 375 px viewport (emulated, as
/// a desktop window cannot be made that narrow), in the light or the dark colour scheme.
async fn browser_as(driver: &Driver, phone: bool, dark: bool) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--lang=en-US",
    ];
    if dark {
        // Makes `prefers-color-scheme: dark` match, as a phone in dark mode does.
        args.push("--force-dark-mode");
    }
    let mut options = json!({ "binary": "/usr/bin/chromium", "args": args });
    if phone {
        options["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": PHONE, "height": 812, "pixelRatio": 1.0 } });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    // WebDriver is plain http here, but the client is built with rustls, which needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// The width of the phone the console must fit.
const PHONE: i64 = 375;

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts/console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every page: a screenshot under `name`, and axe-core's serious and critical violations, which
/// must be none. Returns the page's text.
async fn look(c: &Client, name: &str) -> String {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
    let axe = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(AXE)).unwrap();
    c.execute(&format!("{axe}\n;return true;"), vec![])
        .await
        .unwrap();
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { iframes: false }).then(r => done(r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let violations: Vec<String> = serde_json::from_value(result).unwrap();
    assert!(violations.is_empty(), "{name}: {violations:#?}");
    let lang = c
        .execute("return document.documentElement.lang;", vec![])
        .await
        .unwrap();
    assert_eq!(
        lang,
        Value::from("en"),
        "{name}: the page declares its language"
    );
    body_text(c).await
}

/// The page's text; a page that is being replaced is read again once it is there.
async fn body_text(c: &Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(Locator::Css("body")).await {
            Ok(b) => match b.text().await {
                Ok(t) => return t,
                Err(e) => assert!(Instant::now() < deadline, "{e}"),
            },
            Err(e) => assert!(Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page shown (after a click's navigation) says `needle`; returns its text.
async fn says(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = body_text(c).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the page never said {needle:?}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn click_link(c: &Client, text: &str) {
    c.find(Locator::LinkText(text))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn click_button(c: &Client, label: &str) {
    c.find(Locator::XPath(&format!("//button[text()='{label}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the browser is on a page under `prefix` (after a form's redirect), and returns it.
async fn arrived(c: &Client, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = c.current_url().await.unwrap();
        if url.path().starts_with(prefix) {
            return url.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "never reached {prefix}: at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reloads `url` until its text contains `needle` (the page refreshes itself too).
async fn wait_for(c: &Client, url: &str, needle: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        c.goto(url).await.unwrap();
        let text = body_text(c).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never said {needle:?}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_does_the_weeks_work_in_a_browser() {
    require!(CHROMEDRIVER, CHROMIUM, AXE);
    let env = Env::new(TestDb::sqlite());
    let dir = env.dir.path().to_path_buf();
    // The list: 300 readers, plus two people to find.
    let mut list = emails("reader", 300);
    list.push("ferris.crab@example.org".into());
    list.push("corro@example.net".into());
    env.subscribe(&list);
    add_account(&env.db, "boss@example.org", "admin", PASSWORD);
    // The quarantine holds one bounce for nobody on the list, put there by the intake (which
    // stores its explanation beside it); the drafts folder one issue.
    let quarantine = dir.join("quarantine");
    let maildir = dir.join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces/amazon-ses-dsn.eml"),
        maildir.join("new/1700000000.M1P1.test"),
    )
    .unwrap();
    let intake = crate::common::newsletter(&dir, &env.db.url())
        .args(["bounces", "process", "--maildir"])
        .arg(&maildir)
        .arg("--quarantine")
        .arg(&quarantine)
        .output()
        .unwrap();
    assert!(intake.status.success(), "{intake:?}");
    let drafts = dir.join("drafts");
    std::fs::create_dir_all(&drafts).unwrap();
    std::fs::copy(small_issue(), drafts.join("next-issue.md")).unwrap();
    let outbox = dir.join("outbox");
    let server = serve_with(
        &env.db,
        &[
            ("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true"),
            (
                "NEWSLETTER_BOUNCES__QUARANTINE",
                quarantine.to_str().unwrap(),
            ),
            ("NEWSLETTER_ADMIN__DRAFTS", drafts.to_str().unwrap()),
            (
                "NEWSLETTER_TRANSPORT__URL",
                &format!("file:{}", outbox.display()),
            ),
        ],
    );
    let base = format!("http://{}", server.addr);
    let driver = start_driver();
    let c = browser(&driver).await;

    // Sign in.
    c.goto(&format!("{base}/admin/")).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
    look(&c, "01-sign-in").await;
    fill(&c, "#email", "boss@example.org").await;
    fill(&c, "#password", PASSWORD).await;
    click(&c, "button[type=submit]").await;
    says(&c, "Bounces and complaints").await;
    let dash = look(&c, "02-dashboard").await;
    assert!(
        dash.contains("Subscribers") && dash.contains("active"),
        "{dash}"
    );
    assert!(dash.contains("302"), "302 active subscribers: {dash}");

    // Search, open a subscriber, unsubscribe them.
    c.goto(&format!("{base}/admin/subscribers")).await.unwrap();
    fill(&c, "#q", "crab").await;
    click(&c, "form[role=search] button").await;
    says(&c, "ferris.crab").await;
    let found = look(&c, "03-subscribers-search").await;
    assert!(found.contains("ferris.crab@example.org"), "{found}");
    assert!(!found.contains("reader00001"), "{found}");
    click_link(&c, "ferris.crab@example.org").await;
    says(&c, "Status history").await;
    let page = look(&c, "04-subscriber").await;
    assert!(
        page.contains("active") && page.contains("Status history"),
        "{page}"
    );
    click_button(&c, "Unsubscribe").await;
    says(&c, "ferris.crab@example.org: unsubscribed").await;

    // Forget another, through the confirmation step.
    c.goto(&format!("{base}/admin/subscribers?q=corro"))
        .await
        .unwrap();
    click_link(&c, "corro@example.net").await;
    click_link(&c, "Forget this subscriber…").await;
    says(&c, "cannot be undone").await;
    let confirm = look(&c, "05-forget-confirmation").await;
    assert!(confirm.contains("cannot be undone"), "{confirm}");
    click(&c, "form[action$='/forget'] button").await;
    says(&c, "Address or name contains").await;
    c.goto(&format!("{base}/admin/subscribers?q=corro"))
        .await
        .unwrap();
    assert!(body_text(&c).await.contains("Nobody matches."));

    // Import a CSV with a bad line: nothing imported, the line named.
    let csv = dir.join("new-readers.csv");
    std::fs::write(
        &csv,
        "email,name\nnew.one@example.org,New One\nnot-an-address,Broken\nnew.two@example.org,New Two\n",
    )
    .unwrap();
    c.goto(&format!("{base}/admin/import")).await.unwrap();
    look(&c, "06-import").await;
    fill(&c, "#file", csv.to_str().unwrap()).await;
    click(&c, "form[action='/admin/import'] button").await;
    let url = arrived(&c, "/admin/import/").await;
    let result = wait_for(&c, &url, "Invalid rows", 20).await;
    assert!(result.contains("Nothing was imported"), "{result}");
    assert!(
        result.contains("3") && result.contains("not-an-address"),
        "line 3 named: {result}"
    );
    look(&c, "07-import-refused").await;
    // The same file, valid rows only.
    c.goto(&format!("{base}/admin/import")).await.unwrap();
    fill(&c, "#file", csv.to_str().unwrap()).await;
    click(&c, "#skip_invalid").await;
    click(&c, "form[action='/admin/import'] button").await;
    let url = arrived(&c, "/admin/import/").await;
    let result = wait_for(&c, &url, "Added 2", 20).await;
    assert!(result.contains("invalid 1"), "{result}");
    look(&c, "08-import-done").await;

    // Watch a campaign go out to the file outbox at 30 messages a second (302 readers: 10 s).
    let sender = env
        .command(&[
            "send",
            small_issue().to_str().unwrap(),
            "--yes",
            "--transport",
            &format!("file:{}", dir.join("campaign-outbox").display()),
        ])
        .env("NEWSLETTER_SEND__RATE", "30")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let list = wait_for(&c, &format!("{base}/admin/campaigns"), "sending", 30).await;
    assert!(list.contains("sending"), "{list}");
    look(&c, "09-campaigns").await;
    click(&c, "main table a").await;
    says(&c, "Per provider").await;
    let live = look(&c, "10-campaign-sending").await;
    assert!(
        live.contains("Refresh every 5 seconds"),
        "the script shows its box: {live}"
    );
    let campaign_url = c.current_url().await.unwrap().to_string();
    wait_for(&c, &campaign_url, "302 of 302 have an outcome", 60).await;
    // The first value of the page's list is the campaign's state.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.goto(&campaign_url).await.unwrap();
        let state = c
            .find(Locator::Css("dd"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if state == "done" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign never finished: {state}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    look(&c, "11-campaign-done").await;
    let status = { sender }.wait_with_output().unwrap().status;
    assert!(status.success());

    // The bounce log and the quarantine with its explanation; process again, then discard.
    c.goto(&format!("{base}/admin/bounces")).await.unwrap();
    look(&c, "12-bounces").await;
    c.goto(&format!("{base}/admin/quarantine")).await.unwrap();
    let q = look(&c, "13-quarantine").await;
    assert!(
        q.contains("1 message(s)") && q.contains("1700000000.M1P1.test"),
        "{q}"
    );
    assert!(
        q.contains("permanent failure"),
        "the explanation names the class in words: {q}"
    );
    click_link(&c, "1700000000.M1P1.test").await;
    says(&c, "The message").await;
    look(&c, "14-quarantined-message").await;
    click_button(&c, "Process again").await;
    says(&c, "still proves nothing").await;
    let kept = look(&c, "15-quarantine-kept").await;
    assert!(kept.contains("still proves nothing"), "{kept}");
    c.goto(&format!("{base}/admin/quarantine/1700000000.M1P1.test"))
        .await
        .unwrap();
    click_button(&c, "Discard…").await;
    says(&c, "This cannot be undone").await;
    assert_eq!(
        std::fs::read_dir(quarantine.join("new")).unwrap().count(),
        1,
        "the confirmation page discards nothing"
    );
    click_button(&c, "Discard the message").await;
    says(&c, "The message is discarded.").await;
    says(&c, "The quarantine is empty.").await;
    assert_eq!(
        std::fs::read_dir(quarantine.join("new")).unwrap().count(),
        0
    );

    // Preview the draft and send a test copy.
    c.goto(&format!("{base}/admin/preview")).await.unwrap();
    look(&c, "16-preview-form").await;
    c.find(Locator::Css("#draft"))
        .await
        .unwrap()
        .select_by_value("next-issue.md")
        .await
        .unwrap();
    click(&c, "form[action='/admin/preview'] button").await;
    arrived(&c, "/admin/preview/").await;
    says(&c, "Plaintext").await;
    let preview = look(&c, "17-preview").await;
    assert!(
        preview.contains("Check") && preview.contains("Plaintext"),
        "{preview}"
    );
    let frames = c
        .execute(
            "return [...document.querySelectorAll('iframe')].map(f => [f.width, f.contentDocument === null]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        frames,
        json!([["660", true], ["660", true], ["375", true], ["375", true]]),
        "four sandboxed frames at two widths"
    );
    // The frames' e-mail: light and dark fixed by the server, under a policy of its own.
    let session = c.get_named_cookie("nl_admin").await.unwrap();
    let cookie = format!("nl_admin={}", session.value());
    let preview_path = c.current_url().await.unwrap().path().to_string();
    for (scheme, rule) in [("light", "@media not all"), ("dark", "@media all")] {
        let r = common::web::http_with(
            &server.addr,
            "GET",
            &format!("{preview_path}/html?scheme={scheme}"),
            &[("Cookie", &cookie)],
            "",
        );
        assert_eq!(r.status, 200);
        assert!(
            r.body.contains(rule) && !r.body.contains("prefers-color-scheme: dark"),
            "{scheme}"
        );
        assert!(
            r.body.contains("Weekly Crab"),
            "{scheme}: the e-mail itself"
        );
        let head = r.head.to_lowercase();
        assert!(
            head.contains("content-security-policy: default-src 'none'; style-src 'unsafe-inline'"),
            "{head}"
        );
        assert!(
            head.contains("frame-ancestors 'self'")
                && head.contains("sandbox")
                && head.contains("x-frame-options: sameorigin"),
            "{head}"
        );
    }
    fill(&c, "#to", "editor@example.org").await;
    click(&c, "form[action$='/test'] button").await;
    says(&c, "test copy (").await;
    let sent = look(&c, "18-test-copy-sent").await;
    assert!(sent.contains("Sent a test copy"), "{sent}");
    let copies: Vec<_> = std::fs::read_dir(&outbox).unwrap().collect();
    assert_eq!(copies.len(), 1, "one test copy in the outbox");

    c.goto(&format!("{base}/admin/audit")).await.unwrap();
    let audit = look(&c, "19-audit-log").await;
    for action in [
        "login",
        "unsubscribe subscriber",
        "forget subscriber",
        "import finished",
        "quarantine discard",
        "sent a test copy",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
    c.close().await.unwrap();
    drop(server);
}

/// Where the phone screenshots are kept: target/console-screenshots/{light,dark}/.
fn screenshots(scheme: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/console-screenshots")
        .join(scheme);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A page on the phone: no sideways scroll (the document is no wider than the 375 px viewport),
/// axe-core's serious and critical violations none, no server path, no literal backtick or stray
/// separator, and issues called issues. The screenshot is kept. Returns the page's text.
async fn fits(c: &Client, scheme: &str, name: &str, server_paths: &[&Path]) -> String {
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let widths: Vec<i64> = serde_json::from_value(widths).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots(scheme).join(format!("{name}.png")), png).unwrap();
    assert_eq!(
        widths[2], PHONE,
        "{scheme}/{name}: the viewport is a phone's"
    );
    assert!(
        widths[0] <= PHONE && widths[1] <= PHONE,
        "{scheme}/{name}: the page is {} px wide on a {PHONE} px phone",
        widths[0].max(widths[1])
    );
    let dark = c
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(dark, Value::from(scheme == "dark"), "{scheme}/{name}");
    let text = look_at(c, &format!("{scheme}/{name}")).await;
    let html = c.source().await.unwrap();
    for p in server_paths {
        let p = p.to_str().unwrap();
        assert!(!html.contains(p), "{scheme}/{name}: a server path ({p})");
    }
    assert!(
        !text.contains('`'),
        "{scheme}/{name}: a literal backtick: {text}"
    );
    assert!(
        !text.contains(" · "),
        "{scheme}/{name}: a stray separator: {text}"
    );
    assert!(
        !text.to_lowercase().contains("campaign 1"),
        "{scheme}/{name}: a campaign's database id: {text}"
    );
    text
}

/// axe-core on the page as it is: no serious or critical violation.
async fn look_at(c: &Client, name: &str) -> String {
    let axe = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(AXE)).unwrap();
    c.execute(&format!("{axe}\n;return true;"), vec![])
        .await
        .unwrap();
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { iframes: false }).then(r => done(r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let violations: Vec<String> = serde_json::from_value(result).unwrap();
    assert!(violations.is_empty(), "{name}: {violations:#?}");
    body_text(c).await
}

/// Issue #23, item 5: every page of the console on a 375 px phone, in the light and the dark
/// scheme, has no sideways scroll and no serious accessibility fault, with data that stretches it:
/// long addresses, failures with the server's long words, a scheduled issue with its controls, a
/// quarantined bounce, an import with a bad line, and a preview.
#[tokio::test(flavor = "multi_thread")]
async fn every_console_page_fits_a_phone_in_light_and_dark() {
    require!(CHROMEDRIVER, CHROMIUM, AXE, "python3:aiosmtpd");
    let env = Env::new(TestDb::sqlite());
    let dir = env.dir.path().to_path_buf();
    let mut list = emails("reader", 30);
    list.push("gone@example.org".into());
    list.push("a.very.long.address.of.a.reader.who.likes.long.names@subdomain.example-of-a-long-domain.org".into());
    list.extend(emails("blocked", 3));
    env.subscribe(&list);
    add_account(&env.db, "boss@example.org", "admin", PASSWORD);
    let relay = crate::common::smtp::Server::faulty(&[
        "--refuse",
        "blocked=550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using a reputation list, see https://blocklist.example.net/lookup?ip=127.0.0.1",
        "--refuse",
        "gone@=550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
    ]);
    let out = env.send(&small_issue(), &relay.url(), &[]);
    assert!(out.status.success(), "{}", crate::common::show(&out));
    // A second issue, scheduled, for the controls.
    let next = dir.join("913.md");
    std::fs::write(
        &next,
        std::fs::read_to_string(small_issue())
            .unwrap()
            .replace("Rust 912", "Rust 913")
            .replace("Number: 912", "Number: 913"),
    )
    .unwrap();
    let out = env.send(&next, &relay.url(), &["--at", "2099-07-01 09:30"]);
    assert!(out.status.success(), "{}", crate::common::show(&out));
    let quarantine = dir.join("quarantine");
    let maildir = dir.join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces/amazon-ses-dsn.eml"),
        maildir.join("new/1700000000.M1P1.test"),
    )
    .unwrap();
    let intake = crate::common::newsletter(&dir, &env.db.url())
        .args(["bounces", "process", "--maildir"])
        .arg(&maildir)
        .arg("--quarantine")
        .arg(&quarantine)
        .output()
        .unwrap();
    assert!(intake.status.success(), "{intake:?}");
    let drafts = dir.join("drafts");
    std::fs::create_dir_all(&drafts).unwrap();
    std::fs::copy(small_issue(), drafts.join("next-issue.md")).unwrap();
    let csv = dir.join("readers.csv");
    std::fs::write(
        &csv,
        "email,name\nnew.one@example.org,New One\nnot-an-address-at-all-and-rather-long-too,Broken\n",
    )
    .unwrap();
    let server = serve_with(
        &env.db,
        &[
            ("NEWSLETTER_ADMIN__PLAIN_LOOPBACK", "true"),
            (
                "NEWSLETTER_BOUNCES__QUARANTINE",
                quarantine.to_str().unwrap(),
            ),
            ("NEWSLETTER_ADMIN__DRAFTS", drafts.to_str().unwrap()),
        ],
    );
    let base = format!("http://{}", server.addr);
    let paths = [dir.as_path(), quarantine.as_path(), drafts.as_path()];
    let driver = start_driver();
    for scheme in ["light", "dark"] {
        let c = browser_as(&driver, true, scheme == "dark").await;
        c.goto(&format!("{base}/admin/login")).await.unwrap();
        fits(&c, scheme, "01-sign-in", &paths).await;
        fill(&c, "#email", "boss@example.org").await;
        fill(&c, "#password", PASSWORD).await;
        click(&c, "button[type=submit]").await;
        says(&c, "Bounces and complaints").await;
        let dash = fits(&c, scheme, "02-dashboard", &paths).await;
        assert!(
            dash.contains("Issue 912") && dash.contains("Issue 913"),
            "{dash}"
        );
        c.goto(&format!("{base}/admin/campaigns")).await.unwrap();
        let issues = fits(&c, scheme, "03-issues", &paths).await;
        assert!(
            issues.contains("finished ") && issues.contains("due "),
            "dates: {issues}"
        );
        click_link(&c, "Issue 912").await;
        says(&c, "Per provider").await;
        let done = fits(&c, scheme, "04-issue-done", &paths).await;
        assert!(done.contains("Top failure reasons"), "{done}");
        c.goto(&format!("{base}/admin/campaigns/913"))
            .await
            .unwrap();
        let scheduled = fits(&c, scheme, "05-issue-scheduled", &paths).await;
        assert!(
            scheduled.contains("Pause…") && scheduled.contains("Send now…"),
            "{scheduled}"
        );
        if scheme == "light" {
            // The page refreshes itself every 5 s, but not while a new time is being typed.
            c.execute("window.stillHere = true;", vec![]).await.unwrap();
            click(&c, "#at").await;
            tokio::time::sleep(Duration::from_secs(7)).await;
            let kept = c
                .execute("return window.stillHere === true;", vec![])
                .await
                .unwrap();
            assert_eq!(
                kept,
                Value::from(true),
                "the page reloaded under the typing"
            );
            c.execute(
                "document.activeElement.blur(); window.stillHere = true;",
                vec![],
            )
            .await
            .unwrap();
            let deadline = Instant::now() + Duration::from_secs(12);
            loop {
                let same = c
                    .execute("return window.stillHere === true;", vec![])
                    .await
                    .is_ok_and(|v| v == true);
                if !same {
                    break;
                }
                assert!(Instant::now() < deadline, "the page never refreshed itself");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        click_button(&c, "Cancel the issue…").await;
        says(&c, "will not get issue 913").await;
        fits(&c, scheme, "06-cancel-confirmation", &paths).await;
        c.goto(&format!("{base}/admin/subscribers?q=gone"))
            .await
            .unwrap();
        fits(&c, scheme, "07-subscribers", &paths).await;
        click_link(&c, "gone@example.org").await;
        says(&c, "Status history").await;
        let gone = fits(&c, scheme, "08-subscriber", &paths).await;
        assert!(gone.contains("Permanent failure"), "{gone}");
        c.goto(&format!("{base}/admin/subscribers?q=a.very.long"))
            .await
            .unwrap();
        click(&c, "main table a").await;
        says(&c, "Status history").await;
        fits(&c, scheme, "09-subscriber-long-address", &paths).await;
        c.goto(&format!("{base}/admin/subscribers?q=re"))
            .await
            .unwrap();
        let short = fits(&c, scheme, "10-subscribers-short-query", &paths).await;
        assert!(
            short.contains("Only the start of addresses was searched"),
            "{short}"
        );
        c.goto(&format!("{base}/admin/import")).await.unwrap();
        fits(&c, scheme, "11-import", &paths).await;
        fill(&c, "#file", csv.to_str().unwrap()).await;
        click(&c, "form[action='/admin/import'] button").await;
        let url = arrived(&c, "/admin/import/").await;
        wait_for(&c, &url, "Invalid rows", 20).await;
        fits(&c, scheme, "12-import-refused", &paths).await;
        c.goto(&format!("{base}/admin/bounces")).await.unwrap();
        let bounces = fits(&c, scheme, "13-bounces", &paths).await;
        assert!(
            bounces.contains("Permanent failure") && bounces.contains("about us"),
            "{bounces}"
        );
        for jargon in ["dsn-field", "rfc3464", "verp"] {
            assert!(
                !bounces.to_lowercase().contains(jargon),
                "{jargon}: {bounces}"
            );
        }
        c.goto(&format!("{base}/admin/quarantine")).await.unwrap();
        fits(&c, scheme, "14-quarantine", &paths).await;
        click_link(&c, "1700000000.M1P1.test").await;
        says(&c, "The message").await;
        fits(&c, scheme, "15-quarantined-message", &paths).await;
        click_button(&c, "Discard…").await;
        says(&c, "This cannot be undone").await;
        fits(&c, scheme, "16-discard-confirmation", &paths).await;
        c.goto(&format!("{base}/admin/preview")).await.unwrap();
        fits(&c, scheme, "17-preview-form", &paths).await;
        c.find(Locator::Css("#draft"))
            .await
            .unwrap()
            .select_by_value("next-issue.md")
            .await
            .unwrap();
        click(&c, "form[action='/admin/preview'] button").await;
        arrived(&c, "/admin/preview/").await;
        says(&c, "Plaintext").await;
        fits(&c, scheme, "18-preview", &paths).await;
        c.goto(&format!("{base}/admin/audit")).await.unwrap();
        fits(&c, scheme, "19-audit-log", &paths).await;
        c.close().await.unwrap();
    }
    drop(server);
}

/// Issue #23, items 1 and 3 from a phone: while `send` goes out at 10 messages a second, the
/// administrator presses Pause… and confirms; once the page says it is paused, at most
/// `concurrency` more messages may arrive. Then Resume… (a worker takes it up again) and Cancel…
/// the same way.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_pauses_and_cancels_a_running_send_from_a_phone() {
    require!(CHROMEDRIVER, CHROMIUM, AXE);
    const CONCURRENCY: usize = 2;
    let env = Env::new(TestDb::sqlite())
        .var("NEWSLETTER_SEND__RATE", "10")
        .var("NEWSLETTER_SEND__CONCURRENCY", &CONCURRENCY.to_string());
    let dir = env.dir.path().to_path_buf();
    env.subscribe(&emails("reader", 400));
    add_account(&env.db, "boss@example.org", "admin", PASSWORD);
    let outbox = dir.join("outbox");
    let transport = format!("file:{}", outbox.display());
    let delivered = || std::fs::read_dir(&outbox).map_or(0, |d| d.count());
    let mut sender = env
        .command(&[
            "send",
            small_issue().to_str().unwrap(),
            "--yes",
            "--transport",
            &transport,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = console::serve(&env.db);
    let base = format!("http://{}", server.addr);
    let driver = start_driver();
    let c = browser_as(&driver, true, false).await;
    c.goto(&format!("{base}/admin/login")).await.unwrap();
    fill(&c, "#email", "boss@example.org").await;
    fill(&c, "#password", PASSWORD).await;
    click(&c, "button[type=submit]").await;
    says(&c, "Bounces and complaints").await;
    let page = format!("{base}/admin/campaigns/912");
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered() < 20 {
        assert!(Instant::now() < deadline, "the send never got going");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Pause.
    c.goto(&page).await.unwrap();
    click_button(&c, "Pause…").await;
    says(&c, "are still waiting").await;
    fits(&c, "light", "20-pause-confirmation", &[]).await;
    click_button(&c, "Pause issue 912").await;
    says(&c, "Issue 912 is paused.").await;
    let at_pause = delivered();
    fits(&c, "light", "21-paused", &[]).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let late = delivered() - at_pause;
    eprintln!("pause: {at_pause} delivered when the page said paused, {late} after");
    assert!(
        late <= CONCURRENCY,
        "{late} messages went out after the console said the issue was paused (at most {CONCURRENCY})"
    );
    let status = sender.wait().unwrap();
    eprintln!("send after pause: {status}");

    // Resume: a worker takes it up again.
    click_button(&c, "Resume…").await;
    says(&c, "are waiting for it").await;
    click_button(&c, "Resume issue 912").await;
    says(&c, "Issue 912 is resumed.").await;
    let mut worker = env
        .command(&["worker", "--once", "--transport", &transport])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered() < at_pause + late + 20 {
        assert!(Instant::now() < deadline, "the resumed send never went on");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Cancel.
    c.goto(&page).await.unwrap();
    click_button(&c, "Cancel the issue…").await;
    says(&c, "will not get issue 912").await;
    click_button(&c, "Cancel issue 912").await;
    says(&c, "Issue 912 is cancelled.").await;
    let at_cancel = delivered();
    let flash = body_text(&c).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let late = delivered() - at_cancel;
    eprintln!("cancel: {at_cancel} delivered when the page said cancelled, {late} after");
    assert!(
        late <= CONCURRENCY,
        "{late} messages went out after the console said the issue was cancelled (at most {CONCURRENCY}): {flash}"
    );
    assert!(
        delivered() < 400,
        "a cancelled issue does not reach everyone"
    );
    let _ = worker.wait();
    c.close().await.unwrap();
    drop(server);
}
