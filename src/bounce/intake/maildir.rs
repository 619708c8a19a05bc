//! A Maildir: every message in new/ is handled, then moved to cur/ (or to the quarantine), so a
//! second run does nothing twice. A file over the size limit is quarantined unread. Nothing leaves
//! new/ before it is recorded or quarantined; a symbolic link or anything but a regular file is
//! never followed or read, and is left where it is, reported.

use std::path::{Path, PathBuf};

use super::{Explanation, Fate, Held, Intake, IntakeError, Step, Tally};
use crate::bounce::{self, Kind};
use crate::files;

/// Proven bounces are logged a batch at a time, in one transaction: at most this many messages…
const BATCH: usize = 256;
/// …or this many bytes of them held in memory (for the quarantine, should one prove nothing).
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// A message of new/ read and understood, whose bounce is still to be logged.
struct Pending {
    path: PathBuf,
    base: String,
    bytes: Vec<u8>,
    held: Held,
}

impl Intake<'_> {
    /// Handles the messages in `dir/new`. A failure (the database, the quarantine) stops the run,
    /// leaving the messages not yet recorded in new/ for the next one, and says which.
    pub async fn maildir(&self, dir: &Path) -> Result<Tally, IntakeError> {
        let new = dir.join("new");
        let cur = dir.join("cur");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
            .map_err(|_| IntakeError::NotMaildir(dir.to_path_buf()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        std::fs::create_dir_all(&cur).map_err(IntakeError::io("cannot create", &cur))?;
        let mut tally = Tally::default();
        let mut batch: Vec<Pending> = Vec::new();
        for (i, path) in names.iter().enumerate() {
            if let Err(e) = self.one(path, &cur, &mut batch, &mut tally).await {
                return Err(interrupted(e, &new, &batch, &names[i..]));
            }
            let held: usize = batch.iter().map(|p| p.bytes.len()).sum();
            if (batch.len() >= BATCH || held >= BATCH_BYTES)
                && let Err(e) = self.flush(&mut batch, &cur, &mut tally).await
            {
                return Err(interrupted(e, &new, &batch, &names[i + 1..]));
            }
        }
        if let Err(e) = self.flush(&mut batch, &cur, &mut tally).await {
            return Err(interrupted(e, &new, &batch, &[]));
        }
        Ok(tally)
    }

    /// Logs the batch in one transaction, then moves each message where it belongs. Nothing leaves
    /// new/ before the transaction that records it has committed; on a failure the batch stays.
    async fn flush(
        &self,
        batch: &mut Vec<Pending>,
        cur: &Path,
        tally: &mut Tally,
    ) -> Result<(), IntakeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let records: Vec<_> = batch.iter().map(|p| p.held.record()).collect();
        let applied = self.store.record_bounces(&records, self.policy).await?;
        let mut done = std::mem::take(batch).into_iter().zip(applied);
        while let Some((p, applied)) = done.next() {
            let fate = match self.settle(p.held, applied, tally).await {
                Ok(fate) => fate,
                Err(e) => {
                    // Recorded, but still in new/: the error names them.
                    batch.extend(done.map(|(p, _)| p));
                    return Err(e.into());
                }
            };
            if let Err(e) = self.put_away(fate, &p.path, &p.base, &p.bytes, cur, tally) {
                batch.extend(done.map(|(p, _)| p));
                return Err(e);
            }
        }
        Ok(())
    }

    /// One entry of new/: settled at once, or read and added to the batch.
    async fn one(
        &self,
        path: &Path,
        cur: &Path,
        batch: &mut Vec<Pending>,
        tally: &mut Tally,
    ) -> Result<(), IntakeError> {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(()); // Gone since the listing (another run took it).
        };
        if meta.file_type().is_symlink() {
            tally.left.push((
                path.to_path_buf(),
                "a symbolic link: not followed, left where it is".into(),
            ));
            return Ok(());
        }
        if !meta.is_file() {
            tally.left.push((
                path.to_path_buf(),
                "not a regular file: not read, left where it is".into(),
            ));
            return Ok(());
        }
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let base = name.split(':').next().unwrap_or(&name).to_string();
        if meta.len() > self.max_bytes {
            let why = Explanation::unread(format!(
                "{} bytes, over [bounces] max_message_bytes ({}): kept unread",
                meta.len(),
                self.max_bytes
            ));
            self.quarantine.take_file(path, &base, &why)?;
            tally.oversize.push((path.to_path_buf(), meta.len()));
            tally.handled += 1;
            tally.quarantined += 1;
            return Ok(());
        }
        let bytes = match files::read_bounded(path, self.max_bytes) {
            Ok(b) => b,
            Err(e) if e.is_transient() => {
                return Err(IntakeError::Unreadable {
                    path: path.to_path_buf(),
                    error: e,
                });
            }
            Err(e) => {
                // Replaced by a link, a FIFO or a larger file since it was listed.
                tally
                    .left
                    .push((path.to_path_buf(), format!("{e}; left where it is")));
                return Ok(());
            }
        };
        let report = bounce::read(&bytes, &self.context(None));
        if report.kind == Kind::Unsubscribe {
            // Acted on in order with the bounces read before it.
            self.flush(batch, cur, tally).await?;
        }
        match self.prepare(report, tally).await? {
            Step::Settled(fate) => self.put_away(fate, path, &base, &bytes, cur, tally),
            Step::Write(held) => {
                batch.push(Pending {
                    path: path.to_path_buf(),
                    base,
                    bytes,
                    held: *held,
                });
                Ok(())
            }
        }
    }

    /// Moves a handled message to cur/, or to the quarantine (written there first, then removed).
    fn put_away(
        &self,
        fate: Fate,
        path: &Path,
        base: &str,
        bytes: &[u8],
        cur: &Path,
        tally: &mut Tally,
    ) -> Result<(), IntakeError> {
        match fate {
            Fate::Done => std::fs::rename(path, cur.join(format!("{base}:2,S")))
                .map_err(IntakeError::io("cannot move to cur/", path))?,
            Fate::Quarantine(why) => {
                self.quarantine.store(base, bytes, &why)?;
                std::fs::remove_file(path).map_err(IntakeError::io("cannot remove", path))?;
                tally.quarantined += 1;
            }
        }
        Ok(())
    }
}

/// The error of a run that stopped: which messages are still in new/ (the batch not recorded, then
/// the current one and the rest).
fn interrupted(e: IntakeError, new: &Path, batch: &[Pending], rest: &[PathBuf]) -> IntakeError {
    let first = batch
        .first()
        .map(|p| p.path.as_path())
        .or(rest.first().map(PathBuf::as_path));
    let left = match first {
        Some(first) => format!(
            "{} message(s) left in {} for the next run, from {} on; nothing was lost",
            batch.len() + rest.len(),
            new.display(),
            first.file_name().unwrap_or_default().to_string_lossy()
        ),
        None => format!("nothing was lost: what is left is in {}", new.display()),
    };
    IntakeError::Interrupted {
        cause: Box::new(e),
        left,
    }
}
