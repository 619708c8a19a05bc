//! Accounts of the administrators' console, their sessions and the audit log. Passwords arrive
//! hashed and session ids arrive as their SHA-256: nothing stored here logs anyone in.

use super::*;
use crate::domain::AdminRole;

/// A console account.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: i64,
    pub email: String,
    pub role: AdminRole,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// A live session with its account.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub admin: Admin,
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub at: i64,
    pub admin_email: Option<String>,
    pub action: String,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

type AdminRow = (i64, String, String, String);

fn admin(row: AdminRow) -> Result<Admin> {
    let (id, email, role, password_hash) = row;
    Ok(Admin {
        role: AdminRole::parse(&role)
            .map_err(|e| StoreError::Corrupt(format!("admin {id}: {e}")))?,
        id,
        email,
        password_hash,
    })
}

impl Store {
    /// Creates the account, or sets its role and password if it exists. Returns whether it was new.
    pub async fn set_admin(
        &self,
        email: &str,
        role: AdminRole,
        password_hash: &str,
    ) -> Result<bool> {
        let _writer = self.writer().await;
        let email = email.to_lowercase();
        let now = unix_now();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let updated = sqlx::query("UPDATE admins SET role = $2, password_hash = $3 WHERE email = $1")
                .bind(&email)
                .bind(role.as_str())
                .bind(password_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                sqlx::query("INSERT INTO admins (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&email)
                    .bind(role.as_str())
                    .bind(password_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            } else {
                // A new password ends every session of the old one.
                sqlx::query("DELETE FROM admin_sessions WHERE admin_id = (SELECT id FROM admins WHERE email = $1)")
                    .bind(&email)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(updated == 0)
        })
    }

    /// The account of an address (any case).
    pub async fn admin_by_email(&self, email: &str) -> Result<Option<Admin>> {
        let row: Option<AdminRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, email, role, password_hash FROM admins WHERE email = $1",
        )
        .bind(email.to_lowercase())
        .fetch_optional(p)
        .await?);
        row.map(admin).transpose()
    }

    /// Every account, by address.
    pub async fn admins(&self) -> Result<Vec<Admin>> {
        let rows: Vec<AdminRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, email, role, password_hash FROM admins ORDER BY email",
        )
        .fetch_all(p)
        .await?);
        rows.into_iter().map(admin).collect()
    }

    /// Deletes an account and its sessions. Returns whether it existed.
    pub async fn remove_admin(&self, email: &str) -> Result<bool> {
        let _writer = self.writer().await;
        let email = email.to_lowercase();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM admin_sessions WHERE admin_id = (SELECT id FROM admins WHERE email = $1)")
                .bind(&email)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("DELETE FROM admins WHERE email = $1")
                .bind(&email)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Records a new session under the SHA-256 of its cookie.
    pub async fn create_session(&self, id_hash: &str, admin_id: i64, csrf: &str) -> Result<()> {
        let _writer = self.writer().await;
        let now = unix_now();
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO admin_sessions (id_hash, admin_id, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(id_hash)
            .bind(admin_id)
            .bind(csrf)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// The session with that cookie hash, if it exists and has been used within `idle_secs` and is
    /// younger than `max_secs`; it is then marked as used now. An expired one is deleted.
    pub async fn session(
        &self,
        id_hash: &str,
        idle_secs: i64,
        max_secs: i64,
    ) -> Result<Option<AdminSession>> {
        let now = unix_now();
        let row: Option<(i64, String, String, String, String, i64, i64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT a.id, a.email, a.role, a.password_hash, s.csrf, s.created_at, s.last_seen \
             FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(p)
        .await?);
        let Some((id, email, role, hash, csrf, created_at, last_seen)) = row else {
            return Ok(None);
        };
        let _writer = self.writer().await;
        if now - last_seen > idle_secs || now - created_at > max_secs {
            with_pool!(self, p => {
                sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1").bind(id_hash).execute(p).await?;
            });
            return Ok(None);
        }
        if now > last_seen {
            with_pool!(self, p => {
                sqlx::query("UPDATE admin_sessions SET last_seen = $2 WHERE id_hash = $1").bind(id_hash).bind(now).execute(p).await?;
            });
        }
        Ok(Some(AdminSession {
            admin: admin((id, email, role, hash))?,
            csrf,
            created_at,
            last_seen: now,
        }))
    }

    /// Ends a session.
    pub async fn end_session(&self, id_hash: &str) -> Result<()> {
        let _writer = self.writer().await;
        with_pool!(self, p => {
            sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1").bind(id_hash).execute(p).await?;
        });
        Ok(())
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        admin_email: Option<&str>,
        action: &str,
        detail: Option<&str>,
        ip: Option<&str>,
    ) -> Result<()> {
        let _writer = self.writer().await;
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO admin_audit (admin_email, action, detail, ip, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(admin_email.map(|e| bounded(e, AUDIT_EMAIL_CHARS)))
            .bind(bounded(action, AUDIT_ACTION_CHARS))
            .bind(detail.map(|d| bounded(d, AUDIT_DETAIL_CHARS)))
            .bind(ip.map(|i| bounded(i, AUDIT_IP_CHARS)))
            .bind(unix_now())
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// The newest entries of the audit log first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            // Entries written before fields were bounded may be long: the page shows a line of each.
            "SELECT at, substr(admin_email, 1, 300) AS admin_email, substr(action, 1, 300) AS action, \
             substr(detail, 1, 600) AS detail, substr(ip, 1, 64) AS ip FROM admin_audit ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await?))
    }
}

/// What one audit entry keeps of each field, in characters. Whatever a stranger types into the
/// sign-in form ends up here, so every field is cut: an address has at most 254 characters
/// (RFC 5321), an IP address at most 45, and a search or a detail needs no more than a line.
const AUDIT_EMAIL_CHARS: usize = 254;
const AUDIT_ACTION_CHARS: usize = 200;
const AUDIT_DETAIL_CHARS: usize = 500;
const AUDIT_IP_CHARS: usize = 64;

/// `s`, or its first `max` characters and a marker saying how much was cut.
pub fn bounded(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some((cut, _)) => std::borrow::Cow::Owned(format!(
            "{}\u{2026} [{} more bytes cut]",
            &s[..cut],
            s.len() - cut
        )),
    }
}

#[cfg(test)]
mod bounded_tests {
    #[test]
    fn long_fields_are_cut_with_a_marker_and_short_ones_kept() {
        assert_eq!(super::bounded("short", 10), "short");
        let long = "é".repeat(1000);
        let cut = super::bounded(&long, 254);
        assert!(cut.starts_with(&"é".repeat(254)));
        assert!(cut.ends_with("[1492 more bytes cut]"), "{cut}");
    }
}
