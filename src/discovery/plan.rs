//! Approved review records → encounters planned for sync, exactly as [`crate::sync::plan`]
//! plans a picked folder: the same image local ids (`<relativePath>#<key[3..15]>`), the same
//! idempotency keys (population + encounter identity + fingerprint, spec decision 7) and the
//! same `sources`. The fingerprint comes from the scan (stored as hex), so nothing is read.

use std::collections::HashMap;

use finsync_core::api::{CreateUser, FindOrCreateEncounterFull};
use finsync_core::engine::{ImageStatus, PlanEncounter, PlanImage, PlanUser};
use finsync_core::fingerprint::{idempotency_key, Fingerprint};
use finsync_core::manifest::{EncounterRecord, PhotographerAssignment};
use finsync_core::media::content_type;
use finsync_core::normalize::encounter_identity;

use crate::store::{ImageSource, StoredEncounter};

/// The name find-or-create sends for a record's photographer (and the encounter identity
/// hashes). "Create on sync" sends the typed first and last name: the user the sync creates
/// has that name.
pub fn photographer_name(a: &PhotographerAssignment) -> Option<String> {
    match a {
        PhotographerAssignment::User { display, .. }
        | PhotographerAssignment::Default { display, .. } => Some(display.clone()),
        PhotographerAssignment::CreateOnSync {
            first_name,
            last_name,
            ..
        } => Some(format!("{first_name} {last_name}").trim().to_string()),
        PhotographerAssignment::Rejected
        | PhotographerAssignment::Unresolved
        | PhotographerAssignment::None => None,
    }
}

/// The server user id of a resolved (or default) photographer: ids from the user search are
/// numbers; a name typed in review (`name:…`) has none.
pub fn photographer_user_id(a: &PhotographerAssignment) -> Option<i64> {
    match a {
        PhotographerAssignment::User { user_id, .. }
        | PhotographerAssignment::Default { user_id, .. } => user_id.parse().ok(),
        _ => None,
    }
}

/// The user a "Create on sync" photographer of `population_id` becomes; see
/// [`PlanUser::create_on_sync`] for its key.
pub fn user_to_create(population_id: i64, a: &PhotographerAssignment) -> Option<PlanUser> {
    let PhotographerAssignment::CreateOnSync {
        first_name,
        last_name,
        email,
    } = a
    else {
        return None;
    };
    let email = email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    Some(PlanUser::create_on_sync(
        population_id,
        CreateUser {
            first_name: first_name.trim().to_string(),
            last_name: last_name.trim().to_string(),
            email,
        },
    ))
}

/// What could not be planned, per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplanned {
    pub record: String,
    pub path: Option<String>,
    pub why: String,
}

/// Plans one record. `fingerprints`: relative path → fingerprint hex of the scan the record
/// was made from. Images without a fingerprint are left out and listed in the second value
/// (with their path: the only problems that have one); a record without a date, location or
/// photographer gives `None`.
pub fn plan_record(
    rec: &EncounterRecord,
    fingerprints: &HashMap<String, String>,
) -> (Option<StoredEncounter>, Vec<Unplanned>) {
    let mut problems = Vec::new();
    let (Some(date), Some(location), Some(photographer)) = (
        rec.date.clone(),
        rec.location_name.clone().filter(|l| !l.trim().is_empty()),
        photographer_name(&rec.photographer),
    ) else {
        problems.push(Unplanned {
            record: rec.id.clone(),
            path: None,
            why: "date, location name or photographer missing".into(),
        });
        return (None, problems);
    };
    let identity = encounter_identity(&date, &location, &photographer);
    let mut images = Vec::with_capacity(rec.images.len());
    let mut sources = Vec::with_capacity(rec.images.len());
    for img in &rec.images {
        let Some(fp) = fingerprints
            .get(&img.relative_path)
            .and_then(|h| Fingerprint::from_hex(h))
        else {
            problems.push(Unplanned {
                record: rec.id.clone(),
                path: Some(img.relative_path.clone()),
                why: "no fingerprint yet (the scan's fingerprint phase has not reached it)".into(),
            });
            continue;
        };
        let key = idempotency_key(rec.population_id, &identity, &fp);
        let file_name = img
            .relative_path
            .rsplit('/')
            .next()
            .unwrap_or(&img.relative_path)
            .to_string();
        images.push(PlanImage {
            // Path and content together, as in sync::plan: a file edited in place is new.
            local_id: format!("{}#{}", img.relative_path, key.get(3..15).unwrap_or(&key)),
            content_type: content_type(&file_name).into(),
            file_name,
            size: img.size,
            idempotency_key: key,
            status: ImageStatus::Pending,
            // Azure images are copied by the server, local ones PUT from this browser.
            source: img.source.clone(),
        });
        sources.push(ImageSource {
            relative_path: img.relative_path.clone(),
            last_modified: img.last_modified_ms,
        });
    }
    let notes = Some(rec.notes.trim().to_string()).filter(|n| !n.is_empty());
    let encounter = StoredEncounter {
        local_id: rec.id.clone(),
        population_id: rec.population_id,
        plan: PlanEncounter {
            local_id: rec.id.clone(),
            fields: FindOrCreateEncounterFull {
                date,
                time: rec.time.clone(),
                location_name: location,
                gps: rec.gps,
                photographer,
                notes,
                license: rec.license,
                organisations: rec.organisations.clone(),
                known_individuals: rec.known_individuals.clone(),
                photographer_user_id: photographer_user_id(&rec.photographer),
            },
            create_photographer: user_to_create(rec.population_id, &rec.photographer),
            remote: None,
            images,
        },
        sources,
    };
    (Some(encounter), problems)
}
