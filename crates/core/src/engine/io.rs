//! The engine's inputs ([`Event`]) and outputs ([`Command`]).

use serde::{Deserialize, Serialize};

use crate::api::{
    ApiError, CommitResults, CommitSessions, CopyResults, CreateUploadSessions, CreateUser,
    CreatedUser, EncounterRef, FindOrCreateEncounterFull, UploadSessions,
};
use crate::cloud::BlobRef;

use super::state::{EncounterStatus, Failure, Persist, RemoteEncounter, SkipReason};

/// Identifies one request the engine asked for; the answer must carry it back. Unique within
/// one [`super::Engine`]; answers to unknown ids (e.g. after a Cancel) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Something that happened outside the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Begin the sync (the **Sync** / **Retry** button). Nothing is sent before it.
    Start,
    /// Answer to a [`Command::ApiRequest`].
    ApiResponse {
        request_id: RequestId,
        result: Result<ApiResponse, HttpFailure>,
    },
    /// Answer to a [`Command::PutBlob`].
    PutDone {
        request_id: RequestId,
        result: Result<(), PutFailure>,
    },
    /// The time from [`super::Engine::poll_timeout`] has come.
    TimerFired,
    /// The browser lost the network (`offline` event / `navigator.onLine == false`).
    WentOffline,
    WentOnline,
    /// The concurrency selector changed (clamped to 1..=4); applies to the running sync.
    ConcurrencyChanged(u8),
    /// Stop sending new requests; answers to those in flight are still handled.
    Pause,
    Resume,
    /// End the sync now: the engine emits [`Command::Finished`] and ignores later answers.
    /// The driver should abort requests in flight.
    Cancel,
}

/// A decoded 2xx answer of the sync API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiResponse {
    Encounter(EncounterRef),
    /// Answer to [`ApiRequest::CreateUser`].
    User(CreatedUser),
    Sessions(UploadSessions),
    Commit(CommitResults),
    /// Answer to [`ApiRequest::CopyBlobs`]: one result per key. The driver may answer some
    /// items itself (see [`CopyBlobRefs`]).
    Copy(CopyResults),
}

/// Why an HTTP request did not produce a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpFailure {
    /// No response at all (DNS, connection refused or reset, CORS, aborted by the network).
    Network { detail: String },
    /// The driver gave up after the command's `timeout_ms`.
    Timeout,
    /// A non-2xx answer.
    Status {
        status: u16,
        /// Body of an API error ([`crate::api::ApiError`]), when it parsed.
        error: Option<ApiError>,
        /// Azure Storage's `x-ms-error-code` header (e.g. `AuthenticationFailed`).
        azure_code: Option<String>,
        /// Any other human-readable text (e.g. Azure's XML `<Message>`).
        message: Option<String>,
        /// The answer's `Retry-After`, in ms from when the answer arrived (the driver turns
        /// seconds or an HTTP date into this with its own clock). A retry of a 429 or 5xx
        /// waits at least this long (see [`super::retry`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// A 2xx answer whose body could not be decoded.
    Malformed { detail: String },
}

impl HttpFailure {
    /// A bare status, for tests and simple drivers.
    pub fn status(status: u16) -> Self {
        HttpFailure::Status {
            status,
            error: None,
            azure_code: None,
            message: None,
            retry_after_ms: None,
        }
    }
}

/// Why a PUT did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PutFailure {
    Http(HttpFailure),
    /// The driver could not (or must not) send the file's bytes.
    Source {
        problem: SourceProblem,
        detail: String,
    },
}

/// What is wrong with a source file; `Missing` and `Changed` skip the image, `Unreadable`
/// fails it (the user can act: grant permission again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceProblem {
    /// Gone or renamed since the scan.
    Missing,
    /// Its size differs from the scan's (the driver must check before sending).
    Changed,
    /// Exists but cannot be read (permission withdrawn, I/O error).
    Unreadable,
}

/// A request to the sync API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiRequest {
    /// `POST /api/v1/users`: a photographer marked "Create on sync" (idempotent on the server).
    CreateUser(CreateUser),
    FindOrCreateEncounter(FindOrCreateEncounterFull),
    CreateUploadSessions(CreateUploadSessions),
    CommitSessions(CommitSessions),
    /// `POST /api/v1/upload-sessions/copy` for Azure-sourced images whose sessions exist.
    CopyBlobs(CopyBlobRefs),
}

/// Server-side copies of one batch, by reference: the command names each source blob, never a
/// URL with a SAS, so nothing secret is persisted, logged or kept in the engine. The driver
/// loads each [`BlobRef::connection_id`] from its saved connections and mints the read URL
/// when it sends the request ([`crate::cloud::StorageConnection::read_url`], with its own
/// clock), building one [`crate::api::CopyItem`] per item. An item whose connection is gone
/// or unusable is not sent: the driver answers it itself with a
/// [`crate::api::CopyStatus::Error`] result whose code is
/// [`crate::cloud::CONNECTION_MISSING`] or [`crate::cloud::CONNECTION_INVALID`] and whose
/// message names the connection (and the other items go to the server as usual).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyBlobRefs {
    pub items: Vec<CopyRef>,
}

/// One image to copy: its upload session's key and its source blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyRef {
    pub idempotency_key: String,
    pub source: BlobRef,
}

/// Something the driver must do. See the module docs of [`super`] for the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Send a request to the sync API; answer with [`Event::ApiResponse`]. Give up after
    /// `timeout_ms` with [`HttpFailure::Timeout`].
    ApiRequest {
        request_id: RequestId,
        request: ApiRequest,
        timeout_ms: u64,
    },
    /// PUT the image's bytes to the SAS `url` (`x-ms-blob-type: BlockBlob`, body = the whole
    /// file, which must be `size` bytes: otherwise answer `SourceProblem::Changed` without
    /// sending). Answer with [`Event::PutDone`]; give up after `timeout_ms`.
    PutBlob {
        request_id: RequestId,
        encounter: String,
        image: String,
        url: String,
        size: u64,
        content_type: String,
        timeout_ms: u64,
    },
    /// Make this change durable before acting on any later command (write-ahead).
    Persist(Persist),
    /// New progress for the UI (emitted when it changed).
    Progress(Progress),
    /// The sync is over; the engine emits nothing after it.
    Finished(Summary),
}

/// Coarse state of a run, for the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunState {
    /// Created, waiting for [`Event::Start`].
    Idle,
    Running,
    /// Paused by the user (takes precedence over `Offline`).
    Paused,
    /// Waiting for the network.
    Offline,
    Finished,
}

/// The encounter being synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentEncounter {
    pub index: usize,
    pub local_id: String,
    pub remote: Option<RemoteEncounter>,
}

/// A progress snapshot (spec §5: bar of encounters and images, current encounter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub state: RunState,
    /// Encounters finished in this run (including ones that needed nothing).
    pub encounters_done: usize,
    pub encounters_total: usize,
    /// Images in an end state (complete + failed + skipped).
    pub images_done: usize,
    pub images_complete: usize,
    pub images_failed: usize,
    pub images_skipped: usize,
    pub images_total: usize,
    /// Bytes that need no more sending in this run: images uploaded, complete, failed or
    /// skipped. Reaches `bytes_total` at the end.
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current: Option<CurrentEncounter>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "outcome",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Outcome {
    /// Every encounter of the plan was processed (some may have failed).
    Completed,
    /// [`Event::Cancel`].
    Cancelled,
    /// The API refused the key (401/403): nothing further can succeed. The current encounter
    /// is failed; later ones are untouched (still pending).
    Stopped { failure: Failure },
}

/// One image that did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFailure {
    pub image: String,
    pub failure: Failure,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSkip {
    pub image: String,
    pub reason: SkipReason,
}

/// Per-encounter result, for the Errors section (actionable = `failed`, skipped = `skipped`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterSummary {
    pub local_id: String,
    pub remote: Option<RemoteEncounter>,
    pub status: EncounterStatus,
    pub images_complete: usize,
    pub failed: Vec<ImageFailure>,
    pub skipped: Vec<ImageSkip>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub outcome: Outcome,
    pub progress: Progress,
    pub encounters: Vec<EncounterSummary>,
}
