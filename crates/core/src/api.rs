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
    /// The demo user's sign-in email (servers before issue 4 omit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The demo user's password (development only; servers before issue 4 omit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Issue 4: sign-in, keys, users, populations, individuals, blob copy, jobs, audit, test mode.
//
// The request types above stay as they are so that code constructing them keeps compiling;
// where a request gained fields, a `…Full` superset type carries them (every new field is
// optional with a serde default), and the server accepts the old shape through it.
// ---------------------------------------------------------------------------------------------

/// Largest number of ids one `individuals/ensure` request may carry.
pub const MAX_ENSURE_IDS: usize = 500;

/// Largest number of known individuals or organisations on one encounter.
pub const MAX_ENCOUNTER_LINKS: usize = 100;

/// Longest individual identifier (in characters).
pub const MAX_IDENTIFIER_CHARS: usize = 64;

/// Licence of an encounter (spec §2.6); web names: Public (CC-NC), Public + Attribution,
/// Organisation only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum License {
    Public,
    PublicAttribution,
    PrivateOrganisation,
}

impl std::fmt::Display for License {
    /// The name the review page shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            License::Public => "Public",
            License::PublicAttribution => "Public + Attribution",
            License::PrivateOrganisation => "Private within Organization",
        })
    }
}

impl License {
    /// The JSON (and database) name.
    pub fn as_str(self) -> &'static str {
        match self {
            License::Public => "public",
            License::PublicAttribution => "publicAttribution",
            License::PrivateOrganisation => "privateOrganisation",
        }
    }

    pub fn parse(s: &str) -> Option<License> {
        match s {
            "public" => Some(License::Public),
            "publicAttribution" => Some(License::PublicAttribution),
            "privateOrganisation" => Some(License::PrivateOrganisation),
            _ => None,
        }
    }
}

/// `POST /api/v1/encounters/find-or-create`, full form: [`FindOrCreateEncounter`] plus the
/// licence, organisations and known individuals. Old clients send the subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindOrCreateEncounterFull {
    pub date: String,
    #[serde(default)]
    pub time: Option<String>,
    pub location_name: String,
    #[serde(default)]
    pub gps: Option<Gps>,
    pub photographer: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// Recorded when the encounter is created; a matched encounter keeps its own.
    #[serde(default)]
    pub license: Option<License>,
    /// Organisation ids the encounter belongs to (recorded on creation).
    #[serde(default)]
    pub organisations: Vec<i64>,
    /// Identifiers of the animals the contributor says were present; linked (get-or-create)
    /// as **attested** evidence, also to a matched encounter.
    #[serde(default)]
    pub known_individuals: Vec<String>,
    /// The server user the photographer is (a resolved photographer, or one created on
    /// sync with `POST /api/v1/users`); recorded on creation. Must be a member of the key's
    /// organisation. `photographer` stays the name the dedup rule compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photographer_user_id: Option<i64>,
}

impl From<FindOrCreateEncounter> for FindOrCreateEncounterFull {
    fn from(f: FindOrCreateEncounter) -> Self {
        FindOrCreateEncounterFull {
            date: f.date,
            time: f.time,
            location_name: f.location_name,
            gps: f.gps,
            photographer: f.photographer,
            notes: f.notes,
            license: None,
            organisations: Vec::new(),
            known_individuals: Vec::new(),
            photographer_user_id: None,
        }
    }
}

/// An individual as linked to an encounter or ensured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndividualLink {
    pub individual_id: i64,
    pub identifier: String,
    /// `true` when this request created the catalogue entry.
    pub created: bool,
    /// Evidence tier of the link; always `"attested"` for contributor claims.
    pub evidence_tier: String,
}

/// Answer to [`FindOrCreateEncounterFull`]: [`EncounterRef`]'s fields plus the linked
/// individuals (old clients ignore the extra field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterRefFull {
    pub id: i64,
    pub created: bool,
    pub url: String,
    #[serde(default)]
    pub individuals: Vec<IndividualLink>,
}

/// One image of an upload-session batch, full form: [`UploadItem`] plus an optional MD5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadItemFull {
    pub idempotency_key: String,
    pub file_name: String,
    pub size: u64,
    pub content_type: String,
    /// Base64 of the file's 16-byte MD5; when given, commit checks the blob against it.
    #[serde(default)]
    pub content_md5: Option<String>,
}

impl From<UploadItem> for UploadItemFull {
    fn from(i: UploadItem) -> Self {
        UploadItemFull {
            idempotency_key: i.idempotency_key,
            file_name: i.file_name,
            size: i.size,
            content_type: i.content_type,
            content_md5: None,
        }
    }
}

/// `POST /api/v1/upload-sessions`, full form (items may carry `contentMd5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUploadSessionsFull {
    pub encounter_id: i64,
    pub items: Vec<UploadItemFull>,
}

impl From<CreateUploadSessions> for CreateUploadSessionsFull {
    fn from(c: CreateUploadSessions) -> Self {
        CreateUploadSessionsFull {
            encounter_id: c.encounter_id,
            items: c.items.into_iter().map(Into::into).collect(),
        }
    }
}

/// Organisation roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrganisationRole {
    Member,
    Admin,
}

/// Population roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PopulationRole {
    Viewer,
    Expert,
    Professional,
    Admin,
}

/// `POST /api/v1/auth/sign-in`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A user as other users of the organisation see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// `true` for accounts created on sync without a real email (a placeholder was generated).
    pub placeholder_email: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationMembership {
    pub id: i64,
    pub name: String,
    pub role: OrganisationRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationMembership {
    pub id: i64,
    pub name: String,
    pub organisation_id: i64,
    pub organisation: String,
    /// `None` when access comes from being an admin of the owning organisation only.
    pub role: Option<PopulationRole>,
    pub sync_enabled: bool,
}

/// Answer to [`SignIn`] (and to `GET /api/v1/auth/me`, without a new token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The session token (`fss_…`); only in the sign-in answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub expires_at: String,
    pub user: UserRef,
    pub organisations: Vec<OrganisationMembership>,
    /// Populations the user may sync (a population role, or admin of the owning organisation).
    pub populations: Vec<PopulationMembership>,
}

/// `POST /api/v1/keys/provision` (session token): a new API key for this browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvisionKey {
    pub population_id: i64,
    /// Shown in key lists (e.g. "Firefox on field laptop"); default `"browser"`.
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedKey {
    /// The key itself; shown only in this answer.
    pub api_key: String,
    pub key_id: i64,
    pub population: PopulationRef,
    /// `ready`, or `accessDenied` when browser sync is off for the population.
    pub key_status: KeyStatus,
}

/// A key as listed to its owner or an organisation admin (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: i64,
    pub population_id: i64,
    pub label: String,
    pub user_id: Option<i64>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
}

/// `GET /api/v1/users?query=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<UserRef>,
}

/// `POST /api/v1/users`: create-on-sync of a photographer's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUser {
    pub user: UserRef,
    /// `false` when a user with this (or the same generated placeholder) email existed.
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationCounts {
    pub encounters: u64,
    pub images: u64,
    pub individuals: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationSummary {
    pub id: i64,
    pub name: String,
    pub organisation_id: i64,
    pub organisation: String,
    pub sync_enabled: bool,
    /// The caller's role (session callers only).
    pub role: Option<PopulationRole>,
    pub counts: PopulationCounts,
}

/// `GET /api/v1/populations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationList {
    pub populations: Vec<PopulationSummary>,
}

/// `POST /api/v1/individuals/ensure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnsureIndividuals {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EnsureStatus {
    Created,
    Existed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnsureResult {
    /// The identifier as sent (first spelling, when several normalise alike).
    pub id: String,
    pub status: EnsureStatus,
    pub individual_id: Option<i64>,
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnsureCounts {
    /// Distinct identifiers in the request.
    pub found: u64,
    pub existed: u64,
    pub created: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnsureIndividualsResult {
    pub results: Vec<EnsureResult>,
    pub counts: EnsureCounts,
}

/// One server-side copy: the source blob, readable through a short-lived read SAS URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyItem {
    pub idempotency_key: String,
    pub source_url: String,
}

impl std::fmt::Debug for CopyItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyItem")
            .field("idempotency_key", &self.idempotency_key)
            .field("source_url", &crate::sas::redact_sas(&self.source_url))
            .finish()
    }
}

/// `POST /api/v1/upload-sessions/copy`: the server copies each source into its session's
/// blob (blob-to-blob, no bytes through the browser); commit afterwards as for uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyBlobs {
    pub items: Vec<CopyItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CopyStatus {
    /// The bytes are in the session's blob; commit next.
    Copied,
    /// The key was already committed; nothing was copied.
    Complete,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyResult {
    pub idempotency_key: String,
    pub status: CopyStatus,
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyResults {
    pub results: Vec<CopyResult>,
}

/// A processing job queued after commit (the ML pipeline itself is outside finsync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: i64,
    pub encounter_id: i64,
    pub file_item_id: i64,
    /// `"mlPipeline"`.
    pub kind: String,
    /// `"queued"` (the reference server never runs them).
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /api/v1/jobs?encounterId=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    /// Who: `key:<id>`, `key:<id>/user:<id>`, `user:<id>`, `admin-cli`, `test-mode`.
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// `GET /api/v1/audit?limit=&before=`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; `None` at the end.
    pub next_before: Option<i64>,
}

/// `POST /api/v1/test/faults` (server started with `--test-mode` only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Paths to fault: exact, or a prefix ending in `*`. Empty turns faults off.
    pub routes: Vec<String>,
    /// Probability (0–1) that a matching request is faulted.
    pub rate: f64,
    /// Any of `"502"`, `"503"`, `"hang"`, `"reset"`, `"garbage"` (200, not JSON), `"html"` (502
    /// HTML page), `"413"`, `"429"` (with `Retry-After: 2`).
    pub kinds: Vec<String>,
    pub seed: u64,
    /// How long a `hang` holds the request before dropping the connection (default 30 000).
    #[serde(default)]
    pub hang_ms: Option<u64>,
}

/// `GET`/`POST /api/v1/test/faults` answer: the active configuration and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultState {
    pub config: Option<FaultConfig>,
    /// Requests that matched `routes`.
    pub matched: u64,
    /// Faults injected so far.
    pub injected: u64,
}

/// `POST /api/v1/test/key-status` (test mode): force the presented key into a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetKeyStatus {
    /// `ready`, `invalid` (revoked) or `accessDenied`.
    pub status: KeyStatus,
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
    fn full_forms_accept_the_old_shapes() {
        let old = r#"{"date":"2024-07-15","locationName":"Haro","photographer":"Jane"}"#;
        let full: FindOrCreateEncounterFull = serde_json::from_str(old).unwrap();
        assert_eq!(full.license, None);
        assert!(full.known_individuals.is_empty());
        let base: FindOrCreateEncounter = serde_json::from_str(old).unwrap();
        assert_eq!(FindOrCreateEncounterFull::from(base), full);
        let item = r#"{"idempotencyKey":"k","fileName":"a","size":3,"contentType":"x"}"#;
        let full: UploadItemFull = serde_json::from_str(item).unwrap();
        assert_eq!(full.content_md5, None);
        let with = r#"{"date":"2024-07-15","locationName":"H","photographer":"J","license":"publicAttribution","knownIndividuals":["T002B"]}"#;
        let full: FindOrCreateEncounterFull = serde_json::from_str(with).unwrap();
        assert_eq!(full.license, Some(License::PublicAttribution));
        assert_eq!(
            License::parse("privateOrganisation"),
            Some(License::PrivateOrganisation)
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = SignIn {
            email: "a@b.c".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        let c = CopyItem {
            idempotency_key: "k".into(),
            source_url: "http://h/c/b?sv=1&sig=SECRET".into(),
        };
        assert!(!format!("{c:?}").contains("SECRET"));
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
