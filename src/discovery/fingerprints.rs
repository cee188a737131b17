//! The fingerprint phase of a scan job: after the metadata pass, every usable image that the
//! scan did not read whole gets its fingerprint (size + SHA-256 of its first and last 64 KiB,
//! [`finsync_core::fingerprint`], the Sync page's derivation) — the reads and hashing that would
//! otherwise double the scan's time before anything can be grouped or reviewed.
//!
//! The phase is visible ("Fingerprinting 3,400 / 10,000" on the job), resumable (it pages
//! through the job's rows in path order and skips those that have one, so after a reload it
//! starts where it stopped), and written in batches of [`scan::BATCH`] with the job's counts
//! ([`db::put_fingerprints`]). Memory stays flat: one page of rows at a time.
//!
//! Wherever a fingerprint is needed before the phase got to it — a sync of an approved manifest
//! — [`complete`] runs first for that job. A file that is gone or changed since the scan gets
//! no fingerprint (its scan-time content cannot be hashed any more, and hashing the new one
//! would key the old metadata to other bytes): it is counted in
//! [`ScanCounts::fingerprint_failed`](super::model::ScanCounts) and named to the person; never
//! given a made-up key.

use std::cell::RefCell;
use std::collections::HashSet;

use futures::StreamExt;

use super::access::{FileProblem, OpenFolder};
use super::db;
use super::model::{ScanFile, ScanJob};
use super::scan::{self, PARALLEL_READS};
use crate::store::StoreError;

/// At most this many files that could not be fingerprinted are named in a [`Report`].
pub const EXAMPLES: usize = 20;

/// How a run of the phase ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The job as stored at the end (its counts).
    pub job: ScanJob,
    /// Files fingerprinted by this run.
    pub fingerprinted: u64,
    /// Files that could not be, with why (at most [`EXAMPLES`]; the count is in the job).
    pub problems: Vec<String>,
}

thread_local! {
    /// Jobs whose phase runs in this tab now.
    static RUNNING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Marks the phase of `job_id` as running in this tab until the guard is dropped; `None` when
/// it runs already (the Discover page starts it once per job).
pub fn claim(job_id: &str) -> Option<Claim> {
    RUNNING
        .with(|r| r.borrow_mut().insert(job_id.to_string()))
        .then(|| Claim(job_id.to_string()))
}

/// See [`claim`].
pub struct Claim(String);

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNING.with(|r| r.borrow_mut().remove(&self.0));
    }
}

/// The fingerprint of a scanned file, if it is still the one scanned.
async fn fingerprint_row(folder: &OpenFolder, row: &ScanFile) -> Result<String, String> {
    let path = &row.relative_path;
    let file = folder
        .file_unprobed(path)
        .await
        .map_err(|e| e.to_string())?;
    if file.size() as u64 != row.size || file.last_modified() != row.last_modified {
        return Err(FileProblem::Changed(path.clone()).to_string());
    }
    match crate::sync::plan::fingerprint(&file).await {
        Ok(fp) => Ok(fp.to_hex()),
        // A `FileList` file rewritten or deleted since it was chosen fails to read; the probe
        // says which.
        Err(e) => Err(match super::access::probe(&file, path).await {
            Err(p) => p.to_string(),
            Ok(()) => format!("cannot read {path}: {e}"),
        }),
    }
}

/// Runs (or resumes) the fingerprint phase of job `job_id` over `folder` (the job's folder,
/// open in this tab): 4 files at a time, one transaction per [`scan::BATCH`] files.
/// `on_progress` gets the job after every batch. Returns `None` when the job was deleted
/// meanwhile.
pub async fn complete(
    store: &crate::store::Store,
    job_id: &str,
    folder: &OpenFolder,
    on_progress: impl Fn(&ScanJob),
) -> Result<Option<Report>, StoreError> {
    let mut after: Option<String> = None;
    let mut failed = 0u64;
    let mut fingerprinted = 0u64;
    let mut problems = Vec::new();
    loop {
        let page = db::files_after(store, job_id, after.as_deref(), scan::BATCH as u32).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.relative_path.clone());
        let todo: Vec<&ScanFile> = page
            .iter()
            .filter(|f| f.fingerprint.is_none() && f.usable())
            .collect();
        if todo.is_empty() {
            continue;
        }
        let mut found = Vec::with_capacity(todo.len());
        let mut results = futures::stream::iter(todo)
            .map(|row| async move { (row, fingerprint_row(folder, row).await) })
            .buffer_unordered(PARALLEL_READS);
        while let Some((row, r)) = results.next().await {
            match r {
                Ok(hex) => found.push((row.relative_path.clone(), hex)),
                Err(why) => {
                    failed += 1;
                    if problems.len() < EXAMPLES {
                        problems.push(why);
                    }
                }
            }
        }
        drop(results);
        fingerprinted += found.len() as u64;
        match db::put_fingerprints(store, job_id, &found, failed, None).await? {
            Some(job) => on_progress(&job),
            None => return Ok(None),
        }
    }
    let Some(job) =
        db::put_fingerprints(store, job_id, &[], failed, Some(js_sys::Date::now())).await?
    else {
        return Ok(None);
    };
    on_progress(&job);
    Ok(Some(Report {
        job,
        fingerprinted,
        problems,
    }))
}
