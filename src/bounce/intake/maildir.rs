//! A Maildir: every message in new/ is handled, then moved to cur/ (or to the quarantine), so a
//! second run does nothing twice. A file over the size limit is quarantined unread.

use std::path::{Path, PathBuf};

use super::{Fate, Intake, IntakeError, Tally};

impl Intake<'_> {
    /// Handles the messages in `dir/new`. A database outage stops the run, leaving the current
    /// message and the rest in new/ for the next one.
    pub async fn maildir(&self, dir: &Path) -> Result<Tally, IntakeError> {
        let new = dir.join("new");
        let cur = dir.join("cur");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
            .map_err(|_| IntakeError::NotMaildir(dir.to_path_buf()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        std::fs::create_dir_all(&cur).map_err(IntakeError::io("cannot create", &cur))?;
        let mut tally = Tally::default();
        for path in names {
            let name = path
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            let base = name.split(':').next().unwrap_or(&name).to_string();
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > self.max_bytes {
                self.quarantine.take_file(&path, &base)?;
                tally.oversize.push((path, size));
                tally.handled += 1;
                tally.quarantined += 1;
                continue;
            }
            let bytes = std::fs::read(&path).map_err(IntakeError::io("cannot read", &path))?;
            let fate = self.handle(&bytes, None, &mut tally).await?;
            match fate {
                Fate::Done => std::fs::rename(&path, cur.join(format!("{base}:2,S")))
                    .map_err(IntakeError::io("cannot move to cur/", &path))?,
                Fate::Quarantine => {
                    // Moved, not copied: written to the quarantine first, then removed here.
                    self.quarantine.store(&base, &bytes)?;
                    std::fs::remove_file(&path).map_err(IntakeError::io("cannot remove", &path))?;
                    tally.quarantined += 1;
                }
            }
        }
        Ok(tally)
    }
}
