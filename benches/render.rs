//! Render speed for a 2024-size issue and the per-recipient cost.
//! Run: `cargo bench --bench render`. Targets: render < 10 ms, fill < 20 µs, message build ≥ 20,000/s.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use newsletter::config::Config;
use newsletter::domain::EmailAddress;
use newsletter::issue::Issue;
use newsletter::mail::{MailRecipient, MessageFactory};
use newsletter::render::{self, Recipient, Theme};

fn benches(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/large-2024.md");
    let bytes = std::fs::read(&path).unwrap();
    let config = Config::defaults();
    let theme = Theme::from_config(&config).unwrap();

    c.bench_function("issue_parse/large-2024", |b| {
        b.iter(|| Issue::parse(&path, black_box(&bytes)).unwrap())
    });
    c.bench_function(
        "render/large-2024 (parse + markdown + layout + inline + text)",
        |b| {
            b.iter(|| {
                let issue = Issue::parse(&path, black_box(&bytes)).unwrap();
                render::render(&issue, &theme).unwrap()
            })
        },
    );

    let issue = Issue::parse(&path, &bytes).unwrap();
    let rendered = render::render(&issue, &theme).unwrap();
    let urls: Vec<String> = (0..1024)
        .map(|i| format!("https://this-week-in-rust.org/newsletter/unsubscribe/tok{i:019}"))
        .collect();
    let mut i = 0;
    c.bench_function("fill/per-recipient html+text", |b| {
        b.iter(|| {
            i = (i + 1) % urls.len();
            let r = Recipient {
                unsubscribe_url: &urls[i],
            };
            (rendered.html.fill(&r), rendered.text.fill(&r))
        })
    });

    let ids = newsletter::mail::Verp::new(b"k", &config.mail.bounce_domain);
    let factory = MessageFactory::new(&rendered, &config.mail, "issue-999", &ids);
    let email = EmailAddress::parse("subscriber@example.org").unwrap();
    let sample_token = newsletter::render::sample_token();
    let mut buf = Vec::with_capacity(256 * 1024);
    c.bench_function("mail/per-recipient message build", |b| {
        b.iter(|| {
            i = (i + 1) % urls.len();
            buf.clear();
            factory.write(
                &MailRecipient {
                    email: &email,
                    subscriber_id: i as i64,
                    unsubscribe_url: &urls[i],
                    unsubscribe_token: &sample_token,
                },
                1_732_700_000,
                &mut buf,
            );
            black_box(buf.len())
        })
    });
}

criterion_group!(render_benches, benches);
criterion_main!(render_benches);
