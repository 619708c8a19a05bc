//! The documentation stays true to the project. `docs/configuration.md` is generated from
//! `config/default.toml` (each key with its default, the comment lines above it as its
//! documentation) and must equal what this file renders; `UPDATE_DOCS=1` rewrites it instead of
//! failing. Every relative link in `README.md`, `CONTRIBUTING.md` and `docs/*.md` reaches a file
//! of the repository (and a heading of it, when it names one), and no doc points at a folder
//! outside the repository that a user does not have.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One table of the configuration file, as written there.
struct Section {
    /// The dotted name between the brackets (`send.providers.google`).
    name: String,
    /// `[[name]]`: one entry of a list of tables.
    array: bool,
    /// The comment lines right above the header.
    doc: Vec<String>,
    items: Vec<Item>,
}

enum Item {
    /// A comment separated from the keys after it by a blank line.
    Note(Vec<String>),
    /// Keys written one after the other, under the comment above the first of them.
    Group { doc: Vec<String>, keys: Vec<Key> },
}

struct Key {
    name: String,
    /// The value as written, which the `toml` crate must read as the same value.
    raw: String,
}

/// The file's opening comment, and its tables in order.
fn parse(text: &str) -> (Vec<String>, Vec<Section>) {
    let mut intro = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    // Whether the line before was a key (so a key without a comment joins its group).
    let mut after_key = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            if !pending.is_empty() {
                let note = std::mem::take(&mut pending);
                match sections.last_mut() {
                    None => intro.extend(note),
                    Some(s) => s.items.push(Item::Note(note)),
                }
            }
            after_key = false;
            continue;
        }
        if let Some(c) = t.strip_prefix('#') {
            pending.push(c.strip_prefix(' ').unwrap_or(c).trim_end().to_string());
            after_key = false;
            continue;
        }
        if t.starts_with('[') {
            let array = t.starts_with("[[");
            let name = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            sections.push(Section {
                name,
                array,
                doc: std::mem::take(&mut pending),
                items: Vec::new(),
            });
            after_key = false;
            continue;
        }
        let (name, raw) = t.split_once('=').unwrap_or_else(|| {
            panic!(
                "config/default.toml line {}: not a comment, a header or `key = value`",
                n + 1
            )
        });
        let key = Key {
            name: name.trim().to_string(),
            raw: raw.trim().to_string(),
        };
        let section = sections.last_mut().unwrap_or_else(|| {
            panic!(
                "config/default.toml line {}: a key before any [table]",
                n + 1
            )
        });
        match section.items.last_mut() {
            Some(Item::Group { keys, .. }) if after_key && pending.is_empty() => keys.push(key),
            _ => section.items.push(Item::Group {
                doc: std::mem::take(&mut pending),
                keys: vec![key],
            }),
        }
        after_key = true;
    }
    assert!(
        pending.is_empty(),
        "config/default.toml ends with a comment that documents nothing"
    );
    (intro, sections)
}

/// Checks each key's written value against the `toml` crate's reading of the whole file, and that
/// the line-wise reading saw every key the file has.
fn verify(text: &str, sections: &[Section]) {
    let parsed: toml::Table = text.parse().expect("config/default.toml is not valid TOML");
    let mut seen_arrays: Vec<(String, usize)> = Vec::new();
    let mut count = 0;
    for s in sections {
        let mut table = &parsed;
        let path: Vec<&str> = s.name.split('.').collect();
        for (i, part) in path.iter().enumerate() {
            let v = table
                .get(*part)
                .unwrap_or_else(|| panic!("[{}] is not in the parsed file", s.name));
            table = match v {
                toml::Value::Table(t) => t,
                toml::Value::Array(a) if s.array && i + 1 == path.len() => {
                    let index = match seen_arrays.iter_mut().find(|(n, _)| *n == s.name) {
                        Some((_, k)) => {
                            *k += 1;
                            *k
                        }
                        None => {
                            seen_arrays.push((s.name.clone(), 0));
                            0
                        }
                    };
                    a[index].as_table().expect("a table in a list of tables")
                }
                _ => panic!("[{}]: {part} is not a table", s.name),
            };
        }
        for item in &s.items {
            let Item::Group { keys, .. } = item else {
                continue;
            };
            for k in keys {
                let written: toml::Table = format!("v = {}", k.raw).parse().unwrap_or_else(|e| {
                    panic!(
                        "[{}] {}: the value must stay on one line ({e})",
                        s.name, k.name
                    )
                });
                assert_eq!(
                    table.get(&k.name),
                    written.get("v"),
                    "[{}] {}: the value as written is not the value the file holds",
                    s.name,
                    k.name
                );
                count += 1;
            }
        }
    }
    fn leaves(t: &toml::Table) -> usize {
        t.values()
            .map(|v| match v {
                toml::Value::Table(t) => leaves(t),
                toml::Value::Array(a) if a.iter().all(toml::Value::is_table) && !a.is_empty() => {
                    a.iter().map(|e| leaves(e.as_table().unwrap())).sum()
                }
                _ => 1,
            })
            .sum()
    }
    assert_eq!(
        count,
        leaves(&parsed),
        "the line-wise reading of config/default.toml missed keys the toml crate found"
    );
}

/// Comment text as Markdown: code spans are kept; outside them, characters Markdown would read as
/// markup (`<tag>`, emphasis, link brackets) are escaped so the text reads as in the file.
fn prose(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '`' {
            in_code = !in_code;
            out.push(c);
            continue;
        }
        if !in_code {
            let word = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|c| c.is_alphanumeric())
            };
            let escape = match c {
                '\\' | '*' | '<' | '[' | ']' => true,
                '_' => !(word(i.checked_sub(1)) && word(Some(i + 1))),
                _ => false,
            };
            if escape {
                out.push('\\');
            }
        }
        out.push(c);
    }
    out
}

fn paragraph(out: &mut String, lines: &[String]) {
    // A lone `#` line in the file is a paragraph break.
    let mut blank = true;
    for l in lines {
        if l.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        out.push_str(&prose(l));
        out.push('\n');
        blank = false;
    }
    if !blank {
        out.push('\n');
    }
}

/// A code span holding `s`, whatever backticks it contains.
fn code(s: &str) -> String {
    let fence = if s.contains('`') { "`` " } else { "`" };
    let close = if s.contains('`') { " ``" } else { "`" };
    format!("{fence}{s}{close}")
}

/// GitHub's anchor for a heading: lower case, only letters, digits, `-` and `_`, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

const HEADER: &str = "\
# Configuration reference

<!-- Generated from config/default.toml by tests/it/docs.rs; do not edit by hand. -->

This page is generated from [`config/default.toml`](../config/default.toml), the defaults built
into the binary: every key with its default and the comment written above it. Do not edit it by
hand. Change the comments in `config/default.toml` and run
`UPDATE_DOCS=1 cargo test --locked --test it docs::` to write it again; without `UPDATE_DOCS`,
that test fails when this page and the file disagree.

## How settings are read

Three layers, each overriding the one before:

1. the defaults below, built into the binary;
2. your file, given with `--config FILE` or `NEWSLETTER_CONFIG=FILE` (copy
   `config/default.toml` and keep only what you change: keys you leave out keep their
   defaults; a key the program does not know is an error that names it);
3. environment variables `NEWSLETTER_<SECTION>__<KEY>`, with a double underscore between the
   parts of the path (`NEWSLETTER_THEME__SIZE_BUDGET=80000`,
   `NEWSLETTER_BOUNCES__IMAP__PORT=993`). Each key below names its variable. A value takes the
   type of the setting it replaces: `NEWSLETTER_DKIM__SELECTOR=20240101` stays text, and a list
   takes items separated by commas (`NEWSLETTER_WEB__TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8`).

`--database-url` and `--transport` on the command line win over all three.

Secrets never go in a file; they come from the environment only: `NEWSLETTER_SMTP_PASSWORD`,
`NEWSLETTER_IMAP_PASSWORD`, `NEWSLETTER_API_TOKEN`, and a database password in `PGPASSWORD` or
in `NEWSLETTER_DATABASE_URL`. A file whose `[database] url` or `[transport] url` holds a password
is refused.
";

fn render(text: &str) -> String {
    let (intro, sections) = parse(text);
    verify(text, &sections);
    let mut out = String::from(HEADER);
    out.push_str("\nThe file opens with these words:\n\n");
    for l in &intro {
        if l.is_empty() {
            out.push_str(">\n");
        } else {
            let _ = writeln!(out, "> {}", prose(l));
        }
    }
    out.push_str("\n## Sections\n\n");
    let mut listed = HashSet::new();
    for s in &sections {
        if listed.insert(&s.name) {
            let title = if s.array {
                format!("[[{}]]", s.name)
            } else {
                format!("[{}]", s.name)
            };
            let _ = writeln!(out, "- [{}](#{})", code(&title), slug(&title));
        }
    }
    let mut done_arrays = HashSet::new();
    for s in &sections {
        if s.array {
            if done_arrays.insert(&s.name) {
                render_array(&mut out, s, &sections);
            }
            continue;
        }
        let _ = writeln!(out, "\n## {}\n", code(&format!("[{}]", s.name)));
        paragraph(&mut out, &s.doc);
        for item in &s.items {
            match item {
                Item::Note(lines) => paragraph(&mut out, lines),
                Item::Group { doc, keys } => {
                    paragraph(&mut out, doc);
                    for k in keys {
                        let var = format!("NEWSLETTER_{}__{}", s.name.replace('.', "__"), k.name)
                            .to_uppercase();
                        let _ = writeln!(
                            out,
                            "- {} (environment: {})",
                            code(&format!("{} = {}", k.name, k.raw)),
                            code(&var)
                        );
                    }
                    out.push('\n');
                }
            }
        }
    }
    // One blank line at most between blocks, and one newline at the end.
    let mut tidy = String::with_capacity(out.len());
    for line in out.lines() {
        if line.is_empty() && tidy.ends_with("\n\n") {
            continue;
        }
        tidy.push_str(line);
        tidy.push('\n');
    }
    while tidy.ends_with("\n\n") {
        tidy.pop();
    }
    tidy
}

/// A list of tables: its comment, then its default entries as a table of their keys.
fn render_array(out: &mut String, first: &Section, sections: &[Section]) {
    let entries: Vec<&Section> = sections
        .iter()
        .filter(|s| s.array && s.name == first.name)
        .collect();
    let _ = writeln!(out, "\n## {}\n", code(&format!("[[{}]]", first.name)));
    paragraph(out, &first.doc);
    let mut columns: Vec<&str> = Vec::new();
    let mut notes: Vec<&Vec<String>> = Vec::new();
    for e in &entries {
        for item in &e.items {
            match item {
                Item::Note(lines) => notes.push(lines),
                Item::Group { doc, keys } => {
                    if !doc.is_empty() {
                        notes.push(doc);
                    }
                    for k in keys {
                        if !columns.contains(&k.name.as_str()) {
                            columns.push(&k.name);
                        }
                    }
                }
            }
        }
    }
    for n in notes {
        paragraph(out, n);
    }
    let _ = writeln!(
        out,
        "A list: each entry is a `[[{}]]` table. It is set in a configuration file (not from the \
         environment); a file that gives it replaces the whole default list, which has {} entries:\n",
        first.name,
        entries.len()
    );
    let _ = writeln!(
        out,
        "| {} |",
        columns
            .iter()
            .map(|c| code(c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
    for e in &entries {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                e.items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Group { keys, .. } => keys.iter().find(|k| k.name == *c),
                        Item::Note(_) => None,
                    })
                    .next()
                    .map_or(String::new(), |k| code(&k.raw))
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

#[test]
fn the_configuration_reference_is_generated_from_the_defaults() {
    let text = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
    let rendered = render(&text);
    let path = root().join("docs/configuration.md");
    if std::env::var("UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != rendered {
        let (n, (want, have)) = rendered
            .lines()
            .chain(std::iter::repeat(""))
            .zip(current.lines().chain(std::iter::repeat("")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "docs/configuration.md is not what config/default.toml gives (first difference at \
             line {}:\n  the file has: {have:?}\n  it should be: {want:?})\n\
             Run `UPDATE_DOCS=1 cargo test --locked --test it docs::` to write it again.",
            n + 1
        );
    }
}

/// README.md, CONTRIBUTING.md and every Markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("CONTRIBUTING.md")];
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    docs
}

/// The text of a Markdown file without its fenced code blocks and code spans, line by line.
fn outside_code(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            lines.push(String::new());
            continue;
        }
        if fenced {
            lines.push(String::new());
            continue;
        }
        let mut kept = String::new();
        let mut rest = line;
        while let Some(open) = rest.find('`') {
            kept.push_str(&rest[..open]);
            let ticks = rest[open..].chars().take_while(|&c| c == '`').count();
            let after = &rest[open + ticks..];
            let fence = "`".repeat(ticks);
            match after.find(&fence) {
                Some(close) => rest = &after[close + ticks..],
                None => {
                    rest = after;
                }
            }
        }
        kept.push_str(rest);
        lines.push(kept);
    }
    lines
}

/// The targets of inline links and images (`](target)`) and of reference definitions
/// (`[label]: target`), with their line numbers.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in outside_code(text).iter().enumerate() {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            found.push((n + 1, target.trim_matches(['<', '>']).to_string()));
            rest = &after[end..];
        }
        let t = line.trim_start();
        if t.starts_with('[')
            && let Some(close) = t.find("]:")
        {
            let target = t[close + 2..].split_whitespace().next().unwrap_or("");
            found.push((n + 1, target.to_string()));
        }
    }
    found
}

/// The anchors GitHub gives a Markdown file's headings.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = slug(title);
        let mut name = base.clone();
        let mut k = 1;
        while !seen.insert(name.clone()) {
            name = format!("{base}-{k}");
            k += 1;
        }
    }
    seen
}

#[test]
fn every_relative_link_in_the_docs_reaches_a_file_of_the_repository() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        for (line, target) in link_targets(&text) {
            if target.is_empty() {
                broken.push(format!("{name}:{line}: an empty link"));
                continue;
            }
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(file)
            };
            if !path.exists() {
                broken.push(format!("{name}:{line}: {target}: no such file"));
                continue;
            }
            let inside = path
                .canonicalize()
                .is_ok_and(|p| p.starts_with(root().canonicalize().unwrap()));
            if !inside {
                broken.push(format!("{name}:{line}: {target}: outside the repository"));
                continue;
            }
            if let Some(anchor) = anchor
                && path.extension().is_some_and(|e| e == "md")
            {
                let heads = anchors(&std::fs::read_to_string(&path).unwrap());
                if !heads.contains(anchor) {
                    broken.push(format!("{name}:{line}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn no_doc_points_at_a_folder_users_do_not_have() {
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (n, line) in text.lines().enumerate() {
            assert!(
                !line.contains("../shared/"),
                "{}:{}: names ../shared/, which is not part of the repository",
                doc.strip_prefix(root()).unwrap().display(),
                n + 1
            );
        }
    }
}
