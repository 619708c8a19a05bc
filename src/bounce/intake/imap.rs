//! An IMAP folder (`[bounces.imap]`): its unseen messages are handled and marked `\\Seen` (or moved
//! to `move_to`); what cannot be tied to anyone is copied to the quarantine and flagged.

use super::{Fate, Intake, IntakeError, Tally};

impl Intake<'_> {
    /// Fetches the unseen messages of the configured IMAP folder, handles each, and marks it \Seen
    /// (or moves it). A message that cannot be attributed is copied to the quarantine Maildir and
    /// flagged. On a database outage the current message stays unseen for the next run.
    pub async fn imap(&self, c: &crate::config::ImapSettings) -> Result<Tally, IntakeError> {
        let password = std::env::var("NEWSLETTER_IMAP_PASSWORD").map_err(|_| {
            IntakeError::Imap(format!(
                "set the IMAP password of {} in NEWSLETTER_IMAP_PASSWORD",
                c.user
            ))
        })?;
        let tcp = tokio::net::TcpStream::connect((c.host.as_str(), c.port))
            .await
            .map_err(|e| {
                IntakeError::Imap(format!(
                    "cannot connect to the IMAP server {}:{}: {e}",
                    c.host, c.port
                ))
            })?;
        match c.tls.as_str() {
            "none" => self.imap_session(tcp, c, &password).await,
            "tls" => {
                let config = crate::fetch::tls_config()
                    .map_err(|e| IntakeError::Imap(format!("TLS set-up: {e}")))?;
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(c.host.clone())
                    .map_err(|e| {
                        IntakeError::Imap(format!("[bounces.imap] host `{}`: {e}", c.host))
                    })?;
                let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        IntakeError::Imap(format!("TLS with {}:{} failed: {e}", c.host, c.port))
                    })?;
                self.imap_session(tls, c, &password).await
            }
            other => Err(IntakeError::Imap(format!(
                "[bounces.imap] tls = `{other}`: use tls or none"
            ))),
        }
    }

    async fn imap_session<T>(
        &self,
        stream: T,
        c: &crate::config::ImapSettings,
        password: &str,
    ) -> Result<Tally, IntakeError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        use futures_util::TryStreamExt;
        let mut client = async_imap::Client::new(stream);
        let imap = |what: &str| {
            let what = what.to_string();
            move |e: async_imap::error::Error| IntakeError::Imap(format!("{what}: {e}"))
        };
        client
            .read_response()
            .await
            .map_err(|e| IntakeError::Imap(format!("no IMAP greeting: {e}")))?
            .ok_or_else(|| IntakeError::Imap("the IMAP server closed the connection".into()))?;
        let mut session = client
            .login(&c.user, password)
            .await
            .map_err(|(e, _)| IntakeError::Imap(format!("IMAP login as {} failed: {e}", c.user)))?;
        session
            .select(&c.folder)
            .await
            .map_err(imap(&format!("cannot open the IMAP folder {}", c.folder)))?;
        let mut uids: Vec<u32> = session
            .uid_search("UNSEEN")
            .await
            .map_err(imap("IMAP SEARCH failed"))?
            .into_iter()
            .collect();
        uids.sort_unstable();
        let mut tally = Tally::default();
        for uid in uids {
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await
                .map_err(imap("IMAP FETCH failed"))?
                .try_collect()
                .await
                .map_err(imap("IMAP FETCH failed"))?;
            let Some(bytes) = fetched.iter().find_map(|f| f.body()).map(<[u8]>::to_vec) else {
                continue;
            };
            let fate = self.handle(&bytes, None, &mut tally).await?;
            let done = matches!(fate, Fate::Done);
            let flags = match fate {
                Fate::Done => "+FLAGS (\\Seen)",
                Fate::Quarantine(why) => {
                    self.quarantine.store(
                        &format!("imap.{}.{uid}", c.folder.replace('/', "_")),
                        &bytes,
                        &why,
                    )?;
                    tally.quarantined += 1;
                    "+FLAGS (\\Seen \\Flagged)"
                }
            };
            let _: Vec<_> = session
                .uid_store(uid.to_string(), flags)
                .await
                .map_err(imap("IMAP STORE failed"))?
                .try_collect()
                .await
                .map_err(imap("IMAP STORE failed"))?;
            if done && !c.move_to.is_empty() {
                session
                    .uid_mv(uid.to_string(), &c.move_to)
                    .await
                    .map_err(imap(&format!("cannot move to {}", c.move_to)))?;
            }
        }
        let _ = session.logout().await;
        Ok(tally)
    }
}
