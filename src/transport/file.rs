//! The file outbox: each message as `<DIR>/<name>.eml`, the embedded default, so a fresh machine
//! can send without a mail server. The messages are mail to real people (addresses, unsubscribe
//! tokens): the folder is created 0700 and each message 0600, whatever the umask.

use std::io::Write;
use std::path::Path;

/// Writes one message, via a temporary file and a rename so that a reader never sees half of it,
/// on tokio's blocking pool.
pub(super) async fn write_file(dir: &Path, name: &str, message: &[u8]) -> std::io::Result<()> {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = dir.to_path_buf();
    let message = message.to_vec();
    tokio::task::spawn_blocking(move || {
        crate::files::create_private_dir(&dir)?;
        let tmp = dir.join(format!(".{safe}.tmp"));
        // Not synced: the outbox is for trying the pipeline out, and a sync per message would
        // cost more than the rest of the send.
        let written = crate::files::create_private(&tmp).and_then(|mut f| f.write_all(&message));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, dir.join(format!("{safe}.eml")))
    })
    .await
    .map_err(std::io::Error::other)?
}
