//! An mbox file (mboxo or mboxrd), left as it is; what cannot be tied to anyone is copied to the
//! quarantine.

use std::path::Path;

use super::{Fate, Intake, IntakeError, Tally};

impl Intake<'_> {
    /// Handles every message of the mbox `file`.
    pub async fn mbox(&self, file: &Path) -> Result<Tally, IntakeError> {
        let data = std::fs::read(file).map_err(IntakeError::io("cannot read", file))?;
        let mut tally = Tally::default();
        for (i, msg) in split_mbox(&data).into_iter().enumerate() {
            if let Fate::Quarantine(why) = self.handle(&msg, None, &mut tally).await? {
                let stem = file
                    .file_name()
                    .map_or("mbox".into(), |s| s.to_string_lossy());
                self.quarantine.store(
                    &format!("{stem}.{}.{i}", crate::domain::unix_now()),
                    &msg,
                    &why,
                )?;
                tally.quarantined += 1;
            }
        }
        Ok(tally)
    }
}

/// Splits an mbox (mboxo/mboxrd) into messages, undoing `>From ` quoting.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                out.push(m);
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let unquoted = if line.starts_with(b">")
            && line
                .iter()
                .skip_while(|&&b| b == b'>')
                .take(5)
                .eq(b"From ".iter())
        {
            &line[1..]
        } else {
            line
        };
        m.extend_from_slice(unquoted);
    }
    if let Some(m) = current {
        out.push(m);
    }
    out
}
