//! Discovery in the browser (spec §2): scan a folder, build a manifest (field rules, grouping,
//! photographers, versions), materialise its approved version into review records, review
//! them — and hand the approved encounters to the Sync page ([`approved_manifests`]).
//!
//! * [`walk`] — a folder (handle or file list) as a stream of entries, classified by name.
//! * [`scan`] — the scan job: prefix reads, metadata, batched writes, diff.
//! * [`cloud`] — a storage connection's container as a scan source (List Blobs pages,
//!   `Range` GETs of each image's prefix and tail), feeding the same scan job.
//! * [`fingerprints`] — the scan's second phase: fingerprints of the images the scan did not
//!   read whole, resumable, and run on demand before a sync needs them.
//! * [`access`] — folders this tab can read now (thumbnails, missing-file checks).
//! * [`thumbs`] — object URLs for thumbnails, made when shown and revoked when hidden.
//! * [`db`] — the IndexedDB queries over `scanJobs`, `scanFiles`, `manifests`,
//!   `reviewRecords`; [`model`] — the rows.
//! * [`plan`] — approved review records → [`StoredEncounter`]s, keyed like
//!   [`crate::sync::plan`].
//!
//! The pure logic (metadata, rules, grouping, manifests) is `finsync_core`'s.

pub mod access;
pub mod cloud;
pub mod db;
pub mod fingerprints;
pub mod model;
pub mod plan;
pub mod reader;
pub mod scan;
pub mod thumbs;
pub mod walk;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use finsync_core::manifest::ReviewStatus;

use crate::store::{Store, StoreError, StoredEncounter};

/// One approved manifest version, with its approved encounters planned for sync.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovedManifest {
    pub manifest_id: String,
    pub version: u32,
    pub scan_job_id: String,
    pub scan_job_name: String,
    pub population_id: i64,
    pub folder: String,
    pub encounters: Vec<StoredEncounter>,
    /// Approved encounters, those still waiting for all their fingerprints included (they are
    /// not in `encounters` until they have one image to sync).
    pub encounter_count: usize,
    /// Every image of the approved encounters, those in `unfingerprinted` included.
    pub image_count: usize,
    pub individual_ids: Vec<String>,
    /// Images of approved encounters whose scan row has no fingerprint yet (the fingerprint
    /// phase has not reached them): not in `encounters` until [`complete_fingerprints`] has
    /// run. Relative paths.
    pub unfingerprinted: Vec<String>,
}

/// Every approved manifest version that has Approved review records, each with those records
/// planned for sync (fingerprints from the scan, idempotency keys as [`crate::sync::plan`]
/// makes them). Records of versions that are not (or no longer) approved are left out. Images
/// whose scan row has no fingerprint yet are listed in
/// [`ApprovedManifest::unfingerprinted`] (and counted in `image_count`), never dropped
/// silently: a sync runs [`complete_fingerprints`] first.
pub async fn approved_manifests(store: &Store) -> Result<Vec<ApprovedManifest>, StoreError> {
    let mut out = Vec::new();
    for m in db::manifests(store).await? {
        let rows = db::records(store, &m.id).await?;
        let mut by_version: BTreeMap<u32, Vec<_>> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| r.record.review == ReviewStatus::Approved)
        {
            by_version
                .entry(r.record.manifest_version)
                .or_default()
                .push(&r.record);
        }
        by_version.retain(|v, _| m.history.get(*v).is_some_and(|x| x.is_approved()));
        if by_version.is_empty() {
            continue;
        }
        let job_id = m
            .materialized_job_id
            .clone()
            .unwrap_or_else(|| m.scan_job_id.clone());
        let fingerprints: HashMap<String, String> = db::job_files(store, &job_id)
            .await?
            .into_iter()
            .filter_map(|f| Some((f.relative_path, f.fingerprint?)))
            .collect();
        let job_name = db::job(store, &job_id)
            .await?
            .map(|j| j.name)
            .unwrap_or_default();
        for (version, records) in by_version {
            let mut encounters = Vec::new();
            let mut individuals = BTreeSet::new();
            let mut unfingerprinted = Vec::new();
            let mut encounter_count = 0;
            for rec in records {
                let (planned, problems) = plan::plan_record(rec, &fingerprints);
                // Only an image without a fingerprint is named by path.
                unfingerprinted.extend(problems.into_iter().filter_map(|p| p.path));
                if planned.is_some() {
                    encounter_count += 1;
                    individuals.extend(rec.known_individuals.iter().cloned());
                }
                // An encounter none of whose images has a fingerprint yet waits with them.
                if let Some(e) = planned.filter(|e| !e.plan.images.is_empty()) {
                    encounters.push(e);
                }
            }
            out.push(ApprovedManifest {
                manifest_id: m.id.clone(),
                version,
                scan_job_id: job_id.clone(),
                scan_job_name: job_name.clone(),
                population_id: m.population_id,
                folder: m.folder.clone(),
                image_count: encounters
                    .iter()
                    .map(|e| e.plan.images.len())
                    .sum::<usize>()
                    + unfingerprinted.len(),
                encounters,
                encounter_count,
                individual_ids: individuals.into_iter().collect(),
                unfingerprinted,
            });
        }
    }
    Ok(out)
}

/// `m` again with every image fingerprinted that can be: runs the job's fingerprint phase
/// ([`fingerprints::complete`]) over the manifest's folder, which must be open in this tab,
/// then plans the manifest afresh. Images still in [`ApprovedManifest::unfingerprinted`]
/// afterwards are gone or changed since the scan; the second value says why for some of them.
pub async fn complete_fingerprints(
    store: &Store,
    m: &ApprovedManifest,
    on_progress: impl Fn(&model::ScanJob),
) -> Result<(ApprovedManifest, Vec<String>), String> {
    let folder = access::get(&m.folder).ok_or_else(|| {
        format!(
            "The folder “{}” is not open in this tab: open it again on the Discover page, then press Sync.",
            m.folder
        )
    })?;
    let report = fingerprints::complete(store, &m.scan_job_id, &folder, on_progress)
        .await
        .map_err(|e| e.to_string())?;
    let problems = report.map(|r| r.problems).unwrap_or_default();
    let fresh = approved_manifests(store)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|x| x.manifest_id == m.manifest_id && x.version == m.version)
        .ok_or_else(|| {
            format!(
                "The manifest of “{}” is no longer approved: approve it again on the Discover page.",
                m.folder
            )
        })?;
    Ok((fresh, problems))
}

#[cfg(test)]
mod tests;
