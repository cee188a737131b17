//! IndexedDB: the app's only persistent state (database `finsync`).
//!
//! Schema (explicit versioned upgrades; see ARCHITECTURE.md):
//!
//! | version | change |
//! |---|---|
//! | 1 | object stores `settings` (out-of-line key `"settings"`) and `files` (key path `idempotencyKey`) |
//!
//! Every write awaits `commit()`: indexed_db_futures rolls a transaction back otherwise.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyPath;
use serde::{Deserialize, Serialize};

/// Name of the app's database.
pub const DB_NAME: &str = "finsync";
const DB_VERSION: u32 = 1;
const SETTINGS: &str = "settings";
const FILES: &str = "files";
const SETTINGS_KEY: &str = "settings";

/// A storage failure, shown to the person as is.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the browser database: {0}")]
    Open(String),
    #[error("browser database error: {0}")]
    Idb(String),
}

impl From<indexed_db_futures::error::Error> for StoreError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        StoreError::Idb(e.to_string())
    }
}

impl From<indexed_db_futures::error::OpenDbError> for StoreError {
    fn from(e: indexed_db_futures::error::OpenDbError) -> Self {
        StoreError::Open(e.to_string())
    }
}

/// What the person configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub server_url: String,
    pub api_key: String,
    /// Parallel uploads, 1–4.
    pub concurrency: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_url: String::new(),
            api_key: String::new(),
            concurrency: 2,
        }
    }
}

/// Where one file stands, as last persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileStatus {
    Pending,
    Uploading,
    Uploaded,
    Complete,
    Failed,
}

impl FileStatus {
    pub fn label(self) -> &'static str {
        match self {
            FileStatus::Pending => "Pending",
            FileStatus::Uploading => "Uploading",
            FileStatus::Uploaded => "Uploaded",
            FileStatus::Complete => "Complete",
            FileStatus::Failed => "Error",
        }
    }
}

/// One image's sync record, keyed by its idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    pub idempotency_key: String,
    pub relative_path: String,
    pub size: u64,
    pub last_modified: f64,
    pub status: FileStatus,
    pub error: Option<String>,
    pub encounter_id: Option<i64>,
}

/// An open database.
#[derive(Clone)]
pub struct Store {
    db: std::rc::Rc<Database>,
}

impl Store {
    /// Opens `name` (the app uses [`DB_NAME`]; tests use their own), upgrading the schema.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        let db = Database::open(name)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|ev, db| {
                // Versioned upgrades: each step runs once, in order.
                if ev.old_version() < 1.0 {
                    db.create_object_store(SETTINGS).build()?;
                    db.create_object_store(FILES)
                        .with_key_path(KeyPath::from("idempotencyKey"))
                        .build()?;
                }
                Ok(())
            })
            .await?;
        Ok(Store {
            db: std::rc::Rc::new(db),
        })
    }

    pub async fn settings(&self) -> Result<Option<Settings>, StoreError> {
        let tx = self.db.transaction(SETTINGS).build()?;
        let store = tx.object_store(SETTINGS)?;
        Ok(store.get(SETTINGS_KEY).serde()?.await?)
    }

    pub async fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(SETTINGS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(SETTINGS)?;
        store
            .put(settings.clone())
            .with_key(SETTINGS_KEY.to_string())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn files(&self) -> Result<Vec<FileRecord>, StoreError> {
        let tx = self.db.transaction(FILES).build()?;
        let store = tx.object_store(FILES)?;
        let records = store.get_all::<FileRecord>().serde()?.await?;
        Ok(records.collect::<Result<Vec<_>, _>>()?)
    }

    /// Writes many records in one transaction (one commit per batch, not per file).
    pub async fn put_files(&self, records: &[FileRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let tx = self
            .db
            .transaction(FILES)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(FILES)?;
        for r in records {
            store.put(r.clone()).serde()?.await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    async fn fresh(name: &str) -> Store {
        if let Ok(req) = Database::delete_by_name(name) {
            let _ = req.await;
        }
        Store::open(name).await.expect("open test database")
    }

    fn record(key: &str, status: FileStatus) -> FileRecord {
        FileRecord {
            idempotency_key: key.into(),
            relative_path: format!("survey/{key}.jpg"),
            size: 1234,
            last_modified: 1.7e12,
            status,
            error: None,
            encounter_id: Some(7),
        }
    }

    #[wasm_bindgen_test]
    async fn settings_round_trip_through_a_reopen() {
        let store = fresh("finsync-test-settings").await;
        assert_eq!(store.settings().await.unwrap(), None);
        let s = Settings {
            server_url: "http://127.0.0.1:8080".into(),
            api_key: "fsk_test".into(),
            concurrency: 3,
        };
        store.save_settings(&s).await.unwrap();
        drop(store);
        let again = Store::open("finsync-test-settings").await.unwrap();
        assert_eq!(again.settings().await.unwrap(), Some(s));
    }

    #[wasm_bindgen_test]
    async fn files_are_upserted_by_key() {
        let store = fresh("finsync-test-files").await;
        store
            .put_files(&[
                record("a", FileStatus::Pending),
                record("b", FileStatus::Pending),
            ])
            .await
            .unwrap();
        store
            .put_files(&[record("a", FileStatus::Complete)])
            .await
            .unwrap();
        let mut files = store.files().await.unwrap();
        files.sort_by(|x, y| x.idempotency_key.cmp(&y.idempotency_key));
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].status, FileStatus::Complete);
        assert_eq!(files[1].status, FileStatus::Pending);
        assert_eq!(files[1].relative_path, "survey/b.jpg");
    }
}
