//! Passwords of the console's accounts: argon2id hashes in PHC form (the crate's default,
//! memory-hard parameters, a random 128-bit salt each), their verification, and [`burn`], which
//! costs what a verification costs so that a sign-in as an unknown account takes as long as one as
//! a known account. Shared by `newsletter admins add`, which stores the hash, and the console's
//! sign-in, which checks it. A password is never logged or kept.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Why a password could not be hashed: no randomness for its salt, or argon2 refused it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HashError(String);

/// The PHC string (`$argon2id$v=19$…`) of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` is the one `phc` was made from; a `phc` that does not parse matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A verification of `password` against a hash nobody's password matches, for a sign-in as an
/// account that does not exist: it costs the same time as [`verify`], and its answer is dropped.
pub fn burn(password: &str) {
    static NOBODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = NOBODY.get_or_init(|| hash("not a password of anyone").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_own_password_only() {
        let phc = super::hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(super::verify("correct horse battery staple", &phc));
        assert!(!super::verify("correct horse battery stable", &phc));
        assert!(!super::verify("correct horse battery staple", "not a hash"));
        assert_ne!(
            phc,
            super::hash("correct horse battery staple").unwrap(),
            "each hash has its own salt"
        );
        super::burn("anything");
    }
}
