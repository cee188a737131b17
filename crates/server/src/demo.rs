//! The demo population `make run` starts with: created on the first start with `--demo`,
//! its key and its user's password kept beside the database (development only) so the app
//! can pre-fill them.

use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use finsync_core::api::{OrganisationRole, PopulationRole};

use crate::auth::PasswordCost;
use crate::error::AppError;
use crate::{accounts, auth, db};

/// The demo user's email.
pub const DEMO_EMAIL: &str = "demo@finsync.invalid";

/// The demo key, creating the organisation, population and key on first use.
pub fn ensure(db: &db::Db, database: &std::path::Path) -> Result<(String, bool), AppError> {
    let key_file = key_file(database);
    if let Ok(key) = std::fs::read_to_string(&key_file) {
        let key = key.trim().to_string();
        let valid = db.tx_blocking(|tx| {
            Ok(matches!(
                auth::check(tx, Some(&key))?,
                auth::KeyCheck::Ready(_) | auth::KeyCheck::Denied(_)
            ))
        })?;
        if valid {
            return Ok((key, false));
        }
    }
    let key = db.tx_blocking(|tx| {
        let population = demo_population(tx)?;
        auth::create_key(tx, population, "demo")
    })?;
    std::fs::write(&key_file, &key)
        .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", key_file.display())))?;
    Ok((key, true))
}

fn demo_population(tx: &rusqlite::Transaction<'_>) -> Result<i64, AppError> {
    Ok(match db::first_population(tx)? {
        Some(id) => id,
        None => {
            let org = db::create_organisation(tx, "Demo Research Group")?;
            db::create_population(tx, org, "Salish Sea Orcas (demo)", true)?
        }
    })
}

/// The demo user's sign-in.
pub struct DemoUser {
    pub email: String,
    pub password: String,
}

/// The demo user (admin of the demo organisation and population), creating it or resetting
/// its password when the password file is missing or stale.
pub fn ensure_user(
    db: &db::Db,
    database: &std::path::Path,
    cost: PasswordCost,
) -> Result<DemoUser, AppError> {
    let file = password_file(database);
    let remembered = std::fs::read_to_string(&file)
        .ok()
        .map(|p| p.trim().to_string());
    let current = db.tx_blocking(|tx| match accounts::user_by_email(tx, DEMO_EMAIL)? {
        Some(u) => Ok(Some((u.id, accounts::password_hash(tx, u.id)?))),
        None => Ok(None),
    })?;
    if let (Some(pw), Some((_, Some(phc)))) = (&remembered, &current) {
        if auth::verify_password(pw, phc) {
            return Ok(DemoUser {
                email: DEMO_EMAIL.into(),
                password: pw.clone(),
            });
        }
    }
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AppError::Internal(format!("no randomness for a password: {e}")))?;
    let password = URL_SAFE_NO_PAD.encode(bytes);
    let phc = auth::hash_password(&password, cost)?;
    db.tx_blocking(|tx| {
        let population = demo_population(tx)?;
        let pop = accounts::require_population(tx, population)?;
        let id = match &current {
            Some((id, _)) => {
                accounts::set_password_hash(tx, *id, &phc)?;
                *id
            }
            None => accounts::create_user(tx, DEMO_EMAIL, "Demo", "User", Some(&phc), false)?,
        };
        accounts::set_member(tx, pop.organisation_id, id, OrganisationRole::Admin)?;
        accounts::set_population_role(tx, pop.id, id, Some(PopulationRole::Admin))?;
        db::audit(
            tx,
            "admin-cli",
            "user.demo",
            &format!("demo user {id} ready"),
        )
    })?;
    std::fs::write(&file, &password)
        .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", file.display())))?;
    Ok(DemoUser {
        email: DEMO_EMAIL.into(),
        password,
    })
}

/// The population a demo key belongs to (`None` if the key is unknown or revoked).
pub fn population_of(db: &db::Db, key: &str) -> Result<Option<db::Population>, AppError> {
    db.tx_blocking(|tx| {
        Ok(match auth::check(tx, Some(key))? {
            auth::KeyCheck::Ready(k) | auth::KeyCheck::Denied(k) => Some(k.population),
            auth::KeyCheck::Missing | auth::KeyCheck::Invalid => None,
        })
    })
}

/// What `make run` prints about the demo key: the key on the first line (the e2e harness
/// reads it from there), then the organisation's and population's names and ids, which the
/// admin commands (`--organisation`, `--population`) take.
pub fn banner(key: &str, created: bool, population: Option<&db::Population>) -> String {
    let mut out = format!(
        "demo population ready ({}); API key: {key}",
        if created {
            "created now"
        } else {
            "from an earlier start"
        }
    );
    if let Some(p) = population {
        out.push_str(&format!(
            "\ndemo organisation {:?} (id {}), population {:?} (id {}, browser sync {})",
            p.organisation,
            p.organisation_id,
            p.name,
            p.id,
            if p.sync_enabled { "on" } else { "off" }
        ));
    }
    out
}

fn key_file(database: &std::path::Path) -> PathBuf {
    database.with_file_name("demo-api-key.txt")
}

fn password_file(database: &std::path::Path) -> PathBuf {
    database.with_file_name("demo-user-password.txt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_the_demo_organisation_and_population_with_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("server.db");
        let db = db::Db::open(&database).unwrap();
        let (key, created) = ensure(&db, &database).unwrap();
        assert!(created);
        let population = population_of(&db, &key)
            .unwrap()
            .expect("the demo key's population");
        let text = banner(&key, created, Some(&population));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("demo population ready (created now); API key: {key}")
        );
        assert_eq!(
            lines[1],
            format!(
                "demo organisation \"Demo Research Group\" (id {}), population \"Salish Sea \
                 Orcas (demo)\" (id {}, browser sync on)",
                population.organisation_id, population.id
            )
        );
        // A second start reuses the key and says so.
        let (again, created) = ensure(&db, &database).unwrap();
        assert_eq!((again.as_str(), created), (key.as_str(), false));
        assert!(banner(&again, false, None).ends_with(&format!("earlier start); API key: {key}")));
    }
}
