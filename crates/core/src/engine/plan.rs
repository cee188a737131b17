//! The engine's input: what to sync ([`Plan`]) and how ([`Config`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::api::{CreateUser, FindOrCreateEncounterFull, MAX_BATCH};
use crate::cloud::ImageSource;
use crate::normalize::normalize_text;

use super::state::{ImageStatus, RemoteEncounter, SyncStore};

/// Everything one sync run works on: the approved encounters of a population, in sync order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub population_id: i64,
    pub encounters: Vec<PlanEncounter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEncounter {
    /// Local (IndexedDB) id; unique in the plan. [`super::Persist`] refers to it.
    pub local_id: String,
    /// What find-or-create sends: the reviewed date, time, location, GPS, photographer,
    /// notes, licence, organisations and known individuals. Plans stored before these fields
    /// existed read back with them empty.
    pub fields: FindOrCreateEncounterFull,
    /// A photographer marked "Create on sync": the user is created (`POST /api/v1/users`)
    /// before this encounter's find-or-create, once per [`PlanUser::key`], and
    /// `fields.photographer_user_id` is set to it.
    #[serde(default)]
    pub create_photographer: Option<PlanUser>,
    /// Known from an earlier run: find-or-create is skipped.
    #[serde(default)]
    pub remote: Option<RemoteEncounter>,
    pub images: Vec<PlanImage>,
}

/// A user to create on sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanUser {
    /// Identifies the person across the plan (and across runs: the created user id is
    /// persisted under it), see [`PlanUser::create_on_sync`].
    pub key: String,
    pub request: CreateUser,
}

impl PlanUser {
    /// The user a "Create on sync" photographer of `population_id` becomes. The key holds the
    /// population (users created for one population's organisation must not be reused for
    /// another's: the server refuses them, or it would name the wrong person), the normalised
    /// name and the email when given (two people of one name with different emails stay two
    /// users): `new:<population>:<name>[|<email>]`.
    pub fn create_on_sync(population_id: i64, request: CreateUser) -> PlanUser {
        let name = normalize_text(&format!("{} {}", request.first_name, request.last_name));
        let key = match &request.email {
            Some(e) => format!("new:{population_id}:{name}|{}", e.trim().to_lowercase()),
            None => format!("new:{population_id}:{name}"),
        };
        PlanUser { key, request }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanImage {
    /// Local id; unique within its encounter.
    pub local_id: String,
    pub file_name: String,
    pub size: u64,
    pub content_type: String,
    /// [`crate::fingerprint::idempotency_key`].
    pub idempotency_key: String,
    /// Persisted state from earlier runs. `Complete` and `Skipped` images are not sent again,
    /// `Uploaded` ones are committed without a new PUT, all others are (re)sent.
    #[serde(default)]
    pub status: ImageStatus,
    /// Where the bytes are: a local file is PUT from the browser, an Azure blob is copied by
    /// the server ([`super::ApiRequest::CopyBlobs`]). Plans stored before issue 8 are local.
    #[serde(default)]
    pub source: ImageSource,
}

impl Plan {
    /// Overlays what earlier runs persisted: remote encounters, image statuses and users
    /// created on sync. Building a plan from the materialized encounters and then calling this
    /// is how a sync resumes after a crash and how **Retry** works (only images not
    /// complete/skipped are sent, and no user is created twice).
    pub fn with_store(mut self, store: &SyncStore) -> Plan {
        let users = store.created_users();
        for enc in &mut self.encounters {
            if let Some(id) = enc
                .create_photographer
                .as_ref()
                .and_then(|u| users.get(&u.key))
            {
                enc.fields.photographer_user_id = Some(*id);
                enc.create_photographer = None;
            }
            let Some(record) = store.encounters.get(&enc.local_id) else {
                continue;
            };
            if let Some(remote) = &record.remote {
                enc.remote = Some(remote.clone());
            }
            for img in &mut enc.images {
                if let Some(status) = record.images.get(&img.local_id) {
                    img.status = status.clone();
                }
            }
        }
        self
    }
}

/// Tuning of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Images of the current encounter in flight at once, 1..=4 (spec §3.1; default 2).
    pub concurrency: u8,
    /// Images per upload-session (and commit) request, 1..=[`MAX_BATCH`].
    pub batch_size: usize,
    /// Seed of the PUT-retry jitter; the driver draws it at random (e.g.
    /// `crypto.getRandomValues`). A run is reproducible from it.
    pub jitter_seed: u64,
    /// Timeout of each sync-API request.
    pub api_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 2,
            batch_size: 25,
            jitter_seed: 0,
            api_timeout_ms: 30_000,
        }
    }
}

/// Why [`super::Engine::new`] refused a plan.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("concurrency must be 1 to 4, not {0}")]
    Concurrency(u8),
    #[error("batch size must be 1 to {MAX_BATCH}, not {0}")]
    BatchSize(usize),
    #[error("two encounters have the local id {0:?}")]
    DuplicateEncounter(String),
    #[error("encounter {encounter:?} has two images with the local id {image:?}")]
    DuplicateImage { encounter: String, image: String },
}

impl Plan {
    pub(crate) fn validate(&self, config: &Config) -> Result<(), PlanError> {
        if !(1..=4).contains(&config.concurrency) {
            return Err(PlanError::Concurrency(config.concurrency));
        }
        if !(1..=MAX_BATCH).contains(&config.batch_size) {
            return Err(PlanError::BatchSize(config.batch_size));
        }
        let mut encounters = BTreeSet::new();
        for enc in &self.encounters {
            if !encounters.insert(enc.local_id.as_str()) {
                return Err(PlanError::DuplicateEncounter(enc.local_id.clone()));
            }
            let mut images = BTreeSet::new();
            for img in &enc.images {
                if !images.insert(img.local_id.as_str()) {
                    return Err(PlanError::DuplicateImage {
                        encounter: enc.local_id.clone(),
                        image: img.local_id.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}
