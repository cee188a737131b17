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
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,          -- lower-cased
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT,                  -- argon2id PHC string; NULL: cannot sign in
    placeholder_email INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE organisation_members (
    organisation_id INTEGER NOT NULL REFERENCES organisations(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('member', 'admin')),
    PRIMARY KEY (organisation_id, user_id)
);
CREATE TABLE population_roles (
    population_id INTEGER NOT NULL REFERENCES populations(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('viewer', 'expert', 'professional', 'admin')),
    PRIMARY KEY (population_id, user_id)
);
CREATE TABLE user_sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
ALTER TABLE api_keys ADD COLUMN user_id INTEGER REFERENCES users(id);
ALTER TABLE api_keys ADD COLUMN denied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE encounters ADD COLUMN license TEXT;
CREATE TABLE encounter_organisations (
    encounter_id INTEGER NOT NULL REFERENCES encounters(id),
    organisation_id INTEGER NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (encounter_id, organisation_id)
);
CREATE TABLE individuals (
    id INTEGER PRIMARY KEY,
    population_id INTEGER NOT NULL REFERENCES populations(id),
    identifier TEXT NOT NULL,
    identifier_norm TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (population_id, identifier_norm)
);
CREATE TABLE encounter_individuals (
    encounter_id INTEGER NOT NULL REFERENCES encounters(id),
    individual_id INTEGER NOT NULL REFERENCES individuals(id),
    evidence_tier TEXT NOT NULL DEFAULT 'attested',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (encounter_id, individual_id)
);
ALTER TABLE upload_sessions ADD COLUMN content_md5 TEXT;
ALTER TABLE file_items ADD COLUMN thumbnail_blob TEXT;
ALTER TABLE file_items ADD COLUMN preview_blob TEXT;
ALTER TABLE file_items ADD COLUMN width INTEGER;
ALTER TABLE file_items ADD COLUMN height INTEGER;
ALTER TABLE file_items ADD COLUMN content_md5 TEXT;
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    population_id INTEGER NOT NULL REFERENCES populations(id),
    encounter_id INTEGER NOT NULL REFERENCES encounters(id),
    file_item_id INTEGER NOT NULL REFERENCES file_items(id),
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (file_item_id, kind)
);
CREATE INDEX jobs_encounter ON jobs(encounter_id);
ALTER TABLE audit_log ADD COLUMN population_id INTEGER;
CREATE INDEX audit_population ON audit_log(population_id, id);
"#,
    r#"
ALTER TABLE encounters ADD COLUMN photographer_user_id INTEGER REFERENCES users(id);
"#,
    // v4: a job that failed for a passing reason waits until `not_before` (unix seconds)
    // before a worker takes it again; `attempts` counts those failures across restarts.
    r#"
ALTER TABLE jobs ADD COLUMN not_before INTEGER;
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
"#,
    // v5: the snapshot of the original that commit verified (`x-ms-snapshot`); the committed
    // bytes, read instead of the base blob, which a client's upload SAS can still write.
    // NULL for file items committed before v5 (read the base blob).
    r#"
ALTER TABLE file_items ADD COLUMN blob_snapshot TEXT;
"#,
];

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

/// Appends to the audit log, outside any population. `detail` must never contain secrets.
pub fn audit(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), AppError> {
    audit_in(tx, None, actor, action, detail)
}

/// Appends to the audit log of a population (readable through `GET /api/v1/audit`).
/// `detail` must never contain secrets: no keys, tokens, passwords or SAS URLs.
pub fn audit_in(
    tx: &Transaction<'_>,
    population_id: Option<i64>,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO audit_log (at, actor, action, detail, population_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![crate::now_unix(), actor, action, detail, population_id],
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
    pub organisation_id: i64,
    pub sync_enabled: bool,
}

pub fn population(tx: &Transaction<'_>, id: i64) -> Result<Option<Population>, AppError> {
    Ok(tx
        .query_row(
            "SELECT p.id, p.name, o.name, p.sync_enabled, o.id FROM populations p
             JOIN organisations o ON o.id = p.organisation_id WHERE p.id = ?1",
            params![id],
            |r| {
                Ok(Population {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    organisation: r.get(2)?,
                    sync_enabled: r.get(3)?,
                    organisation_id: r.get(4)?,
                })
            },
        )
        .optional()?)
}

pub fn organisation_exists(tx: &Transaction<'_>, id: i64) -> Result<bool, AppError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM organisations WHERE id = ?1",
            params![id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Encounter, image and individual counts of a population.
pub fn population_counts(
    tx: &Transaction<'_>,
    population_id: i64,
) -> Result<finsync_core::api::PopulationCounts, AppError> {
    let count = |sql: &str| -> Result<u64, rusqlite::Error> {
        tx.query_row(sql, params![population_id], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
    };
    Ok(finsync_core::api::PopulationCounts {
        encounters: count("SELECT COUNT(*) FROM encounters WHERE population_id = ?1")?,
        images: count(
            "SELECT COUNT(*) FROM file_items f JOIN encounters e ON e.id = f.encounter_id
             WHERE e.population_id = ?1",
        )?,
        individuals: count("SELECT COUNT(*) FROM individuals WHERE population_id = ?1")?,
    })
}

/// ISO-8601 UTC of a Unix time, as the API shows timestamps.
pub fn iso(unix: i64) -> String {
    finsync_core::sas::iso8601_utc(unix)
}

pub fn first_population(tx: &Transaction<'_>) -> Result<Option<i64>, AppError> {
    Ok(tx
        .query_row("SELECT id FROM populations ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{self, KeyCheck};

    /// A database written by the first schema (v1: no users, jobs, variants or snapshots)
    /// opens, migrates to the current version and keeps its data: its key still works and its
    /// file item reads with the later columns empty.
    #[test]
    fn a_version_1_database_migrates_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let key = "fsk_from-a-version-1-database";
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO organisations (id, name) VALUES (1, 'Cascadia');
                 INSERT INTO populations (id, organisation_id, name, sync_enabled)
                 VALUES (1, 1, 'Southern Residents', 1);
                 INSERT INTO encounters (id, population_id, date, time, location_name,
                   location_norm, lat, lon, photographer, photographer_norm, notes, created_at)
                 VALUES (7, 1, '2024-07-15', '10:30', 'Haro Strait', 'haro strait', 48.5,
                   -123.2, 'Jane Doe', 'jane doe', 'J pod', 100);
                 INSERT INTO upload_sessions (id, population_id, encounter_id, idempotency_key,
                   file_name, size, content_type, blob_name, status, created_at, updated_at)
                 VALUES (3, 1, 7, 'k1', 'a.jpg', 1234, 'image/jpeg', 'encounters/7/k1/a.jpg',
                   'complete', 100, 101);
                 INSERT INTO file_items (id, session_id, encounter_id, blob_name, file_name,
                   size, created_at)
                 VALUES (5, 3, 7, 'encounters/7/k1/a.jpg', 'a.jpg', 1234, 101);
                 INSERT INTO audit_log (at, actor, action, detail)
                 VALUES (101, 'key:1', 'fileItem.create', 'file item 5');",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO api_keys (population_id, key_hash, label, created_at)
                 VALUES (1, ?1, 'old laptop', 100)",
                params![auth::hash_token(key)],
            )
            .unwrap();
        }

        let db = Db::open(&path).unwrap();
        let version = |db: &Db| {
            db.tx_blocking(
                |tx| Ok(tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))?),
            )
            .unwrap()
        };
        assert_eq!(version(&db), MIGRATIONS.len() as i64);
        db.tx_blocking(|tx| {
            match auth::check(tx, Some(key))? {
                KeyCheck::Ready(k) => assert_eq!(
                    (k.population.id, k.population.name.as_str()),
                    (1, "Southern Residents")
                ),
                _ => panic!("the v1 key no longer works"),
            }
            let enc: (String, String, Option<String>, Option<i64>) = tx.query_row(
                "SELECT location_name, photographer, license, photographer_user_id
                 FROM encounters WHERE id = 7",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            assert_eq!(enc, ("Haro Strait".into(), "Jane Doe".into(), None, None));
            let item: (String, i64, Option<String>, Option<String>, Option<String>) = tx
                .query_row(
                    "SELECT blob_name, size, content_md5, thumbnail_blob, blob_snapshot
                     FROM file_items WHERE id = 5",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?;
            assert_eq!(
                item,
                ("encounters/7/k1/a.jpg".into(), 1234, None, None, None)
            );
            let audit: (String, Option<i64>) =
                tx.query_row("SELECT detail, population_id FROM audit_log", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            assert_eq!(audit, ("file item 5".into(), None));
            // The later tables take rows about the old data.
            tx.execute(
                "INSERT INTO jobs (population_id, encounter_id, file_item_id, kind, state,
                 created_at, updated_at) VALUES (1, 7, 5, 'variants', 'queued', 1, 1)",
                [],
            )?;
            let attempts: i64 = tx.query_row("SELECT attempts FROM jobs", [], |r| r.get(0))?;
            assert_eq!(attempts, 0);
            Ok(())
        })
        .unwrap();
        drop(db);
        // Opened again: nothing runs twice.
        let db = Db::open(&path).unwrap();
        assert_eq!(version(&db), MIGRATIONS.len() as i64);
        assert_eq!(
            db.tx_blocking(|tx| Ok(
                tx.query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get::<_, i64>(0))?
            ))
            .unwrap(),
            1
        );
    }
}
