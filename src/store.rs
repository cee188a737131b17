//! IndexedDB: the app's only persistent state (database `finsync`).
//!
//! Schema (explicit versioned upgrades, one step per version; see ARCHITECTURE.md):
//!
//! | version | change |
//! |---|---|
//! | 1 | `settings` (out-of-line key `"settings"`), `files` (key path `idempotencyKey`) |
//! | 2 | `files` dropped (its facts moved to the two stores below; the server still knows every committed key, so nothing is re-uploaded); `encounters` (key path `localId`: an encounter's fields and images as planned for sync), `encounterSync` (key path `localId`: remote id and status), `imageSync` (key path `[encounter, image]`: one image's sync status) |
//! | 3 | `blocks` (out-of-line key: idempotency key → staged block IDs of a block upload), `handles` (out-of-line key: folder name → its `FileSystemDirectoryHandle`, to find the files again after a reload) |
//! | 4 | `activity` (auto-increment key: the activity log); for discovery: `scanJobs` (key path `id`), `scanFiles` (key path `[jobId, relativePath]`, index `byJob`), `manifests` (key path `id`), `reviewRecords` (key path `[manifestId, localId]`, index `byManifest`) |
//!
//! The engine's write-ahead [`Persist`] changes go to `encounterSync`/`imageSync` in one
//! transaction per batch ([`Store::persist`]). Every write awaits `commit()`:
//! indexed_db_futures rolls a transaction back otherwise.

use finsync_core::engine::{
    EncounterRecord, EncounterStatus, ImageStatus, Persist, PlanEncounter, RemoteEncounter,
    SyncStore,
};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyPath;
use serde::{Deserialize, Serialize};

use crate::blob_put::BlockState;

/// Name of the app's database.
pub const DB_NAME: &str = "finsync";
const DB_VERSION: u32 = 4;
const SETTINGS: &str = "settings";
const ENCOUNTERS: &str = "encounters";
const ENCOUNTER_SYNC: &str = "encounterSync";
const IMAGE_SYNC: &str = "imageSync";
const BLOCKS: &str = "blocks";
const HANDLES: &str = "handles";
const ACTIVITY: &str = "activity";
/// Discovery stores (schema v4).
pub const SCAN_JOBS: &str = "scanJobs";
pub const SCAN_FILES: &str = "scanFiles";
pub const MANIFESTS: &str = "manifests";
pub const REVIEW_RECORDS: &str = "reviewRecords";
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
    /// Resume an interrupted sync on page load when the folder can be reopened without
    /// asking (File System Access permission still granted).
    #[serde(default = "yes")]
    pub auto_resume: bool,
}

fn yes() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_url: String::new(),
            api_key: String::new(),
            concurrency: 2,
            auto_resume: true,
        }
    }
}

/// An encounter as planned for sync, with where its files came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEncounter {
    pub local_id: String,
    pub population_id: i64,
    /// The engine's plan for it (fields and images; image statuses live in `imageSync`).
    pub plan: PlanEncounter,
    /// Per image (same order as `plan.images`): path below the picked folder and lastModified,
    /// to find the file again and notice when it changed.
    pub sources: Vec<ImageSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSource {
    pub relative_path: String,
    pub last_modified: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncounterSyncRow {
    local_id: String,
    remote: Option<RemoteEncounter>,
    status: EncounterStatus,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageSyncRow {
    encounter: String,
    image: String,
    status: ImageStatus,
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
                let old = ev.old_version();
                if old < 1.0 {
                    db.create_object_store(SETTINGS).build()?;
                }
                if old < 2.0 {
                    if old >= 1.0 {
                        db.delete_object_store("files")?;
                    }
                    db.create_object_store(ENCOUNTERS)
                        .with_key_path(KeyPath::from("localId"))
                        .build()?;
                    db.create_object_store(ENCOUNTER_SYNC)
                        .with_key_path(KeyPath::from("localId"))
                        .build()?;
                    db.create_object_store(IMAGE_SYNC)
                        .with_key_path(KeyPath::from(["encounter", "image"]))
                        .build()?;
                }
                if old < 3.0 {
                    db.create_object_store(BLOCKS).build()?;
                    db.create_object_store(HANDLES).build()?;
                }
                if old < 4.0 {
                    db.create_object_store(ACTIVITY)
                        .with_auto_increment(true)
                        .build()?;
                    db.create_object_store(SCAN_JOBS)
                        .with_key_path(KeyPath::from("id"))
                        .build()?;
                    db.create_object_store(SCAN_FILES)
                        .with_key_path(KeyPath::from(["jobId", "relativePath"]))
                        .build()?
                        .create_index("byJob", KeyPath::from("jobId"))
                        .build()?;
                    db.create_object_store(MANIFESTS)
                        .with_key_path(KeyPath::from("id"))
                        .build()?;
                    db.create_object_store(REVIEW_RECORDS)
                        .with_key_path(KeyPath::from(["manifestId", "localId"]))
                        .build()?
                        .create_index("byManifest", KeyPath::from("manifestId"))
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

    /// The underlying database, for adapters that add their own queries (discovery).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Appends one activity-log entry.
    pub async fn add_activity(&self, entry: &crate::activity::Entry) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(ACTIVITY)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(ACTIVITY)?
            .add(entry.clone())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every activity-log entry, newest first.
    pub async fn activity(&self) -> Result<Vec<crate::activity::Entry>, StoreError> {
        let tx = self.db.transaction(ACTIVITY).build()?;
        let rows = tx
            .object_store(ACTIVITY)?
            .get_all::<crate::activity::Entry>()
            .serde()?
            .await?;
        let mut all = rows.collect::<Result<Vec<_>, _>>()?;
        all.reverse();
        Ok(all)
    }

    /// Staged blocks of the block upload for `key`, if one was started.
    pub async fn block_state(&self, key: &str) -> Result<Option<BlockState>, StoreError> {
        let tx = self.db.transaction(BLOCKS).build()?;
        Ok(tx
            .object_store(BLOCKS)?
            .get(key.to_string())
            .serde()?
            .await?)
    }

    pub async fn save_block_state(&self, key: &str, state: &BlockState) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(BLOCKS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(BLOCKS)?
            .put(state.clone())
            .with_key(key.to_string())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Remembers a folder's `FileSystemDirectoryHandle` (structured-cloned by IndexedDB).
    pub async fn save_handle(
        &self,
        name: &str,
        handle: &wasm_bindgen::JsValue,
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(HANDLES)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(HANDLES)?
            .put(handle.clone())
            .with_key(name.to_string())
            .primitive()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The remembered handle of a folder, if any.
    pub async fn handle(&self, name: &str) -> Result<Option<wasm_bindgen::JsValue>, StoreError> {
        let tx = self.db.transaction(HANDLES).build()?;
        let v: Option<wasm_bindgen::JsValue> = tx
            .object_store(HANDLES)?
            .get(name.to_string())
            .primitive()?
            .await?;
        Ok(v.filter(|v| !v.is_undefined() && !v.is_null()))
    }

    /// Every planned encounter.
    pub async fn encounters(&self) -> Result<Vec<StoredEncounter>, StoreError> {
        let tx = self.db.transaction(ENCOUNTERS).build()?;
        let store = tx.object_store(ENCOUNTERS)?;
        let rows = store.get_all::<StoredEncounter>().serde()?.await?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Saves (replaces) planned encounters in one transaction.
    pub async fn put_encounters(&self, encounters: &[StoredEncounter]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(ENCOUNTERS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(ENCOUNTERS)?;
        for e in encounters {
            store.put(e.clone()).serde()?.await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The persisted sync state of every encounter, in the engine's model.
    pub async fn sync_state(&self) -> Result<SyncStore, StoreError> {
        let tx = self.db.transaction([ENCOUNTER_SYNC, IMAGE_SYNC]).build()?;
        let encounters = tx
            .object_store(ENCOUNTER_SYNC)?
            .get_all::<EncounterSyncRow>()
            .serde()?
            .await?;
        let images = tx
            .object_store(IMAGE_SYNC)?
            .get_all::<ImageSyncRow>()
            .serde()?
            .await?;
        let mut state = SyncStore::default();
        for row in encounters {
            let row = row?;
            state.encounters.insert(
                row.local_id,
                EncounterRecord {
                    remote: row.remote,
                    status: row.status,
                    images: Default::default(),
                },
            );
        }
        for row in images {
            let row = row?;
            state
                .encounters
                .entry(row.encounter)
                .or_default()
                .images
                .insert(row.image, row.status);
        }
        Ok(state)
    }

    /// Reset (spec §5): every given encounter and its images back to pending, forgetting the
    /// remote encounter, so the next Sync re-checks everything with the server. Deletes
    /// nothing on the server.
    pub async fn reset_encounters(&self, encounters: &[StoredEncounter]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction([ENCOUNTER_SYNC, IMAGE_SYNC])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let enc_store = tx.object_store(ENCOUNTER_SYNC)?;
        let img_store = tx.object_store(IMAGE_SYNC)?;
        for e in encounters {
            enc_store
                .put(EncounterSyncRow {
                    local_id: e.local_id.clone(),
                    remote: None,
                    status: EncounterStatus::Pending,
                })
                .serde()?
                .await?;
            for i in &e.plan.images {
                img_store
                    .put(ImageSyncRow {
                        encounter: e.local_id.clone(),
                        image: i.local_id.clone(),
                        status: ImageStatus::Pending,
                    })
                    .serde()?
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes the engine's write-ahead changes durable: all of them in one transaction, which
    /// has committed when this returns `Ok`.
    pub async fn persist(&self, changes: &[Persist]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self
            .db
            .transaction([ENCOUNTER_SYNC, IMAGE_SYNC])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let enc_store = tx.object_store(ENCOUNTER_SYNC)?;
        let img_store = tx.object_store(IMAGE_SYNC)?;
        for change in changes {
            match change {
                Persist::ImageStatus {
                    encounter,
                    image,
                    status,
                } => {
                    img_store
                        .put(ImageSyncRow {
                            encounter: encounter.clone(),
                            image: image.clone(),
                            status: status.clone(),
                        })
                        .serde()?
                        .await?;
                }
                Persist::EncounterRemote { encounter, .. }
                | Persist::EncounterStatus { encounter, .. } => {
                    let current: Option<EncounterSyncRow> =
                        enc_store.get(encounter.clone()).serde()?.await?;
                    let mut row = current.unwrap_or(EncounterSyncRow {
                        local_id: encounter.clone(),
                        remote: None,
                        status: EncounterStatus::Pending,
                    });
                    match change {
                        Persist::EncounterRemote { remote, .. } => {
                            row.remote = Some(remote.clone())
                        }
                        Persist::EncounterStatus { status, .. } => row.status = status.clone(),
                        Persist::ImageStatus { .. } => {}
                    }
                    enc_store.put(row).serde()?.await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finsync_core::api::FindOrCreateEncounter;
    use finsync_core::engine::PlanImage;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    async fn fresh(name: &str) -> Store {
        if let Ok(req) = Database::delete_by_name(name) {
            let _ = req.await;
        }
        Store::open(name).await.expect("open test database")
    }

    #[wasm_bindgen_test]
    async fn settings_round_trip_through_a_reopen() {
        let store = fresh("finsync-test-settings").await;
        assert_eq!(store.settings().await.unwrap(), None);
        let s = Settings {
            server_url: "http://127.0.0.1:8080".into(),
            api_key: "fsk_test".into(),
            concurrency: 3,
            auto_resume: false,
        };
        store.save_settings(&s).await.unwrap();
        drop(store);
        let again = Store::open("finsync-test-settings").await.unwrap();
        assert_eq!(again.settings().await.unwrap(), Some(s));
    }

    #[wasm_bindgen_test]
    async fn persisted_changes_rebuild_the_engine_store() {
        let store = fresh("finsync-test-sync").await;
        let changes = vec![
            Persist::EncounterRemote {
                encounter: "e1".into(),
                remote: RemoteEncounter {
                    id: 9,
                    url: "/encounters/9".into(),
                },
            },
            Persist::ImageStatus {
                encounter: "e1".into(),
                image: "a.jpg".into(),
                status: ImageStatus::Uploaded,
            },
            Persist::ImageStatus {
                encounter: "e1".into(),
                image: "b.jpg".into(),
                status: ImageStatus::Pending,
            },
        ];
        store.persist(&changes).await.unwrap();
        store
            .persist(&[
                Persist::ImageStatus {
                    encounter: "e1".into(),
                    image: "a.jpg".into(),
                    status: ImageStatus::Complete {
                        file_item_id: Some(3),
                    },
                },
                Persist::EncounterStatus {
                    encounter: "e1".into(),
                    status: EncounterStatus::Partial,
                },
            ])
            .await
            .unwrap();
        // The same changes applied to the engine's reference model give the same state.
        let mut expected = SyncStore::default();
        for c in &changes {
            expected.apply(c);
        }
        expected.apply(&Persist::ImageStatus {
            encounter: "e1".into(),
            image: "a.jpg".into(),
            status: ImageStatus::Complete {
                file_item_id: Some(3),
            },
        });
        expected.apply(&Persist::EncounterStatus {
            encounter: "e1".into(),
            status: EncounterStatus::Partial,
        });
        drop(store);
        let again = Store::open("finsync-test-sync").await.unwrap();
        assert_eq!(again.sync_state().await.unwrap(), expected);
    }

    #[wasm_bindgen_test]
    async fn block_state_round_trips() {
        let store = fresh("finsync-test-blocks").await;
        assert_eq!(store.block_state("v1-k").await.unwrap(), None);
        let st = BlockState {
            block_size: 8,
            staged: vec![0, 2, 1],
        };
        store.save_block_state("v1-k", &st).await.unwrap();
        assert_eq!(store.block_state("v1-k").await.unwrap(), Some(st));
    }

    #[wasm_bindgen_test]
    async fn encounters_are_replaced_by_local_id() {
        let store = fresh("finsync-test-encounters").await;
        let enc = |n: usize| StoredEncounter {
            local_id: "folder:Haro".into(),
            population_id: 1,
            plan: PlanEncounter {
                local_id: "folder:Haro".into(),
                fields: FindOrCreateEncounter {
                    date: "2024-07-15".into(),
                    time: None,
                    location_name: "Haro".into(),
                    gps: None,
                    photographer: "Jane".into(),
                    notes: None,
                },
                remote: None,
                images: (0..n)
                    .map(|i| PlanImage {
                        local_id: format!("{i}.jpg"),
                        file_name: format!("{i}.jpg"),
                        size: 10,
                        content_type: "image/jpeg".into(),
                        idempotency_key: format!("k{i}"),
                        status: ImageStatus::Pending,
                    })
                    .collect(),
            },
            sources: vec![],
        };
        store.put_encounters(&[enc(2)]).await.unwrap();
        store.put_encounters(&[enc(3)]).await.unwrap();
        let all = store.encounters().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].plan.images.len(), 3);
    }
}
