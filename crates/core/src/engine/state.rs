//! What the driver persists (IndexedDB) about a sync: per-image and per-encounter status, the
//! remote encounter, and the reasons of failures and skips. All of it is serde-serialisable and
//! stable: it outlives the engine that wrote it.
//!
//! The engine announces every change as a [`Persist`] command; [`SyncStore`] is the reference
//! model of applying them (the simulation uses it as its "IndexedDB", the app may mirror it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The server encounter a local encounter maps to (answer of find-or-create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteEncounter {
    pub id: i64,
    /// Server page of the encounter (the "link to the encounter on the server").
    #[serde(default)]
    pub url: String,
}

/// Sync status of one image (spec §5 per-image statuses, plus `Skipped`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ImageStatus {
    /// Nothing sent yet (or reset).
    #[default]
    Pending,
    /// A PUT of the bytes was started; whether it reached the blob store is unknown.
    Uploading,
    /// The PUT succeeded; the upload is not committed yet. Resuming commits it directly.
    Uploaded,
    /// Committed on the server (or the server already had it: `file_item_id` is then `None`).
    Complete { file_item_id: Option<i64> },
    /// Gave up; a later sync (Retry) sends it again.
    Failed { failure: Failure },
    /// Not sent, on purpose; informational ("skipped errors"). A later sync leaves it alone
    /// unless the driver resets it to `Pending` (e.g. after discovery ran again).
    Skipped { reason: SkipReason },
}

impl ImageStatus {
    /// `true` for the states a sync does not touch again: complete and skipped.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            ImageStatus::Complete { .. } | ImageStatus::Skipped { .. }
        )
    }

    /// `true` for the end states of one engine run: complete, failed, skipped.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ImageStatus::Complete { .. } | ImageStatus::Failed { .. } | ImageStatus::Skipped { .. }
        )
    }
}

/// Sync status of one encounter (spec §1 "Sync status (local)"; legacy `Conflict` is the
/// driver's business: it queues such encounters like `Pending`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum EncounterStatus {
    #[default]
    Pending,
    /// Every image is complete.
    Synced,
    /// Some images complete, others failed or skipped (uploaded ones are kept).
    Partial,
    /// Nothing could be completed. `failure` is set when the encounter itself failed
    /// (find-or-create); it is `None` when every image failed on its own.
    Failed { failure: Option<Failure> },
}

/// The step of the sync flow a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// Creating a photographer's user ("Create on sync").
    CreateUser,
    FindOrCreate,
    Sessions,
    /// Fetching a fresh SAS URL after the old one expired.
    SasRefresh,
    Put,
    /// The server-side copy of an Azure-sourced image (`POST /api/v1/upload-sessions/copy`).
    Copy,
    Commit,
}

/// Why a step gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// Transient failures (5xx, network error, timeout, expired SAS) used up every attempt.
    RetriesExhausted,
    /// The server refused the request (4xx): not retried.
    Rejected,
    /// The request succeeded but the server reported this image as failed.
    ItemError,
    /// The answer could not be understood (wrong shape, missing item, no upload URL).
    BadResponse,
    /// The driver could not read the source file (e.g. permission withdrawn).
    SourceUnreadable,
}

/// A failure with what the Errors section needs to show it (grouped by encounter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub step: Step,
    pub kind: FailureKind,
    /// HTTP status of the last answer, if there was one.
    pub http_status: Option<u16>,
    /// Machine-readable code: [`crate::api::ApiError::code`] or Azure's `x-ms-error-code`.
    pub code: Option<String>,
    pub message: String,
    /// Attempts made (1-based).
    pub attempts: u8,
}

/// Why an image was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "reason",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SkipReason {
    /// The source file is gone (moved/renamed since the scan).
    SourceMissing { detail: String },
    /// The source file no longer matches the scan (size changed).
    SourceChanged { detail: String },
    /// Larger than [`crate::api::MAX_IMAGE_BYTES`].
    TooLarge { size: u64 },
    /// A 0-byte file (the server refuses them).
    EmptyFile,
    /// Empty, longer than [`crate::api::MAX_FILE_NAME_BYTES`], `.`/`..`, or containing a path
    /// separator or control character (the server refuses them).
    InvalidFileName,
    /// The plan's idempotency key is not a v1 key ([`crate::fingerprint::is_valid_key`]): a
    /// bug in the plan; sending it would make the server refuse the whole batch.
    InvalidKey,
    /// Another image of the same encounter has the same idempotency key (same content):
    /// it is synced once, through that image.
    DuplicateOf { image: String },
}

/// A write-ahead state change. The driver must make it durable before it acts on any command
/// polled after it (see the engine's module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Persist {
    /// Find-or-create answered: from now on the encounter is resumed, never created again.
    EncounterRemote {
        encounter: String,
        remote: RemoteEncounter,
    },
    EncounterStatus {
        encounter: String,
        status: EncounterStatus,
    },
    ImageStatus {
        encounter: String,
        image: String,
        status: ImageStatus,
    },
    /// A "Create on sync" photographer's user exists on the server (created for
    /// `encounter`): from now on every encounter of that person uses `user_id`.
    UserCreated {
        encounter: String,
        key: String,
        user_id: i64,
    },
}

/// A user created on sync, as persisted on the encounter it was created for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUserRecord {
    /// [`crate::engine::PlanUser::key`].
    pub key: String,
    pub user_id: i64,
}

/// Everything persisted about one local encounter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterRecord {
    #[serde(default)]
    pub remote: Option<RemoteEncounter>,
    #[serde(default)]
    pub status: EncounterStatus,
    /// Image local id → status.
    #[serde(default)]
    pub images: BTreeMap<String, ImageStatus>,
    /// The photographer's user, when this encounter's sync created it.
    #[serde(default)]
    pub created_user: Option<CreatedUserRecord>,
}

/// The persisted sync state of a population, keyed by local encounter id: the result of
/// applying every [`Persist`] in order. Feed it back with [`crate::engine::Plan::with_store`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStore {
    pub encounters: BTreeMap<String, EncounterRecord>,
}

impl SyncStore {
    /// Applies one change.
    pub fn apply(&mut self, change: &Persist) {
        match change {
            Persist::EncounterRemote { encounter, remote } => {
                self.record(encounter).remote = Some(remote.clone());
            }
            Persist::EncounterStatus { encounter, status } => {
                self.record(encounter).status = status.clone();
            }
            Persist::ImageStatus {
                encounter,
                image,
                status,
            } => {
                self.record(encounter)
                    .images
                    .insert(image.clone(), status.clone());
            }
            Persist::UserCreated {
                encounter,
                key,
                user_id,
            } => {
                self.record(encounter).created_user = Some(CreatedUserRecord {
                    key: key.clone(),
                    user_id: *user_id,
                });
            }
        }
    }

    /// Every user created on sync so far: [`crate::engine::PlanUser::key`] → user id.
    pub fn created_users(&self) -> BTreeMap<String, i64> {
        self.encounters
            .values()
            .filter_map(|e| e.created_user.as_ref())
            .map(|u| (u.key.clone(), u.user_id))
            .collect()
    }

    fn record(&mut self, encounter: &str) -> &mut EncounterRecord {
        self.encounters.entry(encounter.to_owned()).or_default()
    }

    /// The persisted status of one image (`Pending` when nothing was persisted).
    pub fn image(&self, encounter: &str, image: &str) -> ImageStatus {
        self.encounters
            .get(encounter)
            .and_then(|e| e.images.get(image))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialise_as_tagged_camel_case() {
        let s = ImageStatus::Complete {
            file_item_id: Some(7),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"status":"complete","fileItemId":7}"#);
        assert_eq!(serde_json::from_str::<ImageStatus>(&json).unwrap(), s);
        let skipped = ImageStatus::Skipped {
            reason: SkipReason::DuplicateOf { image: "a".into() },
        };
        let json = serde_json::to_string(&skipped).unwrap();
        assert_eq!(
            json,
            r#"{"status":"skipped","reason":{"reason":"duplicateOf","image":"a"}}"#
        );
        assert_eq!(serde_json::from_str::<ImageStatus>(&json).unwrap(), skipped);
    }

    #[test]
    fn store_applies_changes_and_round_trips() {
        let mut store = SyncStore::default();
        store.apply(&Persist::EncounterRemote {
            encounter: "e1".into(),
            remote: RemoteEncounter {
                id: 4,
                url: "/encounters/4".into(),
            },
        });
        store.apply(&Persist::ImageStatus {
            encounter: "e1".into(),
            image: "i1".into(),
            status: ImageStatus::Uploaded,
        });
        store.apply(&Persist::ImageStatus {
            encounter: "e1".into(),
            image: "i2".into(),
            status: ImageStatus::Failed {
                failure: Failure {
                    step: Step::Put,
                    kind: FailureKind::RetriesExhausted,
                    http_status: Some(503),
                    code: None,
                    message: "Service Unavailable".into(),
                    attempts: 3,
                },
            },
        });
        store.apply(&Persist::EncounterStatus {
            encounter: "e1".into(),
            status: EncounterStatus::Partial,
        });
        assert_eq!(store.image("e1", "i1"), ImageStatus::Uploaded);
        assert_eq!(store.image("e1", "nope"), ImageStatus::Pending);
        let json = serde_json::to_string(&store).unwrap();
        assert_eq!(serde_json::from_str::<SyncStore>(&json).unwrap(), store);
    }
}
