//! The subscriber list as CSV, the same for `subscribers import`/`export` and the console: which
//! column is which, quoting, a byte-order mark, CRLF, and cells a spreadsheet would run as formulas.

use crate::domain::{
    Date, EmailAddress, SubscriberName, from_spreadsheet, spreadsheet_safe, terminal_safe,
};

use super::{ImportRow, Subscriber};

/// The longest CSV record read, in bytes: a subscriber's row is an address and a name. A longer one
/// (a line that never ends, a quote that is never closed, a file that is not CSV at all) is cut at
/// this length and reported as an invalid row; reading goes on at its next line, so nothing after
/// it is lost and the reader never holds more than this of one record.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Passes a CSV stream through unchanged, except that a record longer than [`MAX_RECORD_BYTES`] is
/// cut: what follows its first `MAX_RECORD_BYTES` up to the next line break is dropped, a quote it
/// left open is closed, and the line it started on is noted in `cut`. It follows quoting as the
/// CSV reader does (`"` opens and closes, `""` inside is a quote) to know where a record ends.
type Cut = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u64>>>;

struct Bounded<R> {
    inner: R,
    /// Bytes of the current record so far.
    len: usize,
    in_quotes: bool,
    /// Dropping the rest of an over-long record, up to its line break.
    skipping: bool,
    /// 1-based line the current record started on, and the line being read.
    record_line: u64,
    line: u64,
    /// Lines on which a record was cut, oldest first.
    cut: Cut,
    /// Bytes passed on and not yet handed out.
    pending: Vec<u8>,
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            let mut chunk = [0u8; 16 * 1024];
            let got = self.inner.read(&mut chunk)?;
            if got == 0 {
                return Ok(0);
            }
            for &b in &chunk[..got] {
                self.feed(b);
            }
        }
        let n = self.pending.len().min(out.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl<R> Bounded<R> {
    /// One byte of the input: passed on, or dropped while cutting an over-long record.
    fn feed(&mut self, b: u8) {
        if self.skipping {
            if b == b'\n' {
                self.skipping = false;
                self.end_line(true);
                self.pending.push(b);
            }
            return;
        }
        if self.len >= MAX_RECORD_BYTES {
            // Cut: close an open quote so the reader sees the record end, and drop the rest of
            // this line.
            self.cut.lock().unwrap().push_back(self.record_line);
            if self.in_quotes {
                self.pending.push(b'"');
                self.in_quotes = false;
            }
            self.len = 0;
            self.skipping = true;
            return self.feed(b);
        }
        self.pending.push(b);
        self.len += 1;
        match b {
            b'"' => self.in_quotes = !self.in_quotes,
            b'\n' => self.end_line(!self.in_quotes),
            _ => {}
        }
    }

    /// A line break; `record_ends` when it also ends the record (it is not inside quotes).
    fn end_line(&mut self, record_ends: bool) {
        self.line += 1;
        if record_ends {
            self.len = 0;
            self.record_line = self.line;
        }
    }
}

/// Reads rows lazily from a CSV file (or an upload): header detection, any column order, quoted fields, BOM, CRLF.
/// A record over [`MAX_RECORD_BYTES`] is an invalid row and reading goes on after it.
pub fn rows<R: std::io::Read + Send>(file: R) -> impl Iterator<Item = ImportRow> + Send {
    let cut = Cut::default();
    let file = Bounded {
        inner: file,
        len: 0,
        in_quotes: false,
        skipping: false,
        record_line: 1,
        line: 1,
        cut: cut.clone(),
        pending: Vec::new(),
    };
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        // Records end at \n (a CR before it is trimmed): the crate's CRLF mode miscounts lines.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(std::io::BufReader::with_capacity(256 * 1024, file));
    let mut records = reader.into_records().peekable();
    let clean = |s: &str| s.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
    // A first row naming an `email` column is a header; otherwise email is column 1 and name column 2.
    let (mut email_col, mut name_col, mut skip_first) = (0, Some(1), false);
    if let Some(Ok(first)) = records.peek() {
        let names: Vec<String> = first.iter().map(clean).collect();
        if let Some(i) = names
            .iter()
            .position(|n| matches!(n.as_str(), "email" | "e-mail" | "email address" | "mail"))
        {
            email_col = i;
            name_col = names
                .iter()
                .position(|n| matches!(n.as_str(), "name" | "full name" | "full_name"));
            skip_first = true;
        }
    }
    if skip_first {
        records.next();
    }
    // Records come in the order of their lines: the cut lines before this one are behind us.
    let was_cut = move |line: u64| {
        let mut cut = cut.lock().unwrap();
        while cut.front().is_some_and(|&l| l < line) {
            cut.pop_front();
        }
        cut.front() == Some(&line)
    };
    records.map(move |rec| match rec {
        Ok(r) if was_cut(r.position().map_or(0, |p| p.line())) => ImportRow {
            line: r.position().map_or(0, |p| p.line()),
            email: Err(format!(
                "longer than {} KiB: not read (a line that never ends, or a quote never closed?)",
                MAX_RECORD_BYTES / 1024
            )),
            name: None,
        },
        Err(e) => ImportRow {
            line: e.position().map_or(0, |p| p.line()),
            email: Err(format!("unreadable CSV row: {e}")),
            name: None,
        },
        Ok(r) => {
            let line = r.position().map_or(0, |p| p.line());
            let raw = from_spreadsheet(
                r.get(email_col)
                    .unwrap_or("")
                    .trim_start_matches('\u{feff}'),
            );
            let name = name_col
                .and_then(|c| r.get(c))
                .map(from_spreadsheet)
                .map(SubscriberName::parse)
                .transpose()
                .map(Option::flatten);
            let email = if raw.is_empty() {
                Err("no email address".to_string())
            } else {
                EmailAddress::parse(raw).map_err(|e| format!("`{}`: {e}", terminal_safe(raw)))
            };
            match name {
                Ok(name) => ImportRow { line, email, name },
                Err(e) => ImportRow {
                    line,
                    email: Err(format!("name: {e}")),
                    name: None,
                },
            }
        }
    })
}

/// The export's first line.
pub const EXPORT_HEADER: &[u8] = b"email,name,status,created\n";

/// Export lines for a page of subscribers (address, name, status, day added), every cell made safe
/// to open in a spreadsheet.
pub fn export(page: &[Subscriber]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(page.len() * 64));
    for s in page {
        let created = Date::from_unix_days(s.created_at.div_euclid(86_400)).to_string();
        // Writing into memory cannot fail.
        let _ = w.write_record([
            spreadsheet_safe(s.email.as_str()).as_ref(),
            &spreadsheet_safe(s.name.as_deref().unwrap_or("")),
            s.status.as_str(),
            &created,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(input: impl std::io::Read + Send) -> Vec<(u64, Result<String, String>)> {
        rows(input)
            .map(|r| (r.line, r.email.map(|e| e.as_str().to_string())))
            .collect()
    }

    #[test]
    fn an_endless_line_is_one_invalid_row_and_the_next_lines_are_read() {
        let mut input = b"email,name\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1024 * 1024));
        input.extend(
            b"\nann@example.org,Ann\n\"bob@example.org\",\"Bob\nBobson\"\ncy@example.org\n",
        );
        let got = read(std::io::Cursor::new(input));
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].0, 2);
        assert!(
            got[0]
                .1
                .as_ref()
                .unwrap_err()
                .starts_with("longer than 64 KiB")
        );
        assert_eq!(got[1], (3, Ok("ann@example.org".into())));
        // A quoted name over two lines is still one record, under the limit.
        assert_eq!(got[2], (4, Ok("bob@example.org".into())));
        assert_eq!(got[3], (6, Ok("cy@example.org".into())));
    }

    #[test]
    fn a_quote_never_closed_costs_its_own_line_only() {
        let mut input = b"ann@example.org\n\"bob@example.org,".to_vec();
        input.extend(std::iter::repeat_n(b'y', 100 * 1024));
        input.extend(b"\ncy@example.org\n");
        let got = read(std::io::Cursor::new(input));
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], (1, Ok("ann@example.org".into())));
        assert_eq!(got[1].0, 2);
        assert!(got[1].1.is_err());
        assert_eq!(got[2], (3, Ok("cy@example.org".into())));
    }

    #[test]
    fn a_stream_without_a_line_break_ends_in_one_invalid_row() {
        // 64 MiB of one line: read through in bounded pieces, one row.
        let got = read(std::io::repeat(b'z').take(64 * 1024 * 1024));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].1.is_err());
    }

    #[test]
    fn records_at_the_limit_are_read_as_they_are() {
        // A third column nobody reads makes the record exactly the limit, line break included.
        let notes = "n".repeat(MAX_RECORD_BYTES - "dee@example.org,Dee,\n".len());
        let input = format!("email,name,notes\ndee@example.org,Dee,{notes}\neve@example.org\n");
        let got = read(std::io::Cursor::new(input.into_bytes()));
        assert_eq!(got[0], (2, Ok("dee@example.org".into())));
        assert_eq!(got[1], (3, Ok("eve@example.org".into())));
        // One byte more is too long.
        let input = format!("email,name,notes\ndee@example.org,Dee,{notes}n\neve@example.org\n");
        let got = read(std::io::Cursor::new(input.into_bytes()));
        assert!(got[0].1.is_err(), "{:?}", got[0]);
        assert_eq!(got[1], (3, Ok("eve@example.org".into())));
    }
}
