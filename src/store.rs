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
//! | 5 | aggregates: `encounterSummary` (key path `localId`: one [`EncounterSummary`] per planned encounter) and `populationCounts` (key path `populationId`: the [`PopulationCounts`] a card shows); the upgrade builds both from the v2–v4 records in its own transaction |
//! | 6 | `connections` (key path `id`: saved Azure storage connections, [`StorageConnection`]; their credentials never leave this browser except as per-blob read URLs sent to the server for a copy) |
//! | 7 | `apiKeys` (key path `populationId`: one provisioned [`StoredKey`] per population). The `settings` record keeps its `apiKey` as the *pasted* key (its population is whatever the server's status says), so a v6 database's single key keeps working unchanged; the sign-in session is a second record of `settings` (key `"session"`, [`StoredSession`]), no schema change. Both record their server's origin (`server`; [`Store::adopt_unowned`] fills it in records written before it existed) |
//!
//! The engine's write-ahead [`Persist`] changes go to `encounterSync`/`imageSync` in one
//! transaction per batch ([`Store::persist`]). Every write awaits `commit()`:
//! indexed_db_futures rolls a transaction back otherwise.
//!
//! **Invariant (v5):** the aggregates always equal what [`Store::rebuild_aggregates`] computes
//! from the records: every write of `encounters`, `encounterSync` or `imageSync` updates them in
//! the same transaction. The Sync page reads only the aggregates at start (a handful of
//! records however many images there are) and loads an encounter's images when asked.

use finsync_core::cloud::StorageConnection;
use finsync_core::engine::{
    CreatedUserRecord, EncounterRecord, EncounterStatus, ImageStatus, Persist, PlanEncounter,
    RemoteEncounter, SyncStore,
};
use indexed_db_futures::database::Database;
use indexed_db_futures::error::Error as IdbError;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::{DeserialiseFromJs, KeyPath, KeyRange};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use wasm_bindgen::JsValue;

use crate::blob_put::BlockState;

/// Name of the app's database.
pub const DB_NAME: &str = "finsync";
const DB_VERSION: u32 = 7;
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
/// Aggregates (schema v5).
const SUMMARIES: &str = "encounterSummary";
const COUNTS: &str = "populationCounts";
/// Saved Azure storage connections (schema v6).
const CONNECTIONS: &str = "connections";
const SETTINGS_KEY: &str = "settings";
/// Provisioned API keys, one per population (schema v7).
const API_KEYS: &str = "apiKeys";
/// The sign-in session's record in `settings`.
const SESSION_KEY: &str = "session";

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
    /// The pasted API key (Settings → API key), or the demo key; empty if none. Keys
    /// provisioned after sign-in are in `apiKeys` ([`StoredKey`]).
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

/// The normalised origin of a server URL (`scheme://host[:port]`, lower case, default port
/// dropped) that provisioned keys and the session are tied to; the trimmed URL itself when
/// it cannot be parsed (it then matches only itself).
pub fn server_origin(url: &str) -> String {
    let url = url.trim();
    match web_sys::Url::new(url) {
        Ok(u) if u.origin() != "null" => u.origin(),
        _ => url.trim_end_matches('/').to_string(),
    }
}

/// An API key this browser provisioned for one population after sign-in (`apiKeys`, v7).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKey {
    /// The origin of the server that issued the key ([`server_origin`]): the key is sent only
    /// while the server URL has this origin. Empty in records a v7 database wrote before the
    /// origin was recorded; [`Store::adopt_unowned`] gives them the server URL's origin.
    #[serde(default)]
    pub server: String,
    pub population_id: i64,
    pub population_name: String,
    pub organisation: String,
    pub api_key: String,
    /// The server's id of the key (to find it in the server's key list).
    pub key_id: i64,
    pub created_at: String,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("server", &self.server)
            .field("population_id", &self.population_id)
            .field("population_name", &self.population_name)
            .field("key_id", &self.key_id)
            .field("api_key", &"(hidden)")
            .finish()
    }
}

/// The sign-in session (`settings`, key `"session"`): the server's session token until it
/// expires (`--session-ttl-secs`, default one hour), and the populations the person may sync
/// as the sign-in answered. The Sync page provisions keys with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    /// The origin of the server that issued the token ([`server_origin`]): the token is sent
    /// only while the server URL has this origin (empty: see [`StoredKey::server`]).
    #[serde(default)]
    pub server: String,
    pub token: String,
    /// ISO-8601, as the server sent it.
    pub expires_at: String,
    /// `expires_at` in ms since the epoch (this browser's clock).
    pub expires_ms: u64,
    /// "First Last" of the signed-in person.
    pub user: String,
    pub populations: Vec<finsync_core::api::PopulationMembership>,
}

impl StoredSession {
    /// Whether the session has expired at `now_ms` (ms since the epoch, this browser's clock).
    pub fn expired(&self, now_ms: f64) -> bool {
        self.expires_ms as f64 <= now_ms
    }
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("server", &self.server)
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .field("token", &"(hidden)")
            .finish()
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

impl StoredEncounter {
    /// "date · location · photographer", how the page names an encounter.
    pub fn label(&self) -> String {
        let f = &self.plan.fields;
        format!("{} · {} · {}", f.date, f.location_name, f.photographer)
    }

    /// The picked folder the images came from (first segment of the first image's path).
    pub fn folder(&self) -> String {
        self.sources
            .first()
            .and_then(|s| s.relative_path.split('/').next())
            .unwrap_or(&self.plan.fields.location_name)
            .to_string()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncounterSyncRow {
    local_id: String,
    remote: Option<RemoteEncounter>,
    status: RowStatus,
    /// The photographer's user when this encounter's sync created it ("Create on sync"). A
    /// Reset forgets it with the row; the server then answers the same user again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_user: Option<CreatedUserRecord>,
}

impl EncounterSyncRow {
    /// The engine's record of this row, keyed by its encounter (the images are the caller's
    /// to add, from `imageSync`).
    fn into_record(self) -> (String, EncounterRecord) {
        let record = EncounterRecord {
            remote: self.remote,
            status: self.status.split().0,
            images: Default::default(),
            created_user: self.created_user,
        };
        (self.local_id, record)
    }
}

/// An encounter's stored status: [`EncounterStatus`] as stored (same tags), plus `conflict`
/// from older data (spec decision 9), which the engine queues like pending.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum RowStatus {
    Pending,
    Synced,
    Partial,
    Failed {
        failure: Option<finsync_core::engine::Failure>,
    },
    Conflict,
}

impl From<EncounterStatus> for RowStatus {
    fn from(s: EncounterStatus) -> Self {
        match s {
            EncounterStatus::Pending => RowStatus::Pending,
            EncounterStatus::Synced => RowStatus::Synced,
            EncounterStatus::Partial => RowStatus::Partial,
            EncounterStatus::Failed { failure } => RowStatus::Failed { failure },
        }
    }
}

impl RowStatus {
    /// What the engine works with (`Conflict` → `Pending`) and whether it was a conflict.
    fn split(&self) -> (EncounterStatus, bool) {
        let s = match self {
            RowStatus::Pending => EncounterStatus::Pending,
            RowStatus::Synced => EncounterStatus::Synced,
            RowStatus::Partial => EncounterStatus::Partial,
            RowStatus::Failed { failure } => EncounterStatus::Failed {
                failure: failure.clone(),
            },
            RowStatus::Conflict => return (EncounterStatus::Pending, true),
        };
        (s, false)
    }
}

/// What a population card shows (`populationCounts`, v5). Signed so that a delta can never
/// wrap; [`Store::population_counts`] never returns a negative count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationCounts {
    pub population_id: i64,
    pub encounters_pending: i64,
    pub encounters_synced: i64,
    pub images_pending: i64,
    pub images_synced: i64,
}

impl PopulationCounts {
    fn add(&mut self, d: [i64; 4]) {
        self.encounters_pending += d[0];
        self.encounters_synced += d[1];
        self.images_pending += d[2];
        self.images_synced += d[3];
    }
}

/// One planned encounter in brief (`encounterSummary`, v5): its images counted by status,
/// over the images of its current plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterSummary {
    pub local_id: String,
    pub population_id: i64,
    /// [`StoredEncounter::label`].
    pub label: String,
    /// [`StoredEncounter::folder`].
    pub folder: String,
    /// Images in the plan.
    pub images: u32,
    pub complete: u32,
    pub failed: u32,
    pub skipped: u32,
    pub status: EncounterStatus,
    /// Marked `Conflict` by an older engine (spec §5): the next Sync reuses the server's
    /// encounter. Cleared by the first status the engine persists.
    #[serde(default)]
    pub conflict: bool,
    #[serde(default)]
    pub remote: Option<RemoteEncounter>,
}

impl EncounterSummary {
    /// Synced: every image of the current plan is complete, or the engine said Synced and no
    /// image was added to the plan since.
    pub fn is_synced(&self) -> bool {
        !self.conflict
            && self.images > 0
            && (self.complete >= self.images
                || (self.status == EncounterStatus::Synced && self.left() == 0))
    }

    /// Images a sync would still work on (neither complete nor skipped).
    pub fn left(&self) -> u32 {
        self.images
            .saturating_sub(self.complete)
            .saturating_sub(self.skipped)
    }

    /// What it adds to [`PopulationCounts`]: encounters pending/synced, images pending/synced.
    fn contribution(&self) -> [i64; 4] {
        let synced = self.is_synced();
        let complete = i64::from(self.complete.min(self.images));
        [
            i64::from(!synced),
            i64::from(synced),
            i64::from(self.images) - complete,
            complete,
        ]
    }

    fn count(&mut self, status: &ImageStatus, by: i64) {
        let slot = match status {
            ImageStatus::Complete { .. } => &mut self.complete,
            ImageStatus::Failed { .. } => &mut self.failed,
            ImageStatus::Skipped { .. } => &mut self.skipped,
            _ => return,
        };
        *slot = (i64::from(*slot) + by).max(0) as u32;
    }

    /// The summary of `e` from its stored rows (only images of its plan count).
    fn of(
        e: &StoredEncounter,
        row: Option<&EncounterSyncRow>,
        images: &HashMap<&str, &ImageStatus>,
    ) -> EncounterSummary {
        let (status, conflict) = row.map(|r| r.status.split()).unwrap_or_default();
        let mut s = EncounterSummary {
            local_id: e.local_id.clone(),
            population_id: e.population_id,
            label: e.label(),
            folder: e.folder(),
            images: e.plan.images.len() as u32,
            status,
            conflict,
            remote: row.and_then(|r| r.remote.clone()),
            ..EncounterSummary::default()
        };
        for i in &e.plan.images {
            if let Some(st) = images.get(i.local_id.as_str()) {
                s.count(st, 1);
            }
        }
        s
    }
}

/// Adds `after − before` per population.
fn add_delta(
    deltas: &mut HashMap<i64, [i64; 4]>,
    before: Option<&EncounterSummary>,
    after: Option<&EncounterSummary>,
) {
    for (s, sign) in [(before, -1), (after, 1)] {
        if let Some(s) = s {
            let d = deltas.entry(s.population_id).or_default();
            for (x, c) in d.iter_mut().zip(s.contribution()) {
                *x += sign * c;
            }
        }
    }
}

/// Applies per-population deltas to `populationCounts` in the caller's transaction: every
/// counts row is read at once, and written without waiting for the answer (a failed write
/// aborts the transaction, which its commit — or, in an upgrade, the open — reports).
async fn apply_deltas(
    counts: &ObjectStore<'_>,
    deltas: HashMap<i64, [i64; 4]>,
) -> Result<(), IdbError> {
    let mut reads = Vec::new();
    for (population_id, d) in deltas {
        if d != [0; 4] {
            reads.push((population_id, d, counts.get(population_id).serde()?));
        }
    }
    for (population_id, d, read) in reads {
        let row: Option<PopulationCounts> = read.await?;
        let mut row = row.unwrap_or(PopulationCounts {
            population_id,
            ..PopulationCounts::default()
        });
        row.add(d);
        drop(counts.put(row).serde()?);
    }
    Ok(())
}

/// The `imageSync` rows of one encounter: keys `[id] ..= [id, []]` (an array sorts after every
/// string).
async fn image_rows(img_sync: &ObjectStore<'_>, id: &str) -> Result<Vec<ImageSyncRow>, IdbError> {
    let lower = js_sys::Array::of1(&JsValue::from_str(id));
    let upper = js_sys::Array::of2(&JsValue::from_str(id), &js_sys::Array::new());
    let range: KeyRange<JsValue> = KeyRange::Bound(lower.into(), false, upper.into(), false);
    img_sync
        .get_all::<JsValue>()
        .with_query::<JsValue, _>(range)
        .primitive()?
        .await?
        .map(|v| v.and_then(ImageSyncRow::deserialise_from_js))
        .collect()
}

/// Recomputes both aggregate stores from the records, in the caller's transaction (which must
/// cover `encounters`, `encounterSync`, `imageSync`, `encounterSummary`, `populationCounts`).
/// The rows of a `get_all` that decode; the others are counted in one console warning.
fn readable<T, E: std::fmt::Display>(rows: impl Iterator<Item = Result<T, E>>) -> Vec<T> {
    let mut skipped = 0usize;
    let mut first = None;
    let out = rows
        .filter_map(|r| {
            r.map_err(|e| {
                skipped += 1;
                first.get_or_insert_with(|| e.to_string());
            })
            .ok()
        })
        .collect();
    if let Some(e) = first {
        web_sys::console::warn_1(
            &format!("finsync: {skipped} stored sync records could not be read and are left out of the counts ({e})").into(),
        );
    }
    out
}

async fn rebuild(
    encounters: &ObjectStore<'_>,
    enc_sync: &ObjectStore<'_>,
    img_sync: &ObjectStore<'_>,
    summaries: &ObjectStore<'_>,
    counts: &ObjectStore<'_>,
) -> Result<(), IdbError> {
    // A row this build cannot read is left out of the counts rather than failing the whole
    // rebuild: the rebuild runs inside the v5 upgrade, and a failed upgrade would keep the
    // database from opening at all (everything stored would be out of reach).
    let plans = readable(encounters.get_all::<StoredEncounter>().serde()?.await?);
    let rows = readable(enc_sync.get_all::<EncounterSyncRow>().serde()?.await?);
    let images = readable(img_sync.get_all::<ImageSyncRow>().serde()?.await?);
    let rows: HashMap<&str, &EncounterSyncRow> =
        rows.iter().map(|r| (r.local_id.as_str(), r)).collect();
    let mut by_encounter: HashMap<&str, HashMap<&str, &ImageStatus>> = HashMap::new();
    for r in &images {
        by_encounter
            .entry(r.encounter.as_str())
            .or_default()
            .insert(r.image.as_str(), &r.status);
    }
    summaries.clear()?.await?;
    counts.clear()?.await?;
    let none = HashMap::new();
    let mut deltas = HashMap::new();
    for e in &plans {
        let s = EncounterSummary::of(
            e,
            rows.get(e.local_id.as_str()).copied(),
            by_encounter.get(e.local_id.as_str()).unwrap_or(&none),
        );
        add_delta(&mut deltas, None, Some(&s));
        summaries.put(s).serde()?.await?;
    }
    apply_deltas(counts, deltas).await
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

/// What happened to the database connection while this tab uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbEvent {
    /// Opening waits: another tab still has an older version of the database open.
    Blocked,
    /// Another tab (a newer finsync) upgrades the database: this connection was closed so the
    /// upgrade can go ahead, and this tab must be reloaded.
    ClosedForUpgrade,
    /// The database is being deleted (Settings' "Forget", here or in another tab): this
    /// connection was closed so the deletion can go ahead.
    ClosedForDeletion,
}

impl DbEvent {
    /// What to tell the person.
    pub fn message(self) -> &'static str {
        match self {
            DbEvent::Blocked => "finsync is waiting to update its browser database: another finsync tab still has the old version open. Close the other finsync tabs (or reload them); this tab then goes on by itself.",
            DbEvent::ClosedForUpgrade => "finsync was updated in another tab and this tab's database connection was closed for the update: reload this page to go on.",
            DbEvent::ClosedForDeletion => "This browser's finsync data was cleared (here or in another tab): reload this page to start afresh.",
        }
    }
}

impl Store {
    /// Opens `name` (the app uses [`DB_NAME`]; tests use their own), upgrading the schema.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        Store::open_with(name, |_| {}).await
    }

    /// [`Store::open`], telling `notify` when the open waits for another tab to close the
    /// database ([`DbEvent::Blocked`]) and when this connection is closed later because
    /// another tab upgrades the database ([`DbEvent::ClosedForUpgrade`]) — rather than
    /// blocking that tab's upgrade for as long as this one stays open.
    pub async fn open_with(
        name: &str,
        notify: impl Fn(DbEvent) + 'static,
    ) -> Result<Store, StoreError> {
        use indexed_db_futures::internals::SystemRepr;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let notify = std::rc::Rc::new(notify);
        let request = Database::open(name)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed_fut(|ev, db| async move {
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
                if old < 5.0 {
                    let summaries = db
                        .create_object_store(SUMMARIES)
                        .with_key_path(KeyPath::from("localId"))
                        .build()?;
                    let counts = db
                        .create_object_store(COUNTS)
                        .with_key_path(KeyPath::from("populationId"))
                        .build()?;
                    if old >= 2.0 {
                        // Existing records: build their aggregates in the upgrade's own
                        // transaction, so a v5 database never lacks them.
                        let tx = summaries.transaction();
                        let (enc, es, is) = (
                            tx.object_store(ENCOUNTERS)?,
                            tx.object_store(ENCOUNTER_SYNC)?,
                            tx.object_store(IMAGE_SYNC)?,
                        );
                        rebuild(&enc, &es, &is, &summaries, &counts).await?;
                    }
                }
                if old < 6.0 {
                    db.create_object_store(CONNECTIONS)
                        .with_key_path(KeyPath::from("id"))
                        .build()?;
                }
                if old < 7.0 {
                    // Provisioned keys per population. A v6 `settings.apiKey` stays where it
                    // is, as the pasted key: nothing to move.
                    db.create_object_store(API_KEYS)
                        .with_key_path(KeyPath::from("populationId"))
                        .build()?;
                }
                Ok(())
            })
            .build()?;
        // Listened to beside the crate's handlers (its own `onblocked` option upsets its
        // future when combined with an async upgrade).
        let on_blocked = notify.clone();
        let blocked =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_blocked(DbEvent::Blocked));
        let _ = request
            .as_sys()
            .add_event_listener_with_callback("blocked", blocked.as_ref().unchecked_ref());
        let db = request.await;
        drop(blocked);
        let db = db?;
        {
            let raw: web_sys::IdbDatabase = db.as_sys().clone().unchecked_into();
            let closing = raw.clone();
            let on_change = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
                move |e: web_sys::IdbVersionChangeEvent| {
                    closing.close();
                    notify(if e.new_version().is_some() {
                        DbEvent::ClosedForUpgrade
                    } else {
                        DbEvent::ClosedForDeletion
                    });
                },
            );
            raw.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
            // Lives as long as the connection (one per page).
            on_change.forget();
        }
        Ok(Store {
            db: std::rc::Rc::new(db),
        })
    }

    /// Gives provisioned keys and the session without a server origin (written by v7 before
    /// the origin was recorded) the origin `server` — the server URL at the time they are
    /// first loaded, which is the server they came from unless the URL was changed before
    /// this update.
    pub async fn adopt_unowned(&self, server: &str) -> Result<(), StoreError> {
        if server.is_empty() {
            return Ok(());
        }
        for mut k in self.all_api_keys().await? {
            if k.server.is_empty() {
                k.server = server.to_string();
                self.save_api_key(&k).await?;
            }
        }
        if let Some(mut s) = self.session().await? {
            if s.server.is_empty() {
                s.server = server.to_string();
                self.save_session(&s).await?;
            }
        }
        Ok(())
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

    /// The sign-in session, if one was saved (expired or not: the caller checks).
    pub async fn session(&self) -> Result<Option<StoredSession>, StoreError> {
        let tx = self.db.transaction(SETTINGS).build()?;
        Ok(tx.object_store(SETTINGS)?.get(SESSION_KEY).serde()?.await?)
    }

    pub async fn save_session(&self, session: &StoredSession) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(SETTINGS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(SETTINGS)?
            .put(session.clone())
            .with_key(SESSION_KEY.to_string())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_session(&self) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(SETTINGS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(SETTINGS)?
            .delete(SESSION_KEY.to_string())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The provisioned keys of the server with origin `server` ([`server_origin`]), by
    /// population id. Keys of other servers stay stored but are not returned, so they are
    /// never sent to this one.
    pub async fn api_keys(&self, server: &str) -> Result<Vec<StoredKey>, StoreError> {
        let mut keys = self.all_api_keys().await?;
        keys.retain(|k| k.server == server);
        Ok(keys)
    }

    /// Every provisioned key of every server, by population id.
    async fn all_api_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let tx = self.db.transaction(API_KEYS).build()?;
        let rows = tx
            .object_store(API_KEYS)?
            .get_all::<StoredKey>()
            .serde()?
            .await?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Saves a provisioned key, replacing the population's previous one.
    pub async fn save_api_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(API_KEYS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(API_KEYS)?.put(key.clone()).serde()?.await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the provisioned key of a population of the server with origin `server` (a key
    /// of another server's population with the same id stays).
    pub async fn delete_api_key(&self, server: &str, population_id: i64) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(API_KEYS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(API_KEYS)?;
        // A number key, as the key path stores it (an i64 would go as a BigInt).
        let id = JsValue::from_f64(population_id as f64);
        let row: Option<StoredKey> = store.get(population_id).serde()?.await?;
        if row.is_some_and(|k| k.server == server) {
            store.delete(id).primitive()?.await?;
        }
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

    /// Every saved storage connection, in the order they were added.
    pub async fn connections(&self) -> Result<Vec<StorageConnection>, StoreError> {
        let tx = self.db.transaction(CONNECTIONS).build()?;
        let rows = tx
            .object_store(CONNECTIONS)?
            .get_all::<StorageConnection>()
            .serde()?
            .await?;
        let mut all = rows.collect::<Result<Vec<_>, _>>()?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(all)
    }

    /// One saved storage connection.
    pub async fn connection(&self, id: &str) -> Result<Option<StorageConnection>, StoreError> {
        let tx = self.db.transaction(CONNECTIONS).build()?;
        Ok(tx
            .object_store(CONNECTIONS)?
            .get(id.to_string())
            .serde()?
            .await?)
    }

    /// Adds or replaces a storage connection (by id).
    pub async fn save_connection(&self, c: &StorageConnection) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(CONNECTIONS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(CONNECTIONS)?
            .put(c.clone())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a storage connection and its credentials.
    pub async fn delete_connection(&self, id: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(CONNECTIONS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        tx.object_store(CONNECTIONS)?.delete(id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every planned encounter.
    pub async fn encounters(&self) -> Result<Vec<StoredEncounter>, StoreError> {
        let tx = self.db.transaction(ENCOUNTERS).build()?;
        let store = tx.object_store(ENCOUNTERS)?;
        let rows = store.get_all::<StoredEncounter>().serde()?.await?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Saves (replaces) planned encounters in one transaction, with their summaries and their
    /// population's counts (recounted from the stored image statuses of the new plan).
    pub async fn put_encounters(&self, encounters: &[StoredEncounter]) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction([ENCOUNTERS, ENCOUNTER_SYNC, IMAGE_SYNC, SUMMARIES, COUNTS])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(ENCOUNTERS)?;
        let enc_sync = tx.object_store(ENCOUNTER_SYNC)?;
        let img_sync = tx.object_store(IMAGE_SYNC)?;
        let summaries = tx.object_store(SUMMARIES)?;
        let mut deltas = HashMap::new();
        for e in encounters {
            store.put(e.clone()).serde()?.await?;
            let row: Option<EncounterSyncRow> = enc_sync.get(e.local_id.clone()).serde()?.await?;
            let images = image_rows(&img_sync, &e.local_id).await?;
            let images: HashMap<&str, &ImageStatus> = images
                .iter()
                .map(|r| (r.image.as_str(), &r.status))
                .collect();
            let before: Option<EncounterSummary> =
                summaries.get(e.local_id.clone()).serde()?.await?;
            let after = EncounterSummary::of(e, row.as_ref(), &images);
            add_delta(&mut deltas, before.as_ref(), Some(&after));
            summaries.put(after).serde()?.await?;
        }
        apply_deltas(&tx.object_store(COUNTS)?, deltas).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One planned encounter, if stored.
    pub async fn encounter(&self, local_id: &str) -> Result<Option<StoredEncounter>, StoreError> {
        let tx = self.db.transaction(ENCOUNTERS).build()?;
        Ok(tx
            .object_store(ENCOUNTERS)?
            .get(local_id.to_string())
            .serde()?
            .await?)
    }

    /// Every encounter's summary (a few hundred bytes each, however many images).
    pub async fn summaries(&self) -> Result<Vec<EncounterSummary>, StoreError> {
        let tx = self.db.transaction(SUMMARIES).build()?;
        let rows = tx
            .object_store(SUMMARIES)?
            .get_all::<EncounterSummary>()
            .serde()?
            .await?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The counts of every population with planned encounters.
    pub async fn population_counts(&self) -> Result<Vec<PopulationCounts>, StoreError> {
        let tx = self.db.transaction(COUNTS).build()?;
        let rows = tx
            .object_store(COUNTS)?
            .get_all::<PopulationCounts>()
            .serde()?
            .await?;
        Ok(rows
            .map(|r| {
                r.map(|mut c| {
                    for x in [
                        &mut c.encounters_pending,
                        &mut c.encounters_synced,
                        &mut c.images_pending,
                        &mut c.images_synced,
                    ] {
                        *x = (*x).max(0);
                    }
                    c
                })
            })
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Recomputes the aggregates from the records in one transaction (what the v5 upgrade
    /// does; tests compare it with the incrementally kept ones).
    pub async fn rebuild_aggregates(&self) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction([ENCOUNTERS, ENCOUNTER_SYNC, IMAGE_SYNC, SUMMARIES, COUNTS])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        rebuild(
            &tx.object_store(ENCOUNTERS)?,
            &tx.object_store(ENCOUNTER_SYNC)?,
            &tx.object_store(IMAGE_SYNC)?,
            &tx.object_store(SUMMARIES)?,
            &tx.object_store(COUNTS)?,
        )
        .await?;
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
            let (id, record) = row?.into_record();
            state.encounters.insert(id, record);
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

    /// What a run over the encounters `ids` starts from ([`finsync_core::engine::Plan::with_store`]):
    /// their image statuses, and every encounter's row (one per encounter; the users created
    /// on sync, which any encounter of the plan may reuse, are kept in them). The image rows
    /// of the rest of the library are not read: [`Store::sync_state`] reads them all, a cost
    /// that grew with the library and came before every sync's first request.
    pub async fn sync_state_for(&self, ids: &[String]) -> Result<SyncStore, StoreError> {
        let tx = self.db.transaction([ENCOUNTER_SYNC, IMAGE_SYNC]).build()?;
        let encounters = tx
            .object_store(ENCOUNTER_SYNC)?
            .get_all::<EncounterSyncRow>()
            .serde()?;
        let img_sync = tx.object_store(IMAGE_SYNC)?;
        // All the ranges are asked for at once.
        let images =
            futures::future::try_join_all(ids.iter().map(|id| image_rows(&img_sync, id))).await?;
        let mut state = SyncStore::default();
        for row in encounters.await? {
            let (id, record) = row?.into_record();
            state.encounters.insert(id, record);
        }
        for (id, rows) in ids.iter().zip(images) {
            let record = state.encounters.entry(id.clone()).or_default();
            for r in rows {
                record.images.insert(r.image, r.status);
            }
        }
        Ok(state)
    }

    /// The persisted sync state of the given encounters only (their rows, by key range).
    pub async fn sync_state_of(&self, ids: &[String]) -> Result<SyncStore, StoreError> {
        let tx = self.db.transaction([ENCOUNTER_SYNC, IMAGE_SYNC]).build()?;
        let enc_sync = tx.object_store(ENCOUNTER_SYNC)?;
        let img_sync = tx.object_store(IMAGE_SYNC)?;
        let mut state = SyncStore::default();
        for id in ids {
            let row: Option<EncounterSyncRow> = enc_sync.get(id.clone()).serde()?.await?;
            let images = image_rows(&img_sync, id).await?;
            let record = state
                .encounters
                .entry(id.clone())
                .or_insert_with(|| row.map(|r| r.into_record().1).unwrap_or_default());
            for r in images {
                record.images.insert(r.image, r.status);
            }
        }
        Ok(state)
    }

    /// Reset (spec §5): every encounter and image back to pending, forgetting the remote
    /// encounters, so the next Sync re-checks everything with the server (which answers
    /// Complete for what it has). Deletes nothing on the server; staged blocks are kept.
    /// Returns how many encounters were reset.
    pub async fn reset_all(&self) -> Result<usize, StoreError> {
        self.reset(None).await
    }

    /// Reset of one population's encounters (`Some`) or of all (`None`): their sync rows
    /// are dropped, so the engine sees them as pending, and the aggregates follow. Returns
    /// how many encounters were reset.
    pub async fn reset(&self, population: Option<i64>) -> Result<usize, StoreError> {
        let tx = self
            .db
            .transaction([ENCOUNTER_SYNC, IMAGE_SYNC, SUMMARIES, COUNTS])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let summaries = tx.object_store(SUMMARIES)?;
        let all: Vec<EncounterSummary> = summaries
            .get_all::<EncounterSummary>()
            .serde()?
            .await?
            .collect::<Result<Vec<_>, _>>()?;
        let enc_sync = tx.object_store(ENCOUNTER_SYNC)?;
        let img_sync = tx.object_store(IMAGE_SYNC)?;
        // No row means pending to the engine ([`SyncStore::image`]).
        let chosen: Vec<&EncounterSummary> = match population {
            None => {
                enc_sync.clear()?.await?;
                img_sync.clear()?.await?;
                all.iter().collect()
            }
            Some(p) => {
                let chosen: Vec<&EncounterSummary> =
                    all.iter().filter(|s| s.population_id == p).collect();
                for s in &chosen {
                    enc_sync.delete(s.local_id.clone()).await?;
                    for row in image_rows(&img_sync, &s.local_id).await? {
                        let key = js_sys::Array::of2(
                            &JsValue::from_str(&row.encounter),
                            &JsValue::from_str(&row.image),
                        );
                        img_sync.delete(JsValue::from(key)).primitive()?.await?;
                    }
                }
                chosen
            }
        };
        let mut deltas = HashMap::new();
        for before in &chosen {
            let after = EncounterSummary {
                complete: 0,
                failed: 0,
                skipped: 0,
                status: EncounterStatus::Pending,
                conflict: false,
                remote: None,
                ..(*before).clone()
            };
            add_delta(&mut deltas, Some(before), Some(&after));
            summaries.put(after).serde()?.await?;
        }
        apply_deltas(&tx.object_store(COUNTS)?, deltas).await?;
        tx.commit().await?;
        Ok(chosen.len())
    }

    /// Makes the engine's write-ahead changes durable: all of them in one transaction, which
    /// has committed when this returns `Ok`, together with the summaries and counts they change.
    pub async fn persist(&self, changes: &[Persist]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self
            .db
            .transaction([ENCOUNTER_SYNC, IMAGE_SYNC, SUMMARIES, COUNTS])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let enc_store = tx.object_store(ENCOUNTER_SYNC)?;
        let img_store = tx.object_store(IMAGE_SYNC)?;
        let sum_store = tx.object_store(SUMMARIES)?;
        // Every read the batch needs is sent before the first answer is awaited, and every
        // write without waiting for its answer: IndexedDB runs a transaction's requests in the
        // order they were made, so the outcome is that of one request after the other, for a
        // few round trips instead of two per change. (A drain's transaction is on the way of
        // the next PUT: write-ahead.)
        let encounter_of = |change: &Persist| -> String {
            match change {
                Persist::ImageStatus { encounter, .. }
                | Persist::EncounterRemote { encounter, .. }
                | Persist::EncounterStatus { encounter, .. }
                | Persist::UserCreated { encounter, .. } => encounter.clone(),
            }
        };
        let mut summary_reads = Vec::new();
        let mut image_reads = Vec::new();
        let mut asked: HashSet<(String, String)> = HashSet::new();
        for change in changes {
            let encounter = encounter_of(change);
            if !summary_reads.iter().any(|(e, _)| *e == encounter) {
                let read = sum_store.get(encounter.clone()).serde()?;
                summary_reads.push((encounter, read));
            }
            if let Persist::ImageStatus {
                encounter, image, ..
            } = change
            {
                if asked.insert((encounter.clone(), image.clone())) {
                    let key = js_sys::Array::of2(
                        &JsValue::from_str(encounter),
                        &JsValue::from_str(image),
                    );
                    let read = img_store.get(JsValue::from(key)).primitive()?;
                    image_reads.push(((encounter.clone(), image.clone()), read));
                }
            }
        }
        // Summaries touched by this batch: (as read, as changed); `None` = not planned, so
        // not counted (the engine only reports planned encounters).
        let mut touched: HashMap<String, Option<(EncounterSummary, EncounterSummary)>> =
            HashMap::new();
        for (encounter, read) in summary_reads {
            let s: Option<EncounterSummary> = read.await?;
            touched.insert(encounter, s.map(|s| (s.clone(), s)));
        }
        // Each image's status as stored, then as this batch changes it.
        let mut statuses: HashMap<(String, String), Option<ImageStatus>> = HashMap::new();
        for (key, read) in image_reads {
            let old: Option<JsValue> = read.await?;
            let old = match old {
                Some(v) if !v.is_undefined() => Some(ImageSyncRow::deserialise_from_js(v)?.status),
                _ => None,
            };
            statuses.insert(key, old);
        }
        let mut writes = Vec::new();
        for change in changes {
            let encounter = encounter_of(change);
            let summary = touched
                .get_mut(&encounter)
                .and_then(|t| t.as_mut())
                .map(|(_, now)| now);
            match change {
                Persist::ImageStatus {
                    encounter,
                    image,
                    status,
                } => {
                    let stored = statuses
                        .entry((encounter.clone(), image.clone()))
                        .or_default();
                    if let Some(summary) = summary {
                        if let Some(old) = stored.as_ref() {
                            summary.count(old, -1);
                        }
                        summary.count(status, 1);
                    }
                    *stored = Some(status.clone());
                    writes.push(
                        img_store
                            .put(ImageSyncRow {
                                encounter: encounter.clone(),
                                image: image.clone(),
                                status: status.clone(),
                            })
                            .serde()?,
                    );
                }
                Persist::EncounterRemote { encounter, .. }
                | Persist::EncounterStatus { encounter, .. }
                | Persist::UserCreated { encounter, .. } => {
                    let current: Option<EncounterSyncRow> =
                        enc_store.get(encounter.clone()).serde()?.await?;
                    let mut row = current.unwrap_or(EncounterSyncRow {
                        local_id: encounter.clone(),
                        remote: None,
                        status: RowStatus::Pending,
                        created_user: None,
                    });
                    match change {
                        Persist::EncounterRemote { remote, .. } => {
                            row.remote = Some(remote.clone());
                            if let Some(s) = summary {
                                s.remote = Some(remote.clone());
                            }
                        }
                        Persist::EncounterStatus { status, .. } => {
                            row.status = status.clone().into();
                            if let Some(s) = summary {
                                s.status = status.clone();
                                s.conflict = false;
                            }
                        }
                        Persist::UserCreated { key, user_id, .. } => {
                            row.created_user = Some(CreatedUserRecord {
                                key: key.clone(),
                                user_id: *user_id,
                            })
                        }
                        Persist::ImageStatus { .. } => {}
                    }
                    writes.push(enc_store.put(row).serde()?);
                }
            }
        }
        let mut deltas = HashMap::new();
        for (before, after) in touched.into_values().flatten() {
            if before != after {
                add_delta(&mut deltas, Some(&before), Some(&after));
                writes.push(sum_store.put(after).serde()?);
            }
        }
        // The writes are not awaited one by one: a failed request aborts the transaction, and
        // the commit then reports it. So the batch takes three round trips (the reads, the
        // counts' read, the commit) instead of five; it is on the way of the next PUT.
        drop(writes);
        apply_deltas(&tx.object_store(COUNTS)?, deltas).await?;
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

    #[wasm_bindgen_test]
    async fn connections_are_saved_listed_and_deleted() {
        use finsync_core::cloud::ConnectionAuth;
        let store = fresh("finsync-test-connections").await;
        let mk = |id: &str, at: &str| StorageConnection {
            id: id.into(),
            name: format!("conn {id}"),
            account: "devstoreaccount1".into(),
            auth: ConnectionAuth::SasToken {
                blob_endpoint: "http://127.0.0.1:10000/devstoreaccount1".into(),
                token: "sv=2022-11-02&sp=rl&sig=x".into(),
            },
            created_at: at.into(),
        };
        store
            .save_connection(&mk("b", "2026-11-26T10:00:01Z"))
            .await
            .unwrap();
        store
            .save_connection(&mk("a", "2026-11-26T10:00:00Z"))
            .await
            .unwrap();
        let ids: Vec<String> = store
            .connections()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        // A reopened database still has them (committed, not rolled back).
        let again = Store::open("finsync-test-connections").await.unwrap();
        assert_eq!(
            again.connection("b").await.unwrap(),
            Some(mk("b", "2026-11-26T10:00:01Z"))
        );
        again.delete_connection("b").await.unwrap();
        assert_eq!(again.connection("b").await.unwrap(), None);
        assert_eq!(again.connections().await.unwrap().len(), 1);
    }

    /// Deletes the test database `name` (nothing when there is none).
    async fn delete_db(name: &str) {
        if let Ok(req) = Database::delete_by_name(name) {
            let _ = req.await;
        }
    }

    async fn fresh(name: &str) -> Store {
        delete_db(name).await;
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
            Persist::UserCreated {
                encounter: "e1".into(),
                key: "new:bo ek".into(),
                user_id: 12,
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
        let state = again.sync_state().await.unwrap();
        assert_eq!(state, expected);
        // The user created on sync comes back, for the next run's plan.
        assert_eq!(state.created_users().get("new:bo ek"), Some(&12));
        let some = again.sync_state_of(&["e1".into()]).await.unwrap();
        assert_eq!(some.created_users().get("new:bo ek"), Some(&12));
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
        let enc = |n: usize| planned("folder:Haro", 1, n);
        store.put_encounters(&[enc(2)]).await.unwrap();
        store.put_encounters(&[enc(3)]).await.unwrap();
        let all = store.encounters().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].plan.images.len(), 3);
    }

    fn planned(id: &str, population_id: i64, n: usize) -> StoredEncounter {
        StoredEncounter {
            local_id: id.into(),
            population_id,
            plan: PlanEncounter {
                local_id: id.into(),
                fields: FindOrCreateEncounter {
                    date: "2024-07-15".into(),
                    time: None,
                    location_name: "Haro".into(),
                    gps: None,
                    photographer: "Jane".into(),
                    notes: None,
                }
                .into(),
                create_photographer: None,
                remote: None,
                images: (0..n)
                    .map(|i| PlanImage {
                        local_id: format!("{i}.jpg"),
                        file_name: format!("{i}.jpg"),
                        size: 10,
                        content_type: "image/jpeg".into(),
                        idempotency_key: format!("k{i}"),
                        status: ImageStatus::Pending,
                        source: finsync_core::cloud::ImageSource::Local,
                    })
                    .collect(),
            },
            sources: (0..n)
                .map(|i| ImageSource {
                    relative_path: format!("{id}/{i}.jpg"),
                    last_modified: 0.0,
                })
                .collect(),
        }
    }

    fn image(encounter: &str, i: usize, status: ImageStatus) -> Persist {
        Persist::ImageStatus {
            encounter: encounter.into(),
            image: format!("{i}.jpg"),
            status,
        }
    }

    fn failed() -> ImageStatus {
        ImageStatus::Failed {
            failure: finsync_core::engine::Failure {
                step: finsync_core::engine::Step::Put,
                kind: finsync_core::engine::FailureKind::RetriesExhausted,
                http_status: Some(503),
                code: None,
                message: "Service Unavailable".into(),
                attempts: 3,
            },
        }
    }

    const DONE: ImageStatus = ImageStatus::Complete { file_item_id: None };

    /// The aggregates as stored, then as rebuilt from the records: they must be equal.
    async fn stored_and_rebuilt(
        store: &Store,
    ) -> (
        (Vec<EncounterSummary>, Vec<PopulationCounts>),
        (Vec<EncounterSummary>, Vec<PopulationCounts>),
    ) {
        let kept = (
            store.summaries().await.unwrap(),
            store.population_counts().await.unwrap(),
        );
        store.rebuild_aggregates().await.unwrap();
        let rebuilt = (
            store.summaries().await.unwrap(),
            store.population_counts().await.unwrap(),
        );
        (kept, rebuilt)
    }

    fn counts(store: &[PopulationCounts], population: i64) -> [i64; 4] {
        store
            .iter()
            .find(|c| c.population_id == population)
            .map(|c| {
                [
                    c.encounters_pending,
                    c.encounters_synced,
                    c.images_pending,
                    c.images_synced,
                ]
            })
            .unwrap_or_default()
    }

    #[wasm_bindgen_test]
    async fn aggregates_follow_every_write_in_its_transaction() {
        let store = fresh("finsync-test-aggregates").await;
        store
            .put_encounters(&[planned("a", 1, 3), planned("b", 1, 2), planned("c", 2, 1)])
            .await
            .unwrap();
        let c = store.population_counts().await.unwrap();
        assert_eq!(counts(&c, 1), [2, 0, 5, 0]);
        assert_eq!(counts(&c, 2), [1, 0, 1, 0]);

        // A sync: "a" partial (one failed), "b" synced, "c" untouched.
        store
            .persist(&[
                image("a", 0, ImageStatus::Uploading),
                image("a", 0, ImageStatus::Uploaded),
                image("a", 0, DONE),
                image("a", 1, DONE),
                image("a", 2, failed()),
                Persist::EncounterStatus {
                    encounter: "a".into(),
                    status: EncounterStatus::Partial,
                },
                image("b", 0, DONE),
            ])
            .await
            .unwrap();
        store
            .persist(&[
                image("b", 1, DONE),
                Persist::EncounterStatus {
                    encounter: "b".into(),
                    status: EncounterStatus::Synced,
                },
            ])
            .await
            .unwrap();
        let (kept, rebuilt) = stored_and_rebuilt(&store).await;
        assert_eq!(kept, rebuilt);
        assert_eq!(counts(&kept.1, 1), [1, 1, 1, 4]);
        let a = kept.0.iter().find(|s| s.local_id == "a").unwrap();
        assert_eq!((a.complete, a.failed, a.left()), (2, 1, 1));

        // Retry: the failed image completes.
        store
            .persist(&[
                image("a", 2, ImageStatus::Uploading),
                image("a", 2, DONE),
                Persist::EncounterStatus {
                    encounter: "a".into(),
                    status: EncounterStatus::Synced,
                },
            ])
            .await
            .unwrap();
        let (kept, rebuilt) = stored_and_rebuilt(&store).await;
        assert_eq!(kept, rebuilt);
        assert_eq!(counts(&kept.1, 1), [0, 2, 0, 5]);

        // The folder changed: "a" planned again with 4 images (the first 3 keep their status).
        store.put_encounters(&[planned("a", 1, 4)]).await.unwrap();
        let (kept, rebuilt) = stored_and_rebuilt(&store).await;
        assert_eq!(kept, rebuilt);
        assert_eq!(counts(&kept.1, 1), [1, 1, 1, 5]);

        // Reset: everything pending, in both populations.
        assert_eq!(store.reset_all().await.unwrap(), 3);
        let (kept, rebuilt) = stored_and_rebuilt(&store).await;
        assert_eq!(kept, rebuilt);
        assert_eq!(counts(&kept.1, 1), [2, 0, 6, 0]);
        assert_eq!(counts(&kept.1, 2), [1, 0, 1, 0]);
        assert_eq!(
            store.sync_state_of(&["a".into()]).await.unwrap(),
            SyncStore {
                encounters: [("a".to_string(), EncounterRecord::default())].into()
            }
        );
    }

    #[wasm_bindgen_test]
    async fn upgrade_from_v4_builds_aggregates_and_keeps_legacy_conflict() {
        use serde::Serialize;
        let name = "finsync-test-upgrade-v4";
        delete_db(name).await;
        // A v4 database as an older build left it (the stores the aggregates come from).
        let db = Database::open(name)
            .with_version(4u32)
            .with_on_upgrade_needed(|_, db| {
                db.create_object_store(SETTINGS).build()?;
                db.create_object_store(ENCOUNTERS)
                    .with_key_path(KeyPath::from("localId"))
                    .build()?;
                db.create_object_store(ENCOUNTER_SYNC)
                    .with_key_path(KeyPath::from("localId"))
                    .build()?;
                db.create_object_store(IMAGE_SYNC)
                    .with_key_path(KeyPath::from(["encounter", "image"]))
                    .build()?;
                Ok(())
            })
            .await
            .unwrap();
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Legacy {
            local_id: String,
            remote: Option<RemoteEncounter>,
            status: serde_json::Value,
        }
        let tx = db
            .transaction([ENCOUNTERS, ENCOUNTER_SYNC, IMAGE_SYNC])
            .with_mode(TransactionMode::Readwrite)
            .build()
            .unwrap();
        let encs = tx.object_store(ENCOUNTERS).unwrap();
        for e in [planned("x", 1, 3), planned("y", 1, 2)] {
            encs.put(e).serde().unwrap().await.unwrap();
        }
        tx.object_store(ENCOUNTER_SYNC)
            .unwrap()
            .put(Legacy {
                local_id: "y".into(),
                remote: None,
                status: serde_json::json!({ "status": "conflict" }),
            })
            .serde()
            .unwrap()
            .await
            .unwrap();
        let imgs = tx.object_store(IMAGE_SYNC).unwrap();
        for (e, i, st) in [
            ("x", 0, DONE),
            ("x", 1, DONE),
            ("x", 2, DONE),
            ("y", 0, DONE),
        ] {
            imgs.put(ImageSyncRow {
                encounter: e.into(),
                image: format!("{i}.jpg"),
                status: st,
            })
            .serde()
            .unwrap()
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        db.close();

        let store = Store::open(name).await.unwrap();
        let c = store.population_counts().await.unwrap();
        // x synced (all complete); y in conflict counts as pending.
        assert_eq!(counts(&c, 1), [1, 1, 1, 4]);
        let y = store
            .summaries()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.local_id == "y")
            .unwrap();
        assert!(y.conflict);
        // The engine sees the conflict as pending, and its first status clears it.
        let state = store.sync_state().await.unwrap();
        assert_eq!(state.encounters["y"].status, EncounterStatus::Pending);
        store
            .persist(&[
                image("y", 1, DONE),
                Persist::EncounterStatus {
                    encounter: "y".into(),
                    status: EncounterStatus::Synced,
                },
            ])
            .await
            .unwrap();
        let (kept, rebuilt) = stored_and_rebuilt(&store).await;
        assert_eq!(kept, rebuilt);
        assert_eq!(counts(&kept.1, 1), [0, 2, 0, 5]);
        assert!(!kept.0.iter().any(|s| s.conflict));
    }

    #[wasm_bindgen_test]
    async fn reset_of_one_population_leaves_the_others_synced() {
        let store = fresh("finsync-test-reset-population").await;
        store
            .put_encounters(&[planned("a", 1, 2), planned("c", 2, 1)])
            .await
            .unwrap();
        store
            .persist(&[
                image("a", 0, DONE),
                image("a", 1, DONE),
                image("c", 0, DONE),
                Persist::EncounterStatus {
                    encounter: "c".into(),
                    status: EncounterStatus::Synced,
                },
            ])
            .await
            .unwrap();
        assert_eq!(store.reset(Some(2)).await.unwrap(), 1);
        let (kept, rebuilt) = stored_and_rebuilt(&store).await;
        assert_eq!(kept, rebuilt);
        assert_eq!(counts(&kept.1, 1), [0, 1, 0, 2]);
        assert_eq!(counts(&kept.1, 2), [1, 0, 1, 0]);
        let state = store.sync_state().await.unwrap();
        assert!(!state.encounters.contains_key("c"));
        assert_eq!(state.encounters["a"].images.len(), 2);
    }

    #[wasm_bindgen_test]
    async fn a_runs_state_has_its_encounters_images_and_every_created_user() {
        let store = fresh("finsync-test-state-for").await;
        store
            .put_encounters(&[planned("a", 1, 2), planned("b", 1, 2), planned("c", 1, 1)])
            .await
            .unwrap();
        store
            .persist(&[
                image("a", 0, DONE),
                image("a", 1, ImageStatus::Uploaded),
                image("b", 0, DONE),
                Persist::UserCreated {
                    encounter: "b".into(),
                    key: "jane".into(),
                    user_id: 7,
                },
                image("c", 0, failed()),
            ])
            .await
            .unwrap();
        let ids = ["a".to_string(), "c".to_string()];
        let state = store.sync_state_for(&ids).await.unwrap();
        let all = store.sync_state().await.unwrap();
        for id in &ids {
            assert_eq!(state.encounters[id], all.encounters[id], "{id}");
        }
        assert_eq!(state.encounters["a"].images.len(), 2);
        // b's image rows are not read, its user is: a plan's encounter may reuse it.
        assert!(state.encounters["b"].images.is_empty());
        assert_eq!(state.created_users(), all.created_users());
        assert_eq!(state.created_users().get("jane"), Some(&7));
    }

    const SERVER_A: &str = "http://127.0.0.1:8080";
    const SERVER_B: &str = "http://127.0.0.1:9090";

    fn key(population_id: i64, api_key: &str) -> StoredKey {
        key_of(SERVER_A, population_id, api_key)
    }

    fn key_of(server: &str, population_id: i64, api_key: &str) -> StoredKey {
        StoredKey {
            server: server.into(),
            population_id,
            population_name: format!("Population {population_id}"),
            organisation: "Org".into(),
            api_key: api_key.into(),
            key_id: population_id * 10,
            created_at: "2026-11-26T20:00:00Z".into(),
        }
    }

    #[wasm_bindgen_test]
    async fn keys_per_population_and_the_session_survive_a_reopen() {
        let store = fresh("finsync-test-api-keys").await;
        assert!(store.api_keys(SERVER_A).await.unwrap().is_empty());
        assert_eq!(store.session().await.unwrap(), None);
        store.save_api_key(&key(1, "fsk_one")).await.unwrap();
        store.save_api_key(&key(2, "fsk_two")).await.unwrap();
        // A new key for population 1 replaces the old one.
        store.save_api_key(&key(1, "fsk_one_new")).await.unwrap();
        let session = StoredSession {
            server: SERVER_A.into(),
            token: "fss_secret".into(),
            expires_at: "2026-11-26T21:00:00Z".into(),
            expires_ms: 1_795_000_000_000,
            user: "Demo User".into(),
            populations: Vec::new(),
        };
        store.save_session(&session).await.unwrap();
        let settings = Settings {
            server_url: "http://s".into(),
            ..Settings::default()
        };
        store.save_settings(&settings).await.unwrap();
        drop(store);
        let again = Store::open("finsync-test-api-keys").await.unwrap();
        let mut keys = again.api_keys(SERVER_A).await.unwrap();
        keys.sort_by_key(|k| k.population_id);
        assert_eq!(keys, [key(1, "fsk_one_new"), key(2, "fsk_two")]);
        // The session is a record of its own: saving settings does not touch it.
        assert_eq!(again.session().await.unwrap(), Some(session));
        assert_eq!(again.settings().await.unwrap(), Some(settings));
        again.delete_api_key(SERVER_A, 1).await.unwrap();
        again.delete_session().await.unwrap();
        assert_eq!(again.api_keys(SERVER_A).await.unwrap(), [key(2, "fsk_two")]);
        assert_eq!(again.session().await.unwrap(), None);
        // Neither Debug shows a key or token.
        let shown = format!("{:?} {:?}", key(3, "fsk_hidden"), again.session().await);
        assert!(!shown.contains("fsk_hidden"), "{shown}");
    }

    #[wasm_bindgen_test]
    async fn upgrade_from_v6_keeps_the_single_pasted_key() {
        let name = "finsync-test-upgrade-v6";
        delete_db(name).await;
        // A v6 database as the previous build left it: every v6 store, one settings record
        // with the single (pasted or demo) key, and a saved connection.
        let db = Database::open(name)
            .with_version(6u32)
            .with_on_upgrade_needed(|_, db| {
                db.create_object_store(SETTINGS).build()?;
                for (store, key) in [
                    (ENCOUNTERS, "localId"),
                    (ENCOUNTER_SYNC, "localId"),
                    (SCAN_JOBS, "id"),
                    (MANIFESTS, "id"),
                    (SUMMARIES, "localId"),
                    (COUNTS, "populationId"),
                    (CONNECTIONS, "id"),
                ] {
                    db.create_object_store(store)
                        .with_key_path(KeyPath::from(key))
                        .build()?;
                }
                db.create_object_store(IMAGE_SYNC)
                    .with_key_path(KeyPath::from(["encounter", "image"]))
                    .build()?;
                db.create_object_store(BLOCKS).build()?;
                db.create_object_store(HANDLES).build()?;
                db.create_object_store(ACTIVITY)
                    .with_auto_increment(true)
                    .build()?;
                db.create_object_store(SCAN_FILES)
                    .with_key_path(KeyPath::from(["jobId", "relativePath"]))
                    .build()?;
                db.create_object_store(REVIEW_RECORDS)
                    .with_key_path(KeyPath::from(["manifestId", "localId"]))
                    .build()?;
                Ok(())
            })
            .await
            .unwrap();
        // Written as the v6 build wrote it: a plain object with camelCase fields.
        let v6 = serde_json::json!({
            "serverUrl": "http://127.0.0.1:8080",
            "apiKey": "fsk_v6_single",
            "concurrency": 3,
            "autoResume": false,
        });
        let tx = db
            .transaction(SETTINGS)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .unwrap();
        tx.object_store(SETTINGS)
            .unwrap()
            .put(v6)
            .with_key(SETTINGS_KEY.to_string())
            .serde()
            .unwrap()
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close();

        let store = Store::open(name).await.unwrap();
        assert_eq!(store.database().version() as u32, 7);
        // The single key is still the pasted key, unchanged; no provisioned key yet.
        let s = store.settings().await.unwrap().unwrap();
        assert_eq!(
            (
                s.api_key.as_str(),
                s.server_url.as_str(),
                s.concurrency,
                s.auto_resume
            ),
            ("fsk_v6_single", "http://127.0.0.1:8080", 3, false)
        );
        assert!(store.api_keys(SERVER_A).await.unwrap().is_empty());
        assert_eq!(store.session().await.unwrap(), None);
        // The new store works beside it.
        store.save_api_key(&key(2, "fsk_two")).await.unwrap();
        assert_eq!(store.api_keys(SERVER_A).await.unwrap(), [key(2, "fsk_two")]);
        assert_eq!(
            store.settings().await.unwrap().map(|s| s.api_key),
            Some("fsk_v6_single".into())
        );
    }

    #[wasm_bindgen_test]
    async fn keys_and_the_session_are_only_given_out_for_their_own_server() {
        let name = "finsync-test-key-origins";
        let store = fresh(name).await;
        // Written by v7 before origins were recorded: no server.
        store.save_api_key(&key_of("", 1, "fsk_old")).await.unwrap();
        let old_session = StoredSession {
            server: String::new(),
            token: "fss_old".into(),
            expires_at: "2026-11-26T21:00:00Z".into(),
            expires_ms: 1_795_000_000_000,
            user: "Demo User".into(),
            populations: Vec::new(),
        };
        store.save_session(&old_session).await.unwrap();
        assert!(store.api_keys(SERVER_A).await.unwrap().is_empty());
        // At load they are taken to be the current server's.
        store.adopt_unowned(SERVER_A).await.unwrap();
        store
            .save_api_key(&key_of(SERVER_A, 2, "fsk_a2"))
            .await
            .unwrap();
        store
            .save_api_key(&key_of(SERVER_B, 3, "fsk_b3"))
            .await
            .unwrap();
        drop(store);
        let again = Store::open(name).await.unwrap();
        // Adopting again (now with B as the server) changes nothing: they are A's.
        again.adopt_unowned(SERVER_B).await.unwrap();
        let mut a = again.api_keys(SERVER_A).await.unwrap();
        a.sort_by_key(|k| k.population_id);
        assert_eq!(
            a,
            [
                key_of(SERVER_A, 1, "fsk_old"),
                key_of(SERVER_A, 2, "fsk_a2")
            ]
        );
        assert_eq!(
            again.api_keys(SERVER_B).await.unwrap(),
            [key_of(SERVER_B, 3, "fsk_b3")]
        );
        assert_eq!(
            again.session().await.unwrap().map(|s| s.server),
            Some(SERVER_A.to_string())
        );
        // B cannot delete A's key of population 2; A can.
        again.delete_api_key(SERVER_B, 2).await.unwrap();
        assert_eq!(again.api_keys(SERVER_A).await.unwrap().len(), 2);
        again.delete_api_key(SERVER_A, 2).await.unwrap();
        assert_eq!(
            again.api_keys(SERVER_A).await.unwrap(),
            [key_of(SERVER_A, 1, "fsk_old")]
        );
    }

    #[wasm_bindgen_test]
    fn server_origins_are_normalised() {
        assert_eq!(
            server_origin(" HTTP://Example.org:80/api/ "),
            "http://example.org"
        );
        assert_eq!(
            server_origin("https://a.example:8443/x"),
            "https://a.example:8443"
        );
        assert_ne!(
            server_origin("http://127.0.0.1:8080"),
            server_origin("http://127.0.0.1:9090")
        );
        assert_eq!(server_origin("not a url/"), "not a url");
    }

    async fn wait_until(mut done: impl FnMut() -> bool) -> bool {
        for _ in 0..100 {
            if done() {
                return true;
            }
            crate::sync::timer::sleep(20).await;
        }
        done()
    }

    #[wasm_bindgen_test]
    async fn an_open_waits_for_an_older_connection_and_says_so() {
        use std::cell::RefCell;
        use std::rc::Rc;
        let name = "finsync-test-db-blocked";
        delete_db(name).await;
        // Another tab with version 1 open (and no versionchange handler).
        let old = Database::open(name)
            .with_version(1u32)
            .with_on_upgrade_needed(|_, db| {
                db.create_object_store(SETTINGS).build()?;
                db.create_object_store("files").build()?;
                Ok(())
            })
            .await
            .unwrap();
        let events = Rc::new(RefCell::new(Vec::new()));
        let seen = events.clone();
        let opening = Store::open_with(name, move |e| seen.borrow_mut().push(e));
        let (tx, rx) = futures::channel::oneshot::channel();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = tx.send(opening.await.map(|s| s.database().version() as u32));
        });
        assert!(
            wait_until(|| events.borrow().contains(&DbEvent::Blocked)).await,
            "no Blocked event: {:?}",
            events.borrow()
        );
        // The other tab closes: the upgrade goes on.
        old.close();
        assert_eq!(rx.await.unwrap().unwrap(), DB_VERSION);
    }

    #[wasm_bindgen_test]
    async fn a_newer_version_elsewhere_closes_this_connection_and_says_so() {
        use std::cell::RefCell;
        use std::rc::Rc;
        let name = "finsync-test-db-versionchange";
        delete_db(name).await;
        let events = Rc::new(RefCell::new(Vec::new()));
        let seen = events.clone();
        let store = Store::open_with(name, move |e| seen.borrow_mut().push(e))
            .await
            .unwrap();
        // A newer finsync in another tab: not blocked, because this connection closes.
        let blocked = Rc::new(RefCell::new(false));
        let b = blocked.clone();
        let newer = Database::open(name)
            .with_version(DB_VERSION + 1)
            .with_on_blocked(move |_| {
                *b.borrow_mut() = true;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(newer.version() as u32, DB_VERSION + 1);
        assert!(!*blocked.borrow());
        assert_eq!(*events.borrow(), [DbEvent::ClosedForUpgrade]);
        // This tab's store is closed: it errs instead of hanging.
        assert!(store.settings().await.is_err());
        newer.close();
    }
}
