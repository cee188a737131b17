//! What discovery keeps in IndexedDB (schema v4 stores `scanJobs`, `scanFiles`, `manifests`,
//! `reviewRecords`). JSON is camelCase; the key-path fields (`id`, `jobId` + `relativePath`,
//! `manifestId` + `localId`) are top-level properties of each row.

use finsync_core::cloud::ImageSource;
use finsync_core::grouping::ScannedImage;
use finsync_core::manifest::{EncounterRecord, ManifestHistory};
use finsync_core::metadata::ImageMeta;
use serde::{Deserialize, Serialize};

/// Where a scan job stands. A job left `Running` by a closed tab is shown as interrupted and
/// can be resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScanState {
    Running,
    Done,
    Cancelled,
    Failed,
}

impl ScanState {
    pub fn label(self) -> &'static str {
        match self {
            ScanState::Running => "Running",
            ScanState::Done => "Done",
            ScanState::Cancelled => "Cancelled",
            ScanState::Failed => "Failed",
        }
    }
}

/// How the folder was opened: a `FileSystemDirectoryHandle` (remembered in the `handles`
/// store under the folder's name) or an `<input webkitdirectory>` file list (chosen again on
/// the next visit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AccessKind {
    Handle,
    FileList,
}

/// Where a scan job's files come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ScanOrigin {
    /// A folder picked in this browser (every job stored before issue 8).
    #[default]
    Folder,
    /// A container of a saved storage connection, optionally only names under `prefix`.
    Azure {
        connection_id: String,
        /// The connection's name when the scan started (shown if it is deleted later).
        connection_name: String,
        container: String,
        prefix: String,
    },
}

impl ScanOrigin {
    /// What the scan list shows as the job's source.
    pub fn label(&self, folder: &str) -> String {
        match self {
            ScanOrigin::Folder => format!("folder {folder}"),
            ScanOrigin::Azure {
                connection_name,
                container,
                prefix,
                ..
            } if prefix.is_empty() => format!("Azure {connection_name} / {container}"),
            ScanOrigin::Azure {
                connection_name,
                container,
                prefix,
                ..
            } => format!("Azure {connection_name} / {container} / {prefix}*"),
        }
    }

    pub fn is_azure(&self) -> bool {
        matches!(self, ScanOrigin::Azure { .. })
    }
}

/// Counts of a scan, by outcome. Every file seen lands in exactly one of `images`,
/// `skipped_*` or `errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScanCounts {
    pub files_seen: u64,
    /// Images read (with or without metadata warnings).
    pub images: u64,
    /// Bytes of those images.
    pub image_bytes: u64,
    /// Hidden or system files (`.DS_Store`, `Thumbs.db`, `._x.jpg`, files in hidden folders).
    pub skipped_hidden: u64,
    /// Hidden or system folders skipped with everything in them (folder picker only).
    pub skipped_hidden_dirs: u64,
    pub skipped_raw: u64,
    /// Not an image by name (documents, spreadsheets, …).
    pub skipped_other: u64,
    /// Files with an image name that could not be used (empty, not an image, unreadable).
    pub errors: u64,
    /// Images whose metadata had problems (still usable).
    pub with_warnings: u64,
    /// Images with their fingerprint stored (see [`crate::discovery::fingerprints`]): those
    /// read whole by the scan, then the fingerprint phase's. `None`: a scan by an older build,
    /// which fingerprinted every image during the scan.
    pub fingerprinted: Option<u64>,
    /// Images the last fingerprint phase could not fingerprint (moved, deleted or changed since
    /// the scan).
    pub fingerprint_failed: u64,
}

impl ScanCounts {
    /// Usable images still without a fingerprint.
    pub fn fingerprints_left(&self) -> u64 {
        self.images
            .saturating_sub(self.fingerprinted.unwrap_or(self.images))
    }
}

/// What changed since the previous scan of the same folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScanDiff {
    pub previous_job_id: String,
    pub new: u64,
    pub changed: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// The first [`ScanDiff::EXAMPLES`] paths of each kind.
    pub new_paths: Vec<String>,
    pub changed_paths: Vec<String>,
    pub removed_paths: Vec<String>,
}

impl ScanDiff {
    pub const EXAMPLES: usize = 50;
}

/// One scan of one folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanJob {
    pub id: String,
    pub name: String,
    /// The picked folder's name (first segment of every relative path).
    pub folder: String,
    pub access: AccessKind,
    /// ISO-8601 UTC.
    pub started_at: String,
    pub ended_at: Option<String>,
    /// `Date.now()` at the start and end, for the rate.
    pub started_ms: f64,
    pub ended_ms: Option<f64>,
    pub state: ScanState,
    pub counts: ScanCounts,
    /// Set when an earlier scan of the same folder existed: same name and at least one file
    /// unchanged (a folder elsewhere with the same name is another folder).
    pub diff: Option<ScanDiff>,
    /// Why the scan failed, when it did.
    pub error: Option<String>,
    /// A folder (jobs stored before issue 8) or an Azure container. For a container,
    /// `folder` is the container's name and every path starts with it.
    #[serde(default)]
    pub origin: ScanOrigin,
    /// `Date.now()` when the fingerprint phase last ended with nothing left to try.
    #[serde(default)]
    pub fingerprints_ended_ms: Option<f64>,
}

impl ScanJob {
    /// A new job, Running from `now_ms`, of `folder` (a folder's name or a container's) reached
    /// through `access` from `origin`.
    pub fn start(
        name: String,
        folder: String,
        access: AccessKind,
        origin: ScanOrigin,
        now_ms: f64,
    ) -> ScanJob {
        ScanJob {
            id: new_id("scan"),
            name,
            folder,
            access,
            started_at: now_iso(),
            ended_at: None,
            started_ms: now_ms,
            ended_ms: None,
            state: ScanState::Running,
            counts: Default::default(),
            diff: None,
            error: None,
            origin,
            fingerprints_ended_ms: None,
        }
    }

    /// This job run again from `now_ms` (a resume is a new run: its rate counts from now).
    pub fn restarted(mut self, now_ms: f64) -> ScanJob {
        self.started_ms = now_ms;
        self.started_at = now_iso();
        self
    }

    /// Files per second over the scan (so far).
    pub fn rate(&self, now_ms: f64) -> f64 {
        let secs = (self.ended_ms.unwrap_or(now_ms) - self.started_ms) / 1000.0;
        if secs > 0.0 {
            self.counts.files_seen as f64 / secs
        } else {
            0.0
        }
    }
}

/// One file a scan read (images and image-named files that failed; skipped files are only
/// counted). Stored in `scanFiles` without its empty fields (nor those of its `meta`): a scan
/// writes one row per image, and IndexedDB's cost grows with the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanFile {
    pub job_id: String,
    /// `/`-separated, starting with the picked folder's name.
    pub relative_path: String,
    pub size: u64,
    pub last_modified: f64,
    pub content_type: String,
    /// `None` when no metadata could be read (see `error` / `warnings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ImageMeta>,
    /// [`finsync_core::fingerprint::Fingerprint::to_hex`]; `None` when the file could not be
    /// read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Metadata problems, each naming the part of the file (the image is still usable).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the file cannot be used (empty, not an image, unreadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the bytes are; rows stored before issue 8 are local files.
    #[serde(default)]
    pub source: ImageSource,
}

impl ScanFile {
    /// An image a manifest can use: read and really an image. Its fingerprint may still be to
    /// come (the fingerprint phase, or on demand before a sync: [`crate::discovery::fingerprints`]).
    pub fn usable(&self) -> bool {
        self.error.is_none()
    }

    pub fn scanned_image(&self) -> ScannedImage {
        ScannedImage {
            relative_path: self.relative_path.clone(),
            size: self.size,
            last_modified_ms: self.last_modified,
            meta: self.meta.clone(),
            source: self.source.clone(),
        }
    }
}

/// A manifest and every version of it, as stored in `manifests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredManifest {
    pub id: String,
    pub name: String,
    pub population_id: i64,
    pub population_name: String,
    /// The scan whose images the manifest groups now. A re-scan of the same folder moves the
    /// manifest to the new scan (its versions keep the id of the scan they were made on).
    pub scan_job_id: String,
    pub folder: String,
    pub created_at: String,
    pub history: ManifestHistory,
    /// The version whose records are in `reviewRecords`, if any.
    #[serde(default)]
    pub materialized_version: Option<u32>,
    /// The scan those records were made from (their fingerprints are its files').
    #[serde(default)]
    pub materialized_job_id: Option<String>,
    #[serde(default)]
    pub materialized_at: Option<String>,
}

/// One encounter record in `reviewRecords` (key `[manifestId, localId]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRow {
    pub manifest_id: String,
    /// The record's id below the manifest (the grouping draft's key).
    pub local_id: String,
    pub record: EncounterRecord,
}

impl ReviewRow {
    pub fn new(record: EncounterRecord) -> ReviewRow {
        let prefix = format!("{}/", record.manifest_id);
        let local_id = record
            .id
            .strip_prefix(&prefix)
            .unwrap_or(&record.id)
            .to_string();
        ReviewRow {
            manifest_id: record.manifest_id.clone(),
            local_id,
            record,
        }
    }
}

/// A new id: `prefix-<ms in base 36>-<random>`.
pub fn new_id(prefix: &str) -> String {
    let ms = js_sys::Date::now() as u64;
    let rnd = (js_sys::Math::random() * 1.0e9) as u64;
    format!("{prefix}-{}-{}", base36(ms), base36(rnd))
}

fn base36(mut n: u64) -> String {
    const D: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(D[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Now as ISO-8601 UTC.
pub fn now_iso() -> String {
    js_sys::Date::new_0()
        .to_iso_string()
        .as_string()
        .unwrap_or_default()
}
