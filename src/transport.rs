//! Where finished messages go. `file:DIR` writes each message as an `.eml` under DIR: the embedded
//! default, so a fresh machine can send without a mail server. SMTP relays come with `send`.

use std::path::PathBuf;

use thiserror::Error;

/// Why a message could not be handed over.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The transport URL is not one we know.
    #[error("transport `{0}` is not supported: use file:DIR")]
    Unsupported(String),
    /// Writing the message failed.
    #[error("cannot write to the outbox {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A configured transport.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Writes `<DIR>/<name>.eml`.
    File(PathBuf),
}

impl Transport {
    /// Parses a transport URL such as `file:outbox`.
    pub fn from_url(url: &str) -> Result<Transport, TransportError> {
        match url.strip_prefix("file:") {
            Some(dir) if !dir.is_empty() => {
                Ok(Transport::File(PathBuf::from(dir.trim_start_matches("//"))))
            }
            _ => Err(TransportError::Unsupported(url.to_string())),
        }
    }

    /// Hands one message over. `name` is unique per message (it becomes the file name).
    pub async fn deliver(&self, name: &str, message: &[u8]) -> Result<(), TransportError> {
        match self {
            Transport::File(dir) => {
                let io = |source| TransportError::Io {
                    path: dir.clone(),
                    source,
                };
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
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
                // Write then rename, so a reader never sees half a message.
                tokio::fs::write(&tmp, message).await.map_err(io)?;
                tokio::fs::rename(&tmp, dir.join(format!("{safe}.eml")))
                    .await
                    .map_err(io)?;
                Ok(())
            }
        }
    }
}
