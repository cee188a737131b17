//! SQLite: schema, migrations and queries.
//!
//! One connection behind a mutex: every request runs its reads and writes as one transaction
//! on a blocking thread, so concurrent requests are serialised and a find-or-create can never
//! race with another (two clients creating the same encounter end with one). WAL mode keeps
//! the file consistent across crashes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::error::{AppError, StartError};

/// Ordered migrations; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE populations (
    id INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    sync_enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    population_id INTEGER NOT NULL REFERENCES populations(id),
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE encounters (
    id INTEGER PRIMARY KEY,
    population_id INTEGER NOT NULL REFERENCES populations(id),
    date TEXT NOT NULL,
    time TEXT,
    location_name TEXT NOT NULL,
    location_norm TEXT NOT NULL,
    lat REAL,
    lon REAL,
    photographer TEXT NOT NULL,
    photographer_norm TEXT NOT NULL,
    notes TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX encounters_match ON encounters(population_id, date, photographer_norm);
CREATE TABLE upload_sessions (
    id INTEGER PRIMARY KEY,
    population_id INTEGER NOT NULL REFERENCES populations(id),
    encounter_id INTEGER NOT NULL REFERENCES encounters(id),
    idempotency_key TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    blob_name TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (population_id, idempotency_key)
);
CREATE TABLE file_items (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL UNIQUE REFERENCES upload_sessions(id),
    encounter_id INTEGER NOT NULL REFERENCES encounters(id),
    blob_name TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#];

/// Shared handle to the database.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating folders and file as needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Self, StartError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` inside one transaction on a blocking thread; commits when it returns `Ok`.
    pub async fn tx<R, F>(&self, f: F) -> Result<R, AppError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, AppError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| AppError::Internal("database lock poisoned".into()))?;
            let tx = guard.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| AppError::Internal(format!("database task failed: {e}")))?
    }

    /// Synchronous variant for the admin CLI and start-up.
    pub fn tx_blocking<R>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<R, AppError>,
    ) -> Result<R, AppError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| AppError::Internal("database lock poisoned".into()))?;
        let tx = guard.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let done: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Appends to the audit log. `detail` must never contain secrets.
pub fn audit(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO audit_log (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
        params![crate::now_unix(), actor, action, detail],
    )?;
    Ok(())
}

pub fn create_organisation(tx: &Transaction<'_>, name: &str) -> Result<i64, AppError> {
    tx.execute(
        "INSERT INTO organisations (name) VALUES (?1)",
        params![name],
    )?;
    Ok(tx.last_insert_rowid())
}

pub fn create_population(
    tx: &Transaction<'_>,
    organisation_id: i64,
    name: &str,
    sync_enabled: bool,
) -> Result<i64, AppError> {
    tx.execute(
        "INSERT INTO populations (organisation_id, name, sync_enabled) VALUES (?1, ?2, ?3)",
        params![organisation_id, name, sync_enabled],
    )?;
    Ok(tx.last_insert_rowid())
}

pub fn set_sync_enabled(
    tx: &Transaction<'_>,
    population_id: i64,
    on: bool,
) -> Result<(), AppError> {
    let n = tx.execute(
        "UPDATE populations SET sync_enabled = ?2 WHERE id = ?1",
        params![population_id, on],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("population {population_id}")));
    }
    Ok(())
}

/// A population with its organisation's name.
#[derive(Debug, Clone)]
pub struct Population {
    pub id: i64,
    pub name: String,
    pub organisation: String,
    pub sync_enabled: bool,
}

pub fn population(tx: &Transaction<'_>, id: i64) -> Result<Option<Population>, AppError> {
    Ok(tx
        .query_row(
            "SELECT p.id, p.name, o.name, p.sync_enabled FROM populations p
             JOIN organisations o ON o.id = p.organisation_id WHERE p.id = ?1",
            params![id],
            |r| {
                Ok(Population {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    organisation: r.get(2)?,
                    sync_enabled: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub fn first_population(tx: &Transaction<'_>) -> Result<Option<i64>, AppError> {
    Ok(tx
        .query_row("SELECT id FROM populations ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}
