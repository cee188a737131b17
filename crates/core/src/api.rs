//! Wire types of the finsync sync API (`/api/v1/...`), shared by the app and the reference
//! server. JSON is camelCase; timestamps are ISO-8601 UTC strings; errors are [`ApiError`].
//!
//! The routes are listed in `docs/api.md`; each request type names its route in its doc comment.

use serde::{Deserialize, Serialize};

/// Version of this API; the server reports it in [`StatusResponse::api_version`].
pub const API_VERSION: u32 = 1;

/// Largest number of items one upload-session or commit request may carry.
pub const MAX_BATCH: usize = 100;

/// Longest file name (in bytes) the server accepts for an upload session.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Largest single image the server accepts (5 GiB; Azure's single Put Blob limit).
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Error body of every non-2xx answer: a stable machine-readable `code` and a human `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// Status of the API key the client presented (the five statuses of the spec, §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyStatus {
    /// Provisioned and valid: sync possible.
    Ready,
    /// No key was presented.
    NotProvisioned,
    /// A key is being created.
    Provisioning,
    /// The key is unknown or revoked.
    Invalid,
    /// The key is valid but browser sync is off for its population.
    AccessDenied,
}

/// A population as the key sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationRef {
    pub id: i64,
    pub name: String,
    pub organisation: String,
}

/// `GET /api/v1/status` (key optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub server_version: String,
    pub api_version: u32,
    pub key_status: KeyStatus,
    pub population: Option<PopulationRef>,
}

/// GPS position in decimal degrees (WGS84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gps {
    pub lat: f64,
    pub lon: f64,
}

/// `POST /api/v1/encounters/find-or-create`: the dedup rule of spec decision 6 decides
/// whether an existing encounter is reused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindOrCreateEncounter {
    /// Calendar day of the encounter in its local time, `YYYY-MM-DD`.
    pub date: String,
    /// Optional local time of the first image, `HH:MM:SS`.
    #[serde(default)]
    pub time: Option<String>,
    pub location_name: String,
    #[serde(default)]
    pub gps: Option<Gps>,
    pub photographer: String,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Answer to [`FindOrCreateEncounter`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterRef {
    pub id: i64,
    /// `true` when this request created it, `false` when an existing one matched.
    pub created: bool,
    /// Stable server page for the encounter (absolute path on the API host).
    pub url: String,
}

/// One image of an upload-session batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadItem {
    /// See [`crate::fingerprint::idempotency_key`].
    pub idempotency_key: String,
    pub file_name: String,
    pub size: u64,
    pub content_type: String,
}

/// `POST /api/v1/upload-sessions`: create (or resume — sessions are upserts) one session per
/// image of an encounter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUploadSessions {
    pub encounter_id: i64,
    pub items: Vec<UploadItem>,
}

/// Lifecycle of an upload session on the server (spec §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionStatus {
    Pending,
    Uploading,
    Committed,
    Complete,
    Error,
}

/// One session of the answer to [`CreateUploadSessions`], in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSession {
    pub idempotency_key: String,
    pub session_id: i64,
    pub status: SessionStatus,
    /// SAS URL to PUT the bytes to (write-only, this blob only); absent when `Complete`.
    pub upload_url: Option<String>,
    /// When `upload_url` stops working (ISO-8601 UTC).
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSessions {
    pub sessions: Vec<UploadSession>,
}

/// `POST /api/v1/upload-sessions/commit`: verify uploaded blobs and record them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitSessions {
    pub idempotency_keys: Vec<String>,
}

/// Per-key result of a commit, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitResult {
    pub idempotency_key: String,
    pub status: SessionStatus,
    pub file_item_id: Option<i64>,
    /// Why this image was not committed (only with `status == Error`).
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitResults {
    pub results: Vec<CommitResult>,
}

/// `GET /demo-config.json`, served only by a server started with `--demo`: lets the app
/// pre-fill its settings on a developer machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoConfig {
    pub server_url: String,
    pub api_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_camel_case_and_rejects_unknown_fields() {
        let item = UploadItem {
            idempotency_key: "k".into(),
            file_name: "a.jpg".into(),
            size: 3,
            content_type: "image/jpeg".into(),
        };
        let json = serde_json::to_string(&item).unwrap();
        assert_eq!(
            json,
            r#"{"idempotencyKey":"k","fileName":"a.jpg","size":3,"contentType":"image/jpeg"}"#
        );
        let bad = r#"{"idempotencyKey":"k","fileName":"a","size":3,"contentType":"x","extra":1}"#;
        assert!(serde_json::from_str::<UploadItem>(bad).is_err());
    }

    #[test]
    fn key_status_uses_the_documented_names() {
        assert_eq!(
            serde_json::to_string(&KeyStatus::AccessDenied).unwrap(),
            "\"accessDenied\""
        );
        assert_eq!(
            serde_json::from_str::<KeyStatus>("\"notProvisioned\"").unwrap(),
            KeyStatus::NotProvisioned
        );
    }
}
