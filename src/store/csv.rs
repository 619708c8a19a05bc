//! The subscriber list as CSV, the same for `subscribers import`/`export` and the console: which
//! column is which, quoting, a byte-order mark, CRLF, and cells a spreadsheet would run as formulas.

use crate::domain::{
    Date, EmailAddress, SubscriberName, from_spreadsheet, spreadsheet_safe, terminal_safe,
};

use super::{ImportRow, Subscriber};

/// Reads rows lazily from a CSV file (or an upload): header detection, any column order, quoted fields, BOM, CRLF.
pub fn rows<R: std::io::Read + Send>(file: R) -> impl Iterator<Item = ImportRow> + Send {
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
    records.map(move |rec| match rec {
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
