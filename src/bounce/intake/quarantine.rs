//! The quarantine: a Maildir for messages that prove nothing or cannot be read, kept for a person.
//!
//! Each message is read once, at intake; what was understood of it (the explanation the console
//! shows) is stored beside it, as `explain/NAME.json`, so that showing the quarantine never parses
//! a message again. The folders are 0700 and the files 0600 whatever the umask: bounces carry
//! subscribers' addresses and the mail they were sent.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::IntakeError;
use crate::bounce::{self, Report};
use crate::files;

/// The largest explanation file read back (they are a few KiB).
const EXPLANATION_LIMIT: u64 = 256 * 1024;

/// The quarantine Maildir (`[bounces] quarantine`).
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
}

/// Why a message is in the quarantine, and what was understood of it when it arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// Why it was kept, in a sentence.
    pub reason: String,
    /// What kind of message it was read as (`dsn`, `unparsable`, …), when it was read.
    pub kind: Option<String>,
    /// The MTA family or structure it was recognised by.
    pub family: Option<String>,
    /// The reader's note.
    pub note: Option<String>,
    pub recipients: Vec<ExplainedRecipient>,
}

/// One recipient of a quarantined report, as it was read, with the proof the policy found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainedRecipient {
    pub email: Option<String>,
    pub class: String,
    pub status: Option<String>,
    pub attribution: String,
    pub proof: String,
    pub found_in: String,
    pub evidence: String,
    pub diagnostic: Option<String>,
}

impl Explanation {
    /// A message kept for `reason` without being read (too large, not a regular file, …).
    pub fn unread(reason: impl Into<String>) -> Explanation {
        Explanation {
            reason: reason.into(),
            ..Explanation::default()
        }
    }

    /// What was read of a message, with the proofs of its recipients.
    pub fn of(reason: impl Into<String>, report: &Report, proofs: &[bounce::Proof]) -> Explanation {
        Explanation {
            reason: reason.into(),
            kind: Some(report.kind.as_str().to_string()),
            family: report.family.clone(),
            note: report.note.clone(),
            recipients: report
                .recipients
                .iter()
                .enumerate()
                .map(|(i, r)| ExplainedRecipient {
                    email: r.email.clone(),
                    class: r.class.as_str().to_string(),
                    status: r.status.clone(),
                    attribution: r.attribution.as_str().to_string(),
                    proof: proofs
                        .get(i)
                        .map_or("not weighed", |p| p.explain())
                        .to_string(),
                    found_in: r.found_in.clone(),
                    evidence: r.evidence.clone(),
                    diagnostic: r.diagnostic.clone(),
                })
                .collect(),
        }
    }
}

impl Quarantine {
    pub fn new(dir: PathBuf) -> Self {
        Quarantine { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the explanation of message `name` is kept.
    pub fn explanation_path(&self, name: &str) -> PathBuf {
        self.dir.join("explain").join(format!("{name}.json"))
    }

    fn prepare(&self) -> Result<(), IntakeError> {
        for sub in ["new", "cur", "tmp", "explain"] {
            files::create_private_dir(&self.dir.join(sub))
                .map_err(IntakeError::io("cannot create the quarantine", &self.dir))?;
        }
        Ok(())
    }

    fn explain(&self, name: &str, why: &Explanation) -> Result<(), IntakeError> {
        let path = self.explanation_path(name);
        let json = serde_json::to_vec_pretty(why).unwrap_or_default();
        files::write_private_atomic(&path, &json)
            .map_err(IntakeError::io("cannot write into the quarantine", path))
    }

    /// Moves a regular file in without reading it (copies it when the quarantine is on another
    /// file system), private whatever its mode was. A symlink or anything but a regular file is
    /// refused and left where it is.
    pub fn take_file(&self, path: &Path, name: &str, why: &Explanation) -> Result<(), IntakeError> {
        self.prepare()?;
        let source = files::open_regular(path).map_err(|e| IntakeError::Unreadable {
            path: path.to_path_buf(),
            error: e,
        })?;
        self.explain(name, why)?;
        let target = self.dir.join("new").join(name);
        let io = IntakeError::io("cannot move into the quarantine", &self.dir);
        if std::fs::rename(path, &target).is_ok() {
            use std::os::unix::fs::PermissionsExt;
            return std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
                .map_err(io);
        }
        let tmp = self.dir.join("tmp").join(name);
        let copied = (|| {
            let mut out = files::create_private(&tmp)?;
            std::io::copy(&mut &source, &mut out)?;
            out.sync_all()?;
            std::fs::rename(&tmp, &target)
        })();
        if copied.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        copied.map_err(io)?;
        std::fs::remove_file(path).map_err(IntakeError::io("cannot remove", path))
    }

    /// Stores a message's bytes (written to tmp/, then moved to new/, as Maildir wants), its
    /// explanation first.
    pub fn store(&self, name: &str, bytes: &[u8], why: &Explanation) -> Result<(), IntakeError> {
        self.prepare()?;
        self.explain(name, why)?;
        let tmp = self.dir.join("tmp").join(name);
        let written = (|| {
            let mut f = files::create_private(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.dir.join("new").join(name))
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(IntakeError::io(
            "cannot write into the quarantine",
            &self.dir,
        ))
    }

    /// Replaces the stored explanation of message `name` (after it was processed again).
    pub fn re_explain(&self, name: &str, why: &Explanation) -> Result<(), IntakeError> {
        self.prepare()?;
        self.explain(name, why)
    }

    /// The stored explanation of message `name`, if there is a readable one.
    pub fn explanation(&self, name: &str) -> Option<Explanation> {
        let bytes = files::read_bounded(&self.explanation_path(name), EXPLANATION_LIMIT).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Forgets the explanation of a message that left the quarantine.
    pub fn forget(&self, name: &str) {
        let _ = std::fs::remove_file(self.explanation_path(name));
    }
}
