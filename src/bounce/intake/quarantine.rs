//! The quarantine: a Maildir for messages that prove nothing or cannot be read, kept for a person.

use std::path::{Path, PathBuf};

use super::IntakeError;

/// The quarantine Maildir (`[bounces] quarantine`).
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
}

impl Quarantine {
    pub fn new(dir: PathBuf) -> Self {
        Quarantine { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn prepare(&self) -> Result<(), IntakeError> {
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(self.dir.join(sub))
                .map_err(IntakeError::io("cannot create the quarantine", &self.dir))?;
        }
        Ok(())
    }

    /// Moves a file in without reading it (copies it when the quarantine is on another file system).
    pub fn take_file(&self, path: &Path, name: &str) -> Result<(), IntakeError> {
        self.prepare()?;
        let target = self.dir.join("new").join(name);
        if std::fs::rename(path, &target).is_err() {
            let tmp = self.dir.join("tmp").join(name);
            let io = IntakeError::io("cannot move into the quarantine", path);
            std::fs::copy(path, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &target))
                .and_then(|()| std::fs::remove_file(path))
                .map_err(io)?;
        }
        Ok(())
    }

    /// Stores a message's bytes (written to tmp/, then moved to new/, as Maildir wants).
    pub fn store(&self, name: &str, bytes: &[u8]) -> Result<(), IntakeError> {
        self.prepare()?;
        let tmp = self.dir.join("tmp").join(name);
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, self.dir.join("new").join(name)))
            .map_err(IntakeError::io(
                "cannot write into the quarantine",
                &self.dir,
            ))
    }
}
