//! A Maildir: every message in new/ is handled, then moved to cur/ (or to the quarantine), so a
//! second run does nothing twice. A file over the size limit is quarantined unread. Nothing leaves
//! new/ before it is recorded or quarantined; a symbolic link or anything but a regular file is
//! never followed or read, and is left where it is, reported.

use std::path::{Path, PathBuf};

use super::{Explanation, Fate, Intake, IntakeError, Tally};
use crate::files;

impl Intake<'_> {
    /// Handles the messages in `dir/new`. A failure (the database, the quarantine) stops the run,
    /// leaving the current message and the rest in new/ for the next one, and says which.
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
        for (i, path) in names.iter().enumerate() {
            if let Err(e) = self.one(path, &cur, &mut tally).await {
                let rest = names.len() - i;
                let left = format!(
                    "{rest} message(s) left in {} for the next run, from {} on; nothing was lost",
                    new.display(),
                    path.file_name().unwrap_or_default().to_string_lossy()
                );
                return Err(IntakeError::Interrupted {
                    cause: Box::new(e),
                    left,
                });
            }
        }
        Ok(tally)
    }

    /// One entry of new/.
    async fn one(&self, path: &Path, cur: &Path, tally: &mut Tally) -> Result<(), IntakeError> {
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
        match self.handle(&bytes, None, tally).await? {
            Fate::Done => std::fs::rename(path, cur.join(format!("{base}:2,S")))
                .map_err(IntakeError::io("cannot move to cur/", path))?,
            Fate::Quarantine(why) => {
                // Moved, not copied: written to the quarantine first, then removed here.
                self.quarantine.store(&base, &bytes, &why)?;
                std::fs::remove_file(path).map_err(IntakeError::io("cannot remove", path))?;
                tally.quarantined += 1;
            }
        }
        Ok(())
    }
}
