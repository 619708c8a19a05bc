#!/usr/bin/env python3
"""Writes tests/fixtures/check/clean-NNN.md: clean issues written the way TWiR writes in 2024-2026.

`check` must find nothing in any of them. Each issue is put together from parts that real weeks carry
and that a careless rule would call mistakes: recurring meetups titled "Topic TBD" or "Rust and Tell -
TBD", a location "TBD, MY", pull-request titles that mention TODO, FIXME or XXX, the draft template's
comments (the contributors' note, the Calls for Testing and FCP instructions with headings and links
inside), items hidden in a "hanging around" comment, multi-day events that began before the window,
the perf-triage table with <br /> and emoji in its cells, `irc://` links in the footer, reference
links without a space, <small>, and names in several scripts.

Deterministic: rerunning it gives the same bytes. Every text here was written for this project.
"""
import argparse
import datetime
import pathlib
import random

args = argparse.ArgumentParser(description=__doc__)
args.add_argument("--count", type=int, default=12)
args.add_argument("--out", type=pathlib.Path,
                  default=pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "check")
opts = args.parse_args()

TOPICS = ["async closures", "the borrow checker", "const generics", "embedded HALs", "error handling",
          "SIMD", "allocators", "build times", "WebAssembly components", "trait objects", "lifetimes",
          "unsafe code reviews", "fuzzing", "linkers", "no_std", "the new trait solver", "pattern types",
          "GPU compute", "database drivers", "parsers", "property testing", "FFI with C++",
          "memory layout", "Miri", "profiling", "string handling", "iterators", "codegen units"]
VERBS = ["Understanding", "Debugging", "Shipping", "Rethinking", "Benchmarking", "Teaching", "Porting",
         "Measuring", "Taming", "Designing", "Explaining", "Replacing", "Securing", "Testing"]
HOSTS = ["blog.ferrous.example", "notes.crabby.example", "words.oxide.example", "devlog.rustacean.example",
         "engineering.shipit.example", "journal.borrowck.example", "posts.cargo-cult.example"]
CRATES = ["quickparse", "tinyvec2", "ordered-arena", "lazy-regex-lite", "bitflags-ext", "hexdump-rs",
          "sqlparse-ng", "wgpu-helpers", "tracing-flame2", "smol-str2", "faststr", "kdl-edit"]
# Pull-request titles of the kind the compiler, Cargo and Clippy merge every week. Several mention the
# generic words on purpose: they are titles, not leftovers.
PRS = [
    "remove FIXME comment that's no longer a problem",
    "replace TODO placeholders in the diagnostic index",
    "XXX: audit the unchecked indexing in `RawVec::grow`",
    "address the FIXME in `rustc_resolve::late`",
    "turn the remaining TODOs in `std::fs` into issues",
    "fix a FIXME(#107414) about lifetime elision",
    "`TBD` is not a valid edition: say so in the error",
    "don't ICE on `impl Trait` in a `const` generic default",
    "make `Vec::extend_from_within` faster for `Copy` types",
    "stabilize `core::iter::repeat_n`",
    "cargo: show the `[lints]` table in `cargo metadata`",
    "clippy: new lint `manual_div_ceil`",
    "rustdoc: keep search results stable across reloads",
    "implement `Default` for `std::sync::Once`",
    "fix the TODO about `Span::call_site` hygiene in proc macros",
    "remove unused FIXME markers from the test suite",
    "rustfmt: keep comments between attributes",
    "miri: support `pthread_cond_clockwait`",
    "lower `Box<[T]>` allocation to `__rust_alloc` directly",
    "docs: the `XXX` in the `Pin` docs was a typo",
]
CITIES = [("Berlin", "DE"), ("Zürich", "CH"), ("São Paulo", "BR"), ("Kraków", "PL"), ("Tokyo", "JP"),
          ("Seattle, WA", "US"), ("Toronto, ON", "CA"), ("Lyon", "FR"), ("Amsterdam", "NL"),
          ("Bengaluru", "IN"), ("Sydney", "AU"), ("Oslo", "NO"), ("Madrid", "ES"), ("Austin, TX", "US"),
          ("Prague", "CZ"), ("Nürnberg", "DE"), ("Seoul", "KR"), ("Taipei", "TW"), ("Dublin", "IE"),
          ("Montréal, QC", "CA"), ("Wrocław", "PL"), ("Reykjavík", "IS"), ("Bogotá", "CO")]
GROUPS = ["Rust Meetup", "Rustaceans", "Rust User Group", "Rust Hack and Learn", "Rust Study Group"]
# Event titles as organisers write them; "Topic TBD" and friends are real and recurring.
TALKS = ["Topic TBD", "Monthly Meetup: Topic TBD!", "Rust and Tell - TBD", "TBD", "Talks TBD, pizza confirmed",
         "Hack Night", "Rust Study/Hack/Hang-out", "Lightning talks", "Office hours", "Book club: chapter 9",
         "Embedded Rust workshop", "Async deep dive", "Intro to Rust for Pythonistas", "Code review night"]
QUOTES = [
    ("The compiler is the colleague who reads every line and never gets tired of saying no.", "a_crab"),
    ("I stopped fearing refactors the week I stopped fighting the borrow checker.", "ferrisfan"),
    ("Rust didn't make the problem easier; it made me admit how hard it was.", "lifetimes_enjoyer"),
    ("Every `unwrap` is a promise. Some promises are worth keeping in writing.", "panic_at_the_disco"),
]
EDITORS = ["nellshamrell", "llogiq", "ericseppanen", "extrawurst", "U007D", "mariannegoldin", "bdillo",
           "opeolluwa", "bnchi", "KannanPalani57", "tzilist"]


def slug(s):
    keep = "".join(c.lower() if c.isalnum() else "-" for c in s)
    return "-".join(p for p in keep.split("-") if p)


def issue(n, number, rng):
    date = datetime.date(2024, 1, 3) + datetime.timedelta(weeks=rng.randrange(0, 150))
    end = date + datetime.timedelta(days=28)
    year = date.year
    used = set()

    def url(base):
        # Unique per issue, so no two items share a link.
        k = 0
        while True:
            u = f"{base}{'' if k == 0 else f'-{k}'}"
            if u not in used:
                used.add(u)
                return u
            k += 1

    def article():
        t = f"{rng.choice(VERBS)} {rng.choice(TOPICS)}"
        if rng.random() < 0.2:
            t += f" in {year}"
        return t

    out = []
    w = out.append
    date_field = rng.choice([date.isoformat(), f"{date.year}-{date.month}-{date.day}",
                             f"{date.isoformat()} 12:00", f"{date.isoformat()}T09:30:00"])
    w(f"Title: This Week in Rust {number}\nNumber: {number}\nDate: {date_field}\nCategory: This Week in Rust\n")
    social = ("[@thisweekinrust.bsky.social](https://bsky.app/profile/thisweekinrust.bsky.social) on Bluesky or"
              if year >= 2025 else "[@ThisWeekInRust](https://x.com/ThisWeekInRust) on X (formerly Twitter) or")
    w(f"""Hello and welcome to another issue of *This Week in Rust*!
[Rust](https://www.rust-lang.org/) is a programming language empowering everyone to build reliable and efficient software.
This is a weekly summary of its progress and community.
Want something mentioned? Tag us at
{social}
[@ThisWeekinRust](https://mastodon.social/@thisweekinrust) on mastodon.social, or
[send us a pull request](https://github.com/rust-lang/this-week-in-rust).
Want to get involved? [We love contributions](https://github.com/rust-lang/rust/blob/main/CONTRIBUTING.md).

*This Week in Rust* is openly developed [on GitHub](https://github.com/rust-lang/this-week-in-rust) and archives can be viewed at [this-week-in-rust.org](https://this-week-in-rust.org/).
If you find any errors in this week's issue, [please submit a PR](https://github.com/rust-lang/this-week-in-rust/pulls).

## Updates from Rust Community

<!--

Dear community contributors:
Please read README.md for guidance on submissions.
Each submitted link should be of the form:

* [Title of the linked Page](https://example.com/my_article)

If you add a link to a non-text content please prefix it with `[video]` or `[audio]`:

* [video] [Title of the linked video](https://example.com/my_video_article)
* [audio] [Title of the linked audio file](https://example.com/my_podcast)

-->
""")
    sections = ["Official", "Foundation", "Newsletters", "Project/Tooling Updates", "Observations/Thoughts",
                "Rust Walkthroughs", "Research", "Miscellaneous"]
    for s in sections:
        if s in ("Foundation", "Research") and rng.random() < 0.5:
            continue
        w(f"### {s}")
        for _ in range(rng.randint(1, 6 if s in ("Observations/Thoughts", "Project/Tooling Updates") else 3)):
            title = article()
            host = rng.choice(HOSTS)
            prefix = rng.choice(["", "", "", "[video] ", "[audio] "]) if s == "Miscellaneous" else ""
            w(f"* {prefix}[{title}](https://{host}/{url(slug(title))})")
        w("")
    crate = rng.choice(CRATES)
    w(f"""## Crate of the Week

This week's crate is [{crate}](https://crates.io/crates/{crate}), a crate for {rng.choice(TOPICS)}.

Thanks to [{rng.choice(EDITORS)}](https://users.rust-lang.org/u/{rng.choice(EDITORS)}) for the suggestion!

[Please submit your suggestions and votes for next week][submit_crate]!

[submit_crate]: https://users.rust-lang.org/t/crate-of-the-week/2704

## Calls for Testing
An important step for RFC implementation is for people to experiment with the
implementation and give feedback, especially before stabilization.

<!-- If there are new CfT items this week, include:

  [Repo Name](Repo URL)
    * [<Feature name>](<Feature URL>)
        * [Testing steps](<Testing Steps URL>)

  - and make note in the item so the authors know to remove the `call-for-testing` label:
This RFC will appear in the **Call for Testing** section of the next issue (#) of This Week in Rust (TWiR).
-->
""")
    if rng.random() < 0.5:
        w("""*No calls for testing were issued this week by
[Rust](https://github.com/rust-lang/rust/labels/call-for-testing),
[Rust language RFCs](https://github.com/rust-lang/rfcs/issues?q=label%3Acall-for-testing) or
[Rustup](https://github.com/rust-lang/rustup/labels/call-for-testing).*
""")
    else:
        feature = rng.choice(["-Zsbom", "`cargo script`", "`unsafe extern` blocks", "the new `--json` output"])
        w(f"""### [Cargo](https://github.com/rust-lang/cargo/labels/call-for-testing)

* [Tracking Issue for {feature}](https://github.com/rust-lang/cargo/issues/{rng.randint(10000, 16000)})
    * [Testing steps](https://doc.rust-lang.org/nightly/cargo/reference/unstable.html#{slug(feature)})
""")
    w("""[Let us know](https://github.com/rust-lang/this-week-in-rust/issues) if you would like your feature to be tracked as a part of this list.

## Call for Participation; projects and speakers

### CFP - Projects

Always wanted to contribute to open-source projects but did not know where to start?
Every week we highlight some tasks from the Rust community for you to pick and get started!

<!-- CFPs go here, use this format: * [project name - title of issue](URL to issue) -->
<!-- * [ - ]() -->
<!-- or if none - *No Calls for participation were submitted this week.* -->""")
    for _ in range(rng.randint(1, 4)):
        proj = rng.choice(CRATES)
        task = rng.choice(["document the TODO in the builder", "replace the FIXME with a real error type",
                           "add a fuzz target", "port the CLI to clap 4", "write an example for the README",
                           "make `Display` match `Debug`"])
        w(f"* [{proj} - {task}](https://github.com/example-org/{proj}/issues/{url(str(rng.randint(10, 999)))})")
    w("""
If you are a Rust project owner and are looking for contributors, please submit tasks [here][guidelines] or through a [PR to TWiR](https://github.com/rust-lang/this-week-in-rust) or by reaching out on [Bluesky](https://bsky.app/profile/thisweekinrust.bsky.social) or [Mastodon](https://mastodon.social/@thisweekinrust)!

[guidelines]:https://github.com/rust-lang/this-week-in-rust?tab=readme-ov-file#call-for-participation-guidelines

### CFP - Events

Are you a new or experienced speaker looking for a place to share something cool? This section highlights events that are being planned and are accepting submissions to join their event as a speaker.

<!-- CFPs go here, use this format: * [**event name**](URL to CFP)| Date CFP closes in YYYY-MM-DD | city,state,country | Date of event in YYYY-MM-DD -->
<!-- or if none - *No Calls for papers or presentations were submitted this week.* -->""")
    if rng.random() < 0.5:
        w("*No Calls for papers or presentations were submitted this week.*")
    else:
        close = end + datetime.timedelta(days=rng.randint(5, 40))
        w(f"* [**RustConf {year + 1} - talks TBD, CFP open**](https://rustconf.example.org/{year + 1}/cfp) | {close} | Minneapolis, MN, US | {close + datetime.timedelta(days=90)}")
    w(f"""
## Updates from the Rust Project

{rng.randint(300, 520)} pull requests were [merged in the last week][merged]

[merged]: https://github.com/search?q=is%3Apr+org%3Arust-lang+is%3Amerged+merged%3A{date - datetime.timedelta(days=7)}..{date}
""")
    groups = {"Compiler": [], "Library": [], "Cargo": [], "Rustdoc": [], "Clippy": []}
    for title in rng.sample(PRS, rng.randint(6, 12)):
        g = "Cargo" if title.startswith("cargo:") else "Clippy" if title.startswith("clippy:") else \
            "Rustdoc" if title.startswith("rustdoc:") else rng.choice(["Compiler", "Library"])
        groups[g].append(title)
    for g, titles in groups.items():
        if not titles:
            continue
        w(f"#### {g}")
        repo = g.lower() if g in ("Cargo", "Clippy") else "rust"
        for t in titles:
            w(f"* [{t}](https://github.com/rust-lang/{repo}/pull/{url(str(rng.randint(100000, 160000)))})")
        w("")
    if rng.random() < 0.7:
        w(f"""### Rust Compiler Performance Triage

A {rng.choice(['quiet', 'busy', 'mixed'])} week: a few regressions from rollups and one large win in the new trait solver.

Triage done by **@{rng.choice(['kobzol', 'simulacrum', 'panstromek'])}**.
Revision range: [{rng.randbytes(4).hex()}..{rng.randbytes(4).hex()}](https://perf.rust-lang.org/?start={rng.randbytes(20).hex()}&end={rng.randbytes(20).hex()}&absolute=false&stat=instructions%3Au)

**Summary**:

| (instructions:u)                   | mean  | range           | count |
|:----------------------------------:|:-----:|:---------------:|:-----:|
| Regressions ❌ <br /> (primary)    | {rng.randint(1, 9) / 10}%  | [0.1%, 1.{rng.randint(0, 9)}%]    | {rng.randint(1, 40)}     |
| Regressions ❌ <br /> (secondary)  | {rng.randint(1, 9) / 10}%  | [0.1%, 2.{rng.randint(0, 9)}%]    | {rng.randint(1, 60)}    |
| Improvements ✅ <br /> (primary)   | -{rng.randint(1, 9) / 10}% | [-3.{rng.randint(0, 9)}%, -0.1%]  | {rng.randint(10, 200)}   |
| Improvements ✅ <br /> (secondary) | -{rng.randint(10, 30) / 10}% | [-15.{rng.randint(0, 9)}%, -0.1%] | {rng.randint(10, 250)}   |
| All ❌✅ (primary)                 | -{rng.randint(1, 9) / 10}% | [-3.0%, 1.0%]   | {rng.randint(10, 240)}   |

{rng.randint(0, 4)} Regressions, {rng.randint(1, 7)} Improvements, {rng.randint(0, 8)} Mixed; {rng.randint(0, 4)} of them in rollups
{rng.randint(30, 60)} artifact comparisons made in total

[Full report here](https://github.com/rust-lang/rustc-perf/blob/{rng.randbytes(20).hex()}/triage/{year}/{date}.md).
""")
    w("""### [Approved RFCs](https://github.com/rust-lang/rfcs/commits/master)

Changes to Rust follow the Rust [RFC (request for comments) process](https://github.com/rust-lang/rfcs#rust-rfcs). These
are the RFCs that were approved for implementation this week:

<!-- Use either
* [Item title](Item URL)
  - or
* *No RFCs were approved this week.*
-->""")
    if rng.random() < 0.5:
        w("* *No RFCs were approved this week.*")
    else:
        w(f"* [RFC: {article()}](https://github.com/rust-lang/rfcs/pull/{url(str(rng.randint(3500, 4100)))})")
    w("""
### Final Comment Period

Every week, [the team](https://www.rust-lang.org/team.html) announces the 'final comment period' for RFCs and key PRs
which are reaching a decision. Express your opinions now.

#### Tracking Issues & PRs
<!-- Either remove the group from the "No Items Entered Final Comment Period this week for" section
     and add the item(s) which entered Final comment period:
##### [Group](Group URL)
* [Item title](Item URL)
  - for `disposition-merge` `final-comment-period` items, or
* [disposition: postpone]
  - for `disposition-postpone` `final-comment-period` items, or
* [disposition: close]
  - for `disposition-close` `final-comment-period` items,
* [disposition: unspecified]
  - when `disposition` is unspecified or ensure the group is a part of the
     "No Items Entered Final Comment Period this week for" section
-->
""")
    w("##### [Rust](https://github.com/rust-lang/rust/issues?q=is%3Aopen%20label%3Afinal-comment-period%20sort%3Aupdated-desc)")
    for t in rng.sample(PRS, rng.randint(1, 4)):
        w(f"* [{t}](https://github.com/rust-lang/rust/pull/{url(str(rng.randint(100000, 160000)))})")
    if rng.random() < 0.6:
        w("""
<!-- These items have been hanging around for several weeks.  Ok to delete when they disappear online.
##### Rust RFCs
* [Quarantined RFC nobody should read](https://github.com/rust-lang/rfcs/pull/3111)
* [Another item the editors hid on purpose](https://github.com/rust-lang/rfcs/pull/3112)
-->""")
    w("""
*No Items entered Final Comment Period this week for
[Cargo](https://github.com/rust-lang/cargo/issues?q=is%3Aopen+label%3Afinal-comment-period+sort%3Aupdated-desc),
[Language Team](https://github.com/rust-lang/lang-team/issues?q=is%3Aopen+label%3Afinal-comment-period+sort%3Aupdated-desc+) or
[Unsafe Code Guidelines](https://github.com/rust-lang/unsafe-code-guidelines/issues?q=is%3Aopen+label%3Afinal-comment-period+sort%3Aupdated-desc).*

Let us know if you would like your PRs, Tracking Issues or RFCs to be tracked as a part of this list.

#### [New and Updated RFCs](https://github.com/rust-lang/rfcs/pulls)
<!-- Use either
* [Item title](Item URL)
  - for new items, or
* [updated] [Item title](Item URL)
  - for updated items, or
* *No New or Updated RFCs were created this week.*
-->""")
    for _ in range(rng.randint(1, 3)):
        w(f"* {rng.choice(['', '[updated] '])}[{article()}](https://github.com/rust-lang/rfcs/pull/{url(str(rng.randint(3500, 4100)))})")
    w(f"""
<!-- Sample commit message
Update CFT, FCP, MCP and RFC sections for TWiR-xxx
-->

## Upcoming Events

Rusty Events between {date} - {end} 🦀
""")
    regions = ["Virtual", "Asia", "Europe", "North America", "Oceania", "South America"]
    for region in regions:
        if region in ("Oceania", "South America") and rng.random() < 0.5:
            continue
        w(f"### {region}")
        events = []
        for _ in range(rng.randint(1, 5)):
            city, cc = rng.choice(CITIES)
            day = date + datetime.timedelta(days=rng.randint(0, 28))
            where = f"Virtual ({city}, {cc})" if region == "Virtual" else \
                rng.choice([f"{city}, {cc}", f"Hybrid ({city}, {cc})"])
            events.append((day, where, city))
        if region == "Asia":
            events.append((date + datetime.timedelta(days=3), "TBD, MY", "Rust Malaysia"))
        if region == "Europe" and rng.random() < 0.5:
            # A conference that began before the window and runs into it.
            events.append((date - datetime.timedelta(days=2), "Utrecht, NL", "RustWeek"))
        for day, where, city in sorted(events):
            group = city if city in ("Rust Malaysia", "RustWeek") else f"{city.split(',')[0]} {rng.choice(GROUPS)}"
            gslug = url(slug(group))
            when = str(day)
            if city == "RustWeek":
                when = f"{day} - {day + datetime.timedelta(days=5)}"
            w(f"* {when} | {where} | [{group}](https://www.meetup.com/{gslug}/)")
            talk = rng.choice(TALKS)
            w(f"    * [**{talk}**](https://www.meetup.com/{gslug}/events/{url(str(rng.randint(300000000, 320000000)))}/)")
        w("")
    qtext, qwho = rng.choice(QUOTES)
    editors = "\n".join(f"* [{e}](https://github.com/{e})" for e in EDITORS)
    footer = ""
    if rng.random() < 0.5:
        footer = ("\nChat with us on [#rust-community](irc://irc.mozilla.org/rust-community) or "
                  "[#rust-beginners](irc://irc.mozilla.org/rust-beginners), or on [Zulip](https://rust-lang.zulipchat.com/).\n")
    w(f"""If you are running a Rust event please add it to the [calendar] to get
it mentioned here. Please remember to add a link to the event too.
Email the [Rust Community Team][community] for access.

[calendar]: https://www.google.com/calendar/embed?src=apd9vmbc22egenmtu5l6c5jbfc%40group.calendar.google.com
[community]: mailto:community-team@rust-lang.org

## Jobs

Please see the latest [Who's Hiring thread on r/rust](https://www.reddit.com/r/rust/comments/{rng.randbytes(3).hex()}/official_rrust_whos_hiring_thread_for_jobseekers/)

# Quote of the Week

> {qtext}

– [{qwho} on rust-users](https://users.rust-lang.org/t/twir-quote-of-the-week/328/{rng.randint(1500, 1800)})

Thanks to [{rng.choice(EDITORS)}](https://users.rust-lang.org/t/twir-quote-of-the-week/328/{rng.randint(1801, 1900)}) for the suggestion!

[Please submit quotes and vote for next week!](https://users.rust-lang.org/t/twir-quote-of-the-week/328)

This Week in Rust is edited by:

{editors}
{footer}
*Email list hosting is sponsored by [The Rust Foundation](https://foundation.rust-lang.org/)*

<small>[Discuss on r/rust](https://www.reddit.com/r/rust/comments/{rng.randbytes(3).hex()}/this_week_in_rust_{number}/)</small>""")
    return "\n".join(out) + "\n"


opts.out.mkdir(parents=True, exist_ok=True)
for n in range(opts.count):
    rng = random.Random(1000 + n)
    number = 530 + n * 11
    (opts.out / f"clean-{number}.md").write_text(issue(n, number, rng), encoding="utf-8")
print(f"wrote {opts.count} clean issues to {opts.out}")
