//! Credentials: API keys (`fsk_…`), sign-in session tokens (`fss_…`) and passwords.
//!
//! Keys and session tokens are 32 random bytes (base64url) behind a prefix. Only their SHA-256
//! is stored; they are high-entropy, so a fast hash is enough, and the hash is compared in
//! constant time after the lookup. Passwords get argon2id (PHC strings, parameters from the
//! config; verification reads them from the stored string).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{self, Population};
use crate::error::AppError;

/// Prefix of API keys.
pub const KEY_PREFIX: &str = "fsk_";
/// Prefix of sign-in session tokens.
pub const SESSION_PREFIX: &str = "fss_";

fn random_token(prefix: &str) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AppError::Internal(format!("no randomness for a token: {e}")))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A new random API key.
pub fn generate_key() -> Result<String, AppError> {
    random_token(KEY_PREFIX)
}

pub(crate) fn hash_token(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores a new key for a population (made by the admin CLI) and returns it (the only time it
/// is visible).
pub fn create_key(
    tx: &Transaction<'_>,
    population_id: i64,
    label: &str,
) -> Result<String, AppError> {
    create_key_for(tx, population_id, label, None, "admin-cli").map(|(key, _)| key)
}

/// Stores a new key, optionally on behalf of a user; returns the key and its id.
pub fn create_key_for(
    tx: &Transaction<'_>,
    population_id: i64,
    label: &str,
    user_id: Option<i64>,
    actor: &str,
) -> Result<(String, i64), AppError> {
    let key = generate_key()?;
    tx.execute(
        "INSERT INTO api_keys (population_id, key_hash, label, created_at, user_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            population_id,
            hash_token(&key),
            label,
            crate::now_unix(),
            user_id
        ],
    )?;
    let id = tx.last_insert_rowid();
    db::audit_in(
        tx,
        Some(population_id),
        actor,
        "key.create",
        &format!("key {id}, label {label:?}"),
    )?;
    Ok((key, id))
}

/// Revokes a key given in full.
pub fn revoke_key(tx: &Transaction<'_>, key: &str) -> Result<bool, AppError> {
    let row: Option<(i64, i64)> = tx
        .query_row(
            "SELECT id, population_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
            params![hash_token(key)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, population)) = row else {
        return Ok(false);
    };
    revoke_key_id(tx, id, population, "admin-cli")?;
    Ok(true)
}

/// Revokes a key by id (idempotent); returns when it was revoked.
pub fn revoke_key_id(
    tx: &Transaction<'_>,
    id: i64,
    population_id: i64,
    actor: &str,
) -> Result<i64, AppError> {
    let now = crate::now_unix();
    let n = tx.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    if n > 0 {
        db::audit_in(
            tx,
            Some(population_id),
            actor,
            "key.revoke",
            &format!("key {id}"),
        )?;
    }
    Ok(tx
        .query_row(
            "SELECT revoked_at FROM api_keys WHERE id = ?1",
            params![id],
            |r| r.get::<_, Option<i64>>(0),
        )?
        .unwrap_or(now))
}

/// A valid API key and what it belongs to.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: i64,
    pub user_id: Option<i64>,
    pub population: Population,
}

impl Key {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self.user_id {
            Some(u) => format!("key:{}/user:{u}", self.id),
            None => format!("key:{}", self.id),
        }
    }
}

/// What a presented key amounts to.
#[derive(Debug, Clone)]
pub enum KeyCheck {
    Missing,
    Invalid,
    Denied(Key),
    Ready(Key),
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// A key row found by the hash of the presented key, whatever its state.
pub struct KeyRow {
    pub id: i64,
    pub population_id: i64,
    pub user_id: Option<i64>,
    pub revoked: bool,
    pub denied: bool,
}

pub fn find_key(tx: &Transaction<'_>, key: &str) -> Result<Option<KeyRow>, AppError> {
    let wanted = hash_token(key);
    let row: Option<(String, KeyRow)> = tx
        .query_row(
            "SELECT key_hash, id, population_id, user_id, revoked_at, denied FROM api_keys
             WHERE key_hash = ?1",
            params![wanted],
            |r| {
                Ok((
                    r.get(0)?,
                    KeyRow {
                        id: r.get(1)?,
                        population_id: r.get(2)?,
                        user_id: r.get(3)?,
                        revoked: r.get::<_, Option<i64>>(4)?.is_some(),
                        denied: r.get(5)?,
                    },
                ))
            },
        )
        .optional()?;
    Ok(row.and_then(|(stored, row)| {
        bool::from(stored.as_bytes().ct_eq(wanted.as_bytes())).then_some(row)
    }))
}

pub fn check(tx: &Transaction<'_>, key: Option<&str>) -> Result<KeyCheck, AppError> {
    let Some(key) = key else {
        return Ok(KeyCheck::Missing);
    };
    let Some(row) = find_key(tx, key)? else {
        return Ok(KeyCheck::Invalid);
    };
    if row.revoked {
        return Ok(KeyCheck::Invalid);
    }
    let Some(population) = db::population(tx, row.population_id)? else {
        return Ok(KeyCheck::Invalid);
    };
    let denied = row.denied || !population.sync_enabled;
    let key = Key {
        id: row.id,
        user_id: row.user_id,
        population,
    };
    Ok(if denied {
        KeyCheck::Denied(key)
    } else {
        KeyCheck::Ready(key)
    })
}

/// The key of a caller allowed to sync, or the error to answer with.
pub fn require_key(tx: &Transaction<'_>, key: Option<&str>) -> Result<Key, AppError> {
    match check(tx, key)? {
        KeyCheck::Ready(k) => Ok(k),
        KeyCheck::Denied(k) => Err(AppError::AccessDenied(k.population.name)),
        KeyCheck::Missing | KeyCheck::Invalid => Err(AppError::InvalidKey),
    }
}

/// The population of a key allowed to sync, or the error to answer with.
pub fn require(tx: &Transaction<'_>, key: Option<&str>) -> Result<Population, AppError> {
    require_key(tx, key).map(|k| k.population)
}

// --- sessions ----------------------------------------------------------------------------

/// Creates a sign-in session; returns the token (shown once) and its expiry.
pub fn create_session(
    tx: &Transaction<'_>,
    user_id: i64,
    ttl_secs: i64,
) -> Result<(String, i64), AppError> {
    let token = random_token(SESSION_PREFIX)?;
    let now = crate::now_unix();
    let expires = now + ttl_secs.max(1);
    tx.execute(
        "INSERT INTO user_sessions (user_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id, hash_token(&token), now, expires],
    )?;
    Ok((token, expires))
}

/// A live sign-in session.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub expires_at: i64,
}

impl Session {
    pub fn actor(&self) -> String {
        format!("user:{}", self.user_id)
    }
}

/// The session of a bearer token, or `InvalidSession`.
pub fn require_session(tx: &Transaction<'_>, token: Option<&str>) -> Result<Session, AppError> {
    let Some(token) = token.filter(|t| t.starts_with(SESSION_PREFIX)) else {
        return Err(AppError::InvalidSession);
    };
    let wanted = hash_token(token);
    let row: Option<(String, Session, Option<i64>)> = tx
        .query_row(
            "SELECT token_hash, id, user_id, expires_at, revoked_at FROM user_sessions
             WHERE token_hash = ?1",
            params![wanted],
            |r| {
                Ok((
                    r.get(0)?,
                    Session {
                        id: r.get(1)?,
                        user_id: r.get(2)?,
                        expires_at: r.get(3)?,
                    },
                    r.get(4)?,
                ))
            },
        )
        .optional()?;
    match row {
        Some((stored, s, None))
            if bool::from(stored.as_bytes().ct_eq(wanted.as_bytes()))
                && s.expires_at > crate::now_unix() =>
        {
            Ok(s)
        }
        _ => Err(AppError::InvalidSession),
    }
}

pub fn end_session(tx: &Transaction<'_>, session: &Session) -> Result<(), AppError> {
    tx.execute(
        "UPDATE user_sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![session.id, crate::now_unix()],
    )?;
    Ok(())
}

// --- passwords ---------------------------------------------------------------------------

/// Argon2id cost of new password hashes.
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl PasswordCost {
    pub fn from_config(c: &crate::Config) -> Self {
        PasswordCost {
            memory_kib: c.argon2_memory_kib,
            iterations: c.argon2_iterations,
        }
    }

    fn hasher(self) -> Result<Argon2<'static>, AppError> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None)
            .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Shortest password the server stores.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The PHC string of a new argon2id hash of `password`.
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String, AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1024 {
        return Err(AppError::bad(
            "invalidPassword",
            format!("a password has {MIN_PASSWORD_CHARS}–1024 characters"),
        ));
    }
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| AppError::Internal(format!("no randomness for a salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::Internal(format!("salt encoding: {e}")))?;
    cost.hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// `true` when `password` matches the stored PHC string (a malformed string never matches).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let cost = PasswordCost {
            memory_kib: 64,
            iterations: 1,
        };
        let h = hash_password("correct horse", cost).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("x", "not a phc string"));
        assert!(hash_password("short", cost).is_err());
        assert_ne!(h, hash_password("correct horse", cost).unwrap(), "salted");
    }

    #[test]
    fn tokens_have_their_prefix_and_entropy() {
        let a = generate_key().unwrap();
        assert!(a.starts_with(KEY_PREFIX) && a.len() == 4 + 43, "{a}");
        assert_ne!(a, generate_key().unwrap());
        assert!(random_token(SESSION_PREFIX).unwrap().starts_with("fss_"));
    }
}
