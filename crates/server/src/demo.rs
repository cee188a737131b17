//! The demo population `make run` starts with: created on the first start with `--demo`,
//! its key kept beside the database (development only) so the app can pre-fill it.

use std::path::PathBuf;

use crate::error::AppError;
use crate::{auth, db};

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
        let population = match db::first_population(tx)? {
            Some(id) => id,
            None => {
                let org = db::create_organisation(tx, "Demo Research Group")?;
                db::create_population(tx, org, "Salish Sea Orcas (demo)", true)?
            }
        };
        auth::create_key(tx, population, "demo")
    })?;
    std::fs::write(&key_file, &key)
        .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", key_file.display())))?;
    Ok((key, true))
}

fn key_file(database: &std::path::Path) -> PathBuf {
    database.with_file_name("demo-api-key.txt")
}
