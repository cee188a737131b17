//! API keys: `fsk_` + 32 random bytes (base64url). Only SHA-256 of a key is stored; a key is
//! high-entropy, so a fast hash is enough (passwords get argon2). The hash is compared in
//! constant time after the lookup.

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{self, Population};
use crate::error::AppError;

/// A new random API key.
pub fn generate_key() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AppError::Internal(format!("no randomness for a key: {e}")))?;
    Ok(format!("fsk_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores a new key for a population and returns it (the only time it is visible).
pub fn create_key(
    tx: &Transaction<'_>,
    population_id: i64,
    label: &str,
) -> Result<String, AppError> {
    let key = generate_key()?;
    tx.execute(
        "INSERT INTO api_keys (population_id, key_hash, label, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![population_id, hash_key(&key), label, crate::now_unix()],
    )?;
    db::audit(
        tx,
        "admin",
        "key.create",
        &format!("population {population_id}, label {label:?}"),
    )?;
    Ok(key)
}

/// Revokes a key given in full.
pub fn revoke_key(tx: &Transaction<'_>, key: &str) -> Result<bool, AppError> {
    let n = tx.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE key_hash = ?1 AND revoked_at IS NULL",
        params![hash_key(key), crate::now_unix()],
    )?;
    if n > 0 {
        db::audit(tx, "admin", "key.revoke", "a key was revoked")?;
    }
    Ok(n > 0)
}

/// What a presented key amounts to.
#[derive(Debug, Clone)]
pub enum KeyCheck {
    Missing,
    Invalid,
    Denied(Population),
    Ready(Population),
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

pub fn check(tx: &Transaction<'_>, key: Option<&str>) -> Result<KeyCheck, AppError> {
    let Some(key) = key else {
        return Ok(KeyCheck::Missing);
    };
    let wanted = hash_key(key);
    let row: Option<(String, i64, Option<i64>)> = tx
        .query_row(
            "SELECT key_hash, population_id, revoked_at FROM api_keys WHERE key_hash = ?1",
            params![wanted],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((stored, population_id, revoked)) = row else {
        return Ok(KeyCheck::Invalid);
    };
    if !bool::from(stored.as_bytes().ct_eq(wanted.as_bytes())) || revoked.is_some() {
        return Ok(KeyCheck::Invalid);
    }
    match db::population(tx, population_id)? {
        None => Ok(KeyCheck::Invalid),
        Some(p) if !p.sync_enabled => Ok(KeyCheck::Denied(p)),
        Some(p) => Ok(KeyCheck::Ready(p)),
    }
}

/// The population of a key allowed to sync, or the error to answer with.
pub fn require(tx: &Transaction<'_>, key: Option<&str>) -> Result<Population, AppError> {
    match check(tx, key)? {
        KeyCheck::Ready(p) => Ok(p),
        KeyCheck::Denied(p) => Err(AppError::AccessDenied(p.name)),
        KeyCheck::Missing | KeyCheck::Invalid => Err(AppError::InvalidKey),
    }
}
