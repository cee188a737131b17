//! Discovery's IndexedDB queries over the v4 stores (see [`crate::store`]). Every write is one
//! transaction that has committed when the call returns `Ok`.

use finsync_core::order::sort_by;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::{DeserialiseFromJs, KeyRange};
use wasm_bindgen::JsValue;

use super::model::{ReviewRow, ScanFile, ScanJob, StoredManifest};
use crate::store::{Store, StoreError, MANIFESTS, REVIEW_RECORDS, SCAN_FILES, SCAN_JOBS};

/// Every key of a compound-key store whose first part is `first`: `[first] ..= [first, []]`
/// (an array sorts after every string, so `[first, []]` is above every `[first, path]`).
fn prefix_range(first: &str) -> KeyRange<JsValue> {
    let lower = js_sys::Array::of1(&JsValue::from_str(first));
    let upper = js_sys::Array::of2(&JsValue::from_str(first), &js_sys::Array::new());
    KeyRange::Bound(lower.into(), false, upper.into(), false)
}

/// Saves (replaces) a scan job.
pub async fn put_job(store: &Store, job: &ScanJob) -> Result<(), StoreError> {
    let tx = store
        .database()
        .transaction(SCAN_JOBS)
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    tx.object_store(SCAN_JOBS)?
        .put(job.clone())
        .serde()?
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Saves a batch of scanned files together with the job's counts so far, in one transaction:
/// after a crash the job's counts never claim files that are not stored.
pub async fn put_files(store: &Store, job: &ScanJob, files: &[ScanFile]) -> Result<(), StoreError> {
    let tx = store
        .database()
        .transaction([SCAN_JOBS, SCAN_FILES])
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    let fs = tx.object_store(SCAN_FILES)?;
    // Requests are queued at once; the commit waits for all of them (and fails if one does).
    for f in files {
        let _queued = fs.put(f).serde()?;
    }
    let _queued = tx.object_store(SCAN_JOBS)?.put(job).serde()?;
    tx.commit().await?;
    Ok(())
}

pub async fn job(store: &Store, id: &str) -> Result<Option<ScanJob>, StoreError> {
    let tx = store.database().transaction(SCAN_JOBS).build()?;
    Ok(tx
        .object_store(SCAN_JOBS)?
        .get(id.to_string())
        .serde()?
        .await?)
}

/// Every scan job, newest first.
pub async fn jobs(store: &Store) -> Result<Vec<ScanJob>, StoreError> {
    let tx = store.database().transaction(SCAN_JOBS).build()?;
    let rows = tx
        .object_store(SCAN_JOBS)?
        .get_all::<ScanJob>()
        .serde()?
        .await?;
    let mut all = rows.collect::<Result<Vec<_>, _>>()?;
    sort_by(&mut all, |a, b| b.started_ms.total_cmp(&a.started_ms));
    Ok(all)
}

/// Every file of a scan job, by path.
pub async fn job_files(store: &Store, job_id: &str) -> Result<Vec<ScanFile>, StoreError> {
    let tx = store.database().transaction(SCAN_FILES).build()?;
    let rows = tx
        .object_store(SCAN_FILES)?
        .index("byJob")?
        .get_all::<ScanFile>()
        .with_query(job_id.to_string())
        .serde()?
        .await?;
    let mut all = rows.collect::<Result<Vec<_>, _>>()?;
    sort_by(&mut all, |a, b| a.relative_path.cmp(&b.relative_path));
    Ok(all)
}

/// Up to `limit` files of a scan job in path order, those after `after` (all from the start
/// when `None`): the fingerprint phase pages through a job this way, so it never holds every
/// row at once.
pub async fn files_after(
    store: &Store,
    job_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<ScanFile>, StoreError> {
    let lower = match after {
        Some(p) => js_sys::Array::of2(&JsValue::from_str(job_id), &JsValue::from_str(p)),
        None => js_sys::Array::of1(&JsValue::from_str(job_id)),
    };
    let upper = js_sys::Array::of2(&JsValue::from_str(job_id), &js_sys::Array::new());
    let range: KeyRange<JsValue> =
        KeyRange::Bound(lower.into(), after.is_some(), upper.into(), false);
    let tx = store.database().transaction(SCAN_FILES).build()?;
    let rows = tx
        .object_store(SCAN_FILES)?
        .get_all::<JsValue>()
        .with_query::<JsValue, _>(range)
        .with_limit(limit)
        .primitive()?
        .await?;
    let mut out = Vec::new();
    for row in rows {
        out.push(ScanFile::deserialise_from_js(row?)?);
    }
    Ok(out)
}

/// Stores fingerprints (relative path → hex) found after the scan, in one transaction with the
/// job's counts: a row that has one already is left as is and not counted again (two runs over
/// the same job in one tab agree, as the fingerprint of unchanged bytes is the same).
/// `failed`: the phase's count of files it could not fingerprint so far; `ended_ms`: set when
/// the phase has nothing left to try. Returns the job as stored, or `None` when it was deleted
/// meanwhile (then nothing is written).
pub async fn put_fingerprints(
    store: &Store,
    job_id: &str,
    found: &[(String, String)],
    failed: u64,
    ended_ms: Option<f64>,
) -> Result<Option<ScanJob>, StoreError> {
    let tx = store
        .database()
        .transaction([SCAN_JOBS, SCAN_FILES])
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    let jobs = tx.object_store(SCAN_JOBS)?;
    let Some(mut job): Option<ScanJob> = jobs.get(job_id.to_string()).serde()?.await? else {
        return Ok(None);
    };
    let fs = tx.object_store(SCAN_FILES)?;
    let mut added = 0u64;
    for (path, hex) in found {
        let key = js_sys::Array::of2(&JsValue::from_str(job_id), &JsValue::from_str(path));
        let row: Option<JsValue> = fs.get(JsValue::from(key)).primitive()?.await?;
        let row = match row {
            Some(v) if !v.is_undefined() => Some(ScanFile::deserialise_from_js(v)?),
            _ => None,
        };
        if let Some(mut row) = row.filter(|r| r.fingerprint.is_none() && r.error.is_none()) {
            row.fingerprint = Some(hex.clone());
            let _queued = fs.put(row).serde()?;
            added += 1;
        }
    }
    let c = &mut job.counts;
    c.fingerprinted = Some(c.fingerprinted.unwrap_or(c.images) + added).map(|n| n.min(c.images));
    c.fingerprint_failed = failed;
    if ended_ms.is_some() {
        job.fingerprints_ended_ms = ended_ms;
    }
    let _queued = jobs.put(&job).serde()?;
    tx.commit().await?;
    Ok(Some(job))
}

/// Deletes a scan job and its files.
pub async fn delete_job(store: &Store, id: &str) -> Result<(), StoreError> {
    let tx = store
        .database()
        .transaction([SCAN_JOBS, SCAN_FILES])
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    tx.object_store(SCAN_FILES)?
        .delete::<JsValue, _>(prefix_range(id))
        .primitive()?
        .await?;
    tx.object_store(SCAN_JOBS)?
        .delete(id.to_string())
        .primitive()?
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn put_manifest(store: &Store, m: &StoredManifest) -> Result<(), StoreError> {
    let tx = store
        .database()
        .transaction(MANIFESTS)
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    tx.object_store(MANIFESTS)?.put(m).serde()?.await?;
    tx.commit().await?;
    Ok(())
}

pub async fn manifest(store: &Store, id: &str) -> Result<Option<StoredManifest>, StoreError> {
    let tx = store.database().transaction(MANIFESTS).build()?;
    Ok(tx
        .object_store(MANIFESTS)?
        .get(id.to_string())
        .serde()?
        .await?)
}

/// Every manifest, newest first.
pub async fn manifests(store: &Store) -> Result<Vec<StoredManifest>, StoreError> {
    let tx = store.database().transaction(MANIFESTS).build()?;
    let rows = tx
        .object_store(MANIFESTS)?
        .get_all::<StoredManifest>()
        .serde()?
        .await?;
    let mut all = rows.collect::<Result<Vec<_>, _>>()?;
    sort_by(&mut all, |a, b| b.created_at.cmp(&a.created_at));
    Ok(all)
}

/// Replaces every review record of `manifest` with `rows` and saves the manifest (its
/// materialised version), in one transaction.
pub async fn replace_records(
    store: &Store,
    manifest: &StoredManifest,
    rows: &[ReviewRow],
) -> Result<(), StoreError> {
    let tx = store
        .database()
        .transaction([MANIFESTS, REVIEW_RECORDS])
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    let rs = tx.object_store(REVIEW_RECORDS)?;
    let _queued = rs
        .delete::<JsValue, _>(prefix_range(&manifest.id))
        .primitive()?;
    for r in rows {
        let _queued = rs.put(r).serde()?;
    }
    let _queued = tx.object_store(MANIFESTS)?.put(manifest).serde()?;
    tx.commit().await?;
    Ok(())
}

/// Saves (replaces) some review records in one transaction.
pub async fn put_records(store: &Store, rows: &[ReviewRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let tx = store
        .database()
        .transaction(REVIEW_RECORDS)
        .with_mode(TransactionMode::Readwrite)
        .build()?;
    let rs = tx.object_store(REVIEW_RECORDS)?;
    for r in rows {
        let _queued = rs.put(r).serde()?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every review record of a manifest, by label.
pub async fn records(store: &Store, manifest_id: &str) -> Result<Vec<ReviewRow>, StoreError> {
    let tx = store.database().transaction(REVIEW_RECORDS).build()?;
    let rows = tx
        .object_store(REVIEW_RECORDS)?
        .index("byManifest")?
        .get_all::<ReviewRow>()
        .with_query(manifest_id.to_string())
        .serde()?
        .await?;
    let mut all = rows.collect::<Result<Vec<_>, _>>()?;
    sort_by(&mut all, |a, b| {
        (a.record.date.as_deref(), &a.record.label)
            .cmp(&(b.record.date.as_deref(), &b.record.label))
    });
    Ok(all)
}
