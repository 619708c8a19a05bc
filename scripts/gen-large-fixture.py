#!/usr/bin/env python3
"""Writes tests/fixtures/large-2024.md: a made-up issue the size of a 2024 TWiR issue.

About 40 KB of Markdown, ~290 links and ~60 events, in the 2024 template with its quirks (editor
comments, `#####` FCP headings, a reference link without a space, nested event lists, an h1 among
h2s, <small>). Deterministic: rerunning it gives the same bytes.
"""
import argparse
import random
import pathlib

args = argparse.ArgumentParser(description=__doc__)
args.add_argument("--seed", type=int, default=2024)
args.add_argument("--number", type=int, default=999)
args.add_argument("--out", type=pathlib.Path,
                  default=pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "large-2024.md")
opts = args.parse_args()
rng = random.Random(opts.seed)
WORDS = ("async trait borrow checker compile time const generics crate embedded error handling "
         "futures iterator lifetimes macro memory safety no_std parser performance pattern "
         "refactoring runtime serde simd testing tokio tooling type system unsafe wasm zero-cost "
         "allocator linker debugger profiling closures slices ownership traits enums").split()
SITES = ["blog.example.dev", "notes.example.org", "words.example.net", "rustacean.example.com",
         "devlog.example.io", "engineering.example.com", "medium.example.com/@ferris"]
CITIES = [("Berlin", "DE"), ("Zürich", "CH"), ("São Paulo", "BR"), ("Kraków", "PL"),
          ("Tokyo", "JP"), ("Seattle, WA", "US"), ("Toronto, ON", "CA"), ("Lyon", "FR"),
          ("Amsterdam", "NL"), ("Bengaluru", "IN"), ("Sydney", "AU"), ("Oslo", "NO"),
          ("Madrid", "ES"), ("Austin, TX", "US"), ("Prague", "CZ"), ("Nürnberg", "DE")]


def title(n=5):
    words = rng.sample(WORDS, n)
    return " ".join(words).capitalize()


def slug(s):
    return "-".join(s.lower().replace(",", "").replace("ü", "u").replace("ã", "a")
                    .replace("ó", "o").split())


out = []
w = out.append
w(f"""Title: This Week in Rust {opts.number}
Number: {opts.number}
Date: 2024-11-27
Category: This Week in Rust

Hello and welcome to another issue of *This Week in Rust*!
[Rust](https://www.rust-lang.org/) is a programming language empowering everyone to build reliable and efficient software.
This is a weekly summary of its progress and community.
Want something mentioned? Tag us at [@ThisWeekInRust](https://x.com/ThisWeekInRust) on X (formerly Twitter) or [@ThisWeekinRust](https://mastodon.social/@thisweekinrust) on mastodon.social, or [send us a pull request](https://github.com/rust-lang/this-week-in-rust).
Want to get involved? [We love contributions](https://github.com/rust-lang/rust/blob/master/CONTRIBUTING.md).

*This Week in Rust* is openly developed [on GitHub](https://github.com/rust-lang/this-week-in-rust) and archives can be viewed at [this-week-in-rust.org](https://this-week-in-rust.org/).
If you find any errors in this week's issue, [please submit a PR](https://github.com/rust-lang/this-week-in-rust/pulls).

## Updates from Rust Community

<!--

Dear community contributors:
Please read README.md for guidance on submissions.
Each submitted link should be of the form:

* [Title of the Linked Page](https://example.com/my_article)

-->
""")
sections = [("Official", 3), ("Foundation", 2), ("Newsletters", 2), ("Project/Tooling Updates", 14),
            ("Observations/Thoughts", 16), ("Rust Walkthroughs", 12), ("Research", 2),
            ("Miscellaneous", 7)]
k = 0
for name, count in sections:
    w(f"### {name}")
    for _ in range(count):
        k += 1
        t = title(rng.randint(6, 10))
        prefix = rng.choice(["", "", "", "[video] ", "[audio] "])
        w(f"* {prefix}[{t}](https://{rng.choice(SITES)}/{2024}/{k:03d}/{slug(t)}/)")
    w("")

w("""## Crate of the Week

This week's crate is [sample-crate](https://crates.io/crates/sample-crate), a library that makes """ + title(6).lower() + """ pleasant.

Thanks to [Corro the Unsafe](https://users.rust-lang.org/t/crate-of-the-week/2704/1400) for the suggestion!

[Please submit your suggestions and votes for next week][submit_crate]!

[submit_crate]: https://users.rust-lang.org/t/crate-of-the-week/2704

## Calls for Testing

An important step for RFC implementation is for people to experiment with the
implementation and give feedback, especially before stabilization.

<!-- Calls for Testing go here, use this format:
    * [<RFC Topic>](<RFC URL>)
        * [Tracking Issue](<Tracking Issue URL>)
-->

### [Rust](https://github.com/rust-lang/rust/labels/call-for-testing)

* [Async closures](https://github.com/rust-lang/rust/pull/132706)
    * [Testing steps](https://github.com/rust-lang/rust/pull/132706#issuecomment-1)

## Call for Participation; projects and speakers

### CFP - Projects

Always wanted to contribute to open-source projects but did not know where to start?
Every week we highlight some tasks from the Rust community for you to pick and get started!
""")
for i in range(6):
    w(f"* [project-{i} - {title(4)}](https://github.com/example/project-{i}/issues/{1000 + i})")
w("""
If you are a Rust project owner and are looking for contributors, please submit tasks [here][guidelines].

[guidelines]:https://github.com/rust-lang/this-week-in-rust?tab=readme-ov-file#call-for-participation-guidelines

### CFP - Events

* [**RustConf 2025**](https://rustconf.example.com/cfp) | Closes 2024-12-15 | Seattle, WA, US | 2025-09-02

## Updates from the Rust Project

412 pull requests were [merged in the last week][merged]

[merged]: https://github.com/search?q=is%3Apr+org%3Arust-lang+is%3Amerged+merged%3A2024-11-19..2024-11-26
""")
for i in range(82):
    repo = rng.choice(["rust", "rust", "rust", "cargo", "rust-clippy", "rust-analyzer", "miri"])
    label = "" if repo == "rust" else f"{repo.replace('rust-', '')}: "
    w(f"* [{label}{title(rng.randint(6, 11)).lower()}](https://github.com/rust-lang/{repo}/pull/{130000 + i * 37})")
w("""
### Rust Compiler Performance Triage

A quiet week: a few small regressions, and one large improvement from a `#[inline]` change.

Triage done by **@ferris**.
Revision range: [a1b2c3d4..e5f6a7b8](https://perf.rust-lang.org/?start=a1b2c3d4&end=e5f6a7b8&absolute=false&stat=instructions%3Au)

[Full report here](https://github.com/rust-lang/rustc-perf/blob/master/triage/2024-11-26.md)

### [Approved RFCs](https://github.com/rust-lang/rfcs/commits/master)

* *No RFCs were approved this week.*

### Final Comment Period

Every week, [the team](https://www.rust-lang.org/team.html) announces the 'final comment period' for RFCs and key PRs
which are reaching a decision. Express your opinions now.

#### [RFCs](https://github.com/rust-lang/rfcs/labels/final-comment-period)
* [disposition: merge] [""" + title(4) + """](https://github.com/rust-lang/rfcs/pull/3700)

#### Tracking Issues & PRs
<!-- * [disposition: ] []() -->

##### [Rust](https://github.com/rust-lang/rust/issues?q=is%3Aopen+label%3Afinal-comment-period+sort%3Aupdated-desc)
""")
for i in range(6):
    w(f"* [disposition: merge] [{title(5)}](https://github.com/rust-lang/rust/pull/{131000 + i})")
w("""
##### [Cargo](https://github.com/rust-lang/cargo/issues?q=is%3Aopen+label%3Afinal-comment-period+sort%3Aupdated-desc)
* [disposition: merge] [Stabilize `-Zpackage-workspace`](https://github.com/rust-lang/cargo/pull/14800)

#### [New and Updated RFCs](https://github.com/rust-lang/rfcs/pulls)
* [new] [""" + title(4) + """](https://github.com/rust-lang/rfcs/pull/3730)

## Upcoming Events

Rusty Events between 2024-11-27 - 2024-12-25 🦀
""")
regions = [("Virtual", 16), ("Africa", 2), ("Asia", 5), ("Europe", 22), ("North America", 13), ("Oceania", 2)]
ev = 0
for region, count in regions:
    w(f"### {region}")
    for _ in range(count):
        ev += 1
        city, cc = rng.choice(CITIES)
        day = 27 + (ev * 3 % 28)
        date = f"2024-11-{day:02d}" if day <= 30 else f"2024-12-{day - 30:02d}"
        where = f"Virtual ({city}, {cc})" if region == "Virtual" else f"{city}, {cc}"
        group = f"Rust {city.split(',')[0]}"
        gurl = f"https://www.meetup.com/{slug(group)}/"
        w(f"* {date} | {where} | [{group}]({gurl})")
        w(f"    * [**{title(rng.randint(4, 7))}**]({gurl}events/{304000000 + ev * 7919}/)")
    w("")
w("""If you are running a Rust event please add it to the [calendar] to get
it mentioned here. Please remember to add a link to the event too.
Email the [Rust Community Team][community] for access.

[calendar]: https://www.google.com/calendar/embed?src=apd9vmbc22egenmtu5l6c5jbfc%40group.calendar.google.com
[community]: mailto:community-team@rust-lang.org

## Jobs
<!--
TWiR has stopped featuring individual job postings.
-->

Please see the latest [Who's Hiring thread on r/rust](https://www.reddit.com/r/rust/comments/1gx0000/official_rrust_whos_hiring_thread/)

# Quote of the Week

> The borrow checker is not your enemy; it is the colleague who reads every line you write.

– [a reader on rust-users](https://users.rust-lang.org/t/a-thread/120000/7)

Thanks to [Ferris](https://users.rust-lang.org/t/twir-quote-of-the-week/328/1620) for the suggestion!

[Please submit quotes and vote for next week!](https://users.rust-lang.org/t/twir-quote-of-the-week/328)

*This Week in Rust is edited by: [ferris](https://github.com/ferris), [corro](https://github.com/corro), [crabby](https://github.com/crabby), [rustacean](https://github.com/rustacean).*

*Email list hosting is sponsored by [The Rust Foundation](https://foundation.rust-lang.org/)*

<small>[Discuss on r/rust](https://www.reddit.com/r/rust/comments/1gx0001/this_week_in_rust_""" + str(opts.number) + """/)</small>
""")
text = "\n".join(out)
target = opts.out
target.write_text(text, encoding="utf-8")
print(f"{target}: {len(text.encode())} bytes, {text.count('](')} inline links, {ev} events")
