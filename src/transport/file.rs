//! The file outbox: each message as `<DIR>/<name>.eml`, the embedded default, so a fresh machine
//! can send without a mail server.

use std::path::Path;

/// Writes one message, via a temporary file and a rename so that a reader never sees half of it.
pub(super) async fn write_file(dir: &Path, name: &str, message: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
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
    let tmp = dir.join(format!(".{safe}.tmp"));
    tokio::fs::write(&tmp, message).await?;
    tokio::fs::rename(&tmp, dir.join(format!("{safe}.eml"))).await
}
