//! The upload driver of the walking skeleton: one encounter per picked folder, upload sessions
//! in batches, PUTs of the files themselves through a concurrency-limited futures pool, commit,
//! and every file's state written to IndexedDB so a reload shows it and a second run sends
//! nothing twice.
//!
//! The sans-IO engine in `finsync_core::engine` replaces this loop as the sync page grows; the
//! I/O pieces here (fingerprints, [`crate::blob_put`], [`crate::api`]) stay.

use std::collections::HashMap;

use finsync_core::api::{
    CommitSessions, CreateUploadSessions, FindOrCreateEncounter, SessionStatus, UploadItem,
    MAX_BATCH,
};
use finsync_core::fingerprint::{edge_ranges, idempotency_key, Fingerprint};
use finsync_core::media::content_type;
use finsync_core::normalize::encounter_identity;
use finsync_core::sas::{date_utc, redact_sas};
use futures::StreamExt;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use crate::api::{CallError, Client};
use crate::blob_put::{put_blob, put_timeout_ms};
use crate::files::Picked;
use crate::store::{FileRecord, FileStatus, Store, StoreError};

/// Something the person should see while an upload runs.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadEvent {
    /// A phase of the run, in words.
    Phase(String),
    /// A file's record changed (already persisted).
    File(FileRecord),
    /// Bytes sent so far in this run, of the total to send.
    Bytes { sent: f64, total: f64 },
}

/// Why a whole run stopped. Per-file failures do not stop a run; they are recorded on the file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Api(#[from] CallError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the API key is not ready ({0}); check Settings")]
    KeyNotReady(String),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub uploaded: usize,
    pub already_complete: usize,
    pub failed: usize,
    pub encounter_url: Option<String>,
}

async fn slice_bytes(file: &File, start: u64, end: u64) -> Result<Vec<u8>, String> {
    let blob = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|e| format!("{e:?}"))?;
    let buf = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

/// Size plus hashes of the first and last 64 KiB (reads at most 128 KiB of the file).
pub async fn fingerprint(file: &File) -> Result<Fingerprint, String> {
    let size = file.size() as u64;
    let ((h0, h1), (t0, t1)) = edge_ranges(size);
    let head = slice_bytes(file, h0, h1).await?;
    let tail = if (t0, t1) == (h0, h1) {
        head.clone()
    } else {
        slice_bytes(file, t0, t1).await?
    };
    Ok(Fingerprint::new(size, &head, &tail))
}

struct Job {
    index: usize,
    record: FileRecord,
    url: String,
}

/// Uploads every image of `picked` that the server does not have yet.
pub async fn run(
    client: &Client,
    store: &Store,
    picked: &Picked,
    concurrency: usize,
    emit: impl Fn(UploadEvent),
) -> Result<Summary, UploadError> {
    let status = client.status().await?;
    let population = match (status.key_status, status.population) {
        (finsync_core::api::KeyStatus::Ready, Some(p)) => p,
        (s, _) => return Err(UploadError::KeyNotReady(format!("{s:?}"))),
    };

    // The skeleton's encounter: the picked folder, dated by its oldest image.
    let oldest_ms = picked
        .images
        .iter()
        .map(|f| f.file.last_modified())
        .fold(f64::INFINITY, f64::min);
    let date = date_utc((oldest_ms / 1000.0).floor() as i64);
    let encounter = FindOrCreateEncounter {
        date: date.clone(),
        time: None,
        location_name: picked.root.clone(),
        gps: None,
        photographer: "Unknown photographer".into(),
        notes: None,
    };
    let identity = encounter_identity(&date, &encounter.location_name, &encounter.photographer);

    emit(UploadEvent::Phase("Fingerprinting files…".into()));
    let known: HashMap<String, FileRecord> = store
        .files()
        .await?
        .into_iter()
        .map(|r| (r.idempotency_key.clone(), r))
        .collect();
    let mut summary = Summary::default();
    let mut todo: Vec<(usize, FileRecord)> = Vec::new();
    for (index, f) in picked.images.iter().enumerate() {
        let fp = fingerprint(&f.file)
            .await
            .map_err(|message| UploadError::Read {
                path: f.relative_path.clone(),
                message,
            })?;
        let key = idempotency_key(population.id, &identity, &fp);
        match known.get(&key) {
            Some(r) if r.status == FileStatus::Complete => {
                summary.already_complete += 1;
                emit(UploadEvent::File(r.clone()));
            }
            _ => todo.push((
                index,
                FileRecord {
                    idempotency_key: key,
                    relative_path: f.relative_path.clone(),
                    size: f.size(),
                    last_modified: f.file.last_modified(),
                    status: FileStatus::Pending,
                    error: None,
                    encounter_id: None,
                },
            )),
        }
    }
    if todo.is_empty() {
        emit(UploadEvent::Phase(
            "Nothing to upload: every file is already on the server.".into(),
        ));
        return Ok(summary);
    }

    emit(UploadEvent::Phase(format!(
        "Finding or creating the encounter “{}”…",
        picked.root
    )));
    let enc = client.find_or_create(&encounter).await?;
    summary.encounter_url = Some(format!("{}{}", client.base(), enc.url));
    for (_, r) in todo.iter_mut() {
        r.encounter_id = Some(enc.id);
    }

    let mut jobs = Vec::new();
    for chunk in todo.chunks(MAX_BATCH) {
        emit(UploadEvent::Phase("Creating upload sessions…".into()));
        let req = CreateUploadSessions {
            encounter_id: enc.id,
            items: chunk
                .iter()
                .map(|(i, r)| UploadItem {
                    idempotency_key: r.idempotency_key.clone(),
                    file_name: picked.images[*i].name(),
                    size: r.size,
                    content_type: content_type(&picked.images[*i].name()).into(),
                })
                .collect(),
        };
        let answer = client.create_sessions(&req).await?;
        let mut done_now = Vec::new();
        for ((index, mut record), session) in chunk.iter().cloned().zip(answer.sessions) {
            match (session.status, session.upload_url) {
                (SessionStatus::Complete, _) => {
                    record.status = FileStatus::Complete;
                    summary.already_complete += 1;
                    done_now.push(record);
                }
                (_, Some(url)) => jobs.push(Job { index, record, url }),
                (_, None) => {
                    record.status = FileStatus::Failed;
                    record.error = Some("the server gave no upload URL".into());
                    summary.failed += 1;
                    done_now.push(record);
                }
            }
        }
        store.put_files(&done_now).await?;
        for r in done_now {
            emit(UploadEvent::File(r));
        }
    }

    let total: f64 = jobs.iter().map(|j| j.record.size as f64).sum();
    let sent = std::rc::Rc::new(std::cell::RefCell::new(vec![0f64; jobs.len()]));
    emit(UploadEvent::Phase(format!(
        "Uploading {} files, {} at a time…",
        jobs.len(),
        concurrency
    )));
    let emit = &emit;
    let uploaded: Vec<FileRecord> = futures::stream::iter(jobs.into_iter().enumerate())
        .map(|(slot, job)| {
            let sent = sent.clone();
            async move {
                let file = &picked.images[job.index].file;
                let mut record = job.record;
                record.status = FileStatus::Uploading;
                emit(UploadEvent::File(record.clone()));
                let progress = {
                    let sent = sent.clone();
                    move |n: f64| {
                        if let Some(s) = sent.borrow_mut().get_mut(slot) {
                            *s = n;
                        }
                    }
                };
                let result = put_blob(
                    &job.url,
                    file,
                    content_type(&file.name()),
                    put_timeout_ms(record.size),
                    progress,
                )
                .await;
                match result {
                    Ok(()) => {
                        if let Some(s) = sent.borrow_mut().get_mut(slot) {
                            *s = record.size as f64;
                        }
                        record.status = FileStatus::Uploaded;
                    }
                    Err(e) => {
                        web_sys::console::warn_1(
                            &format!("PUT {} failed: {e}", redact_sas(&job.url)).into(),
                        );
                        record.status = FileStatus::Failed;
                        record.error = Some(e.to_string());
                    }
                }
                let total_sent: f64 = sent.borrow().iter().sum();
                emit(UploadEvent::Bytes {
                    sent: total_sent,
                    total,
                });
                emit(UploadEvent::File(record.clone()));
                record
            }
        })
        .buffer_unordered(concurrency.clamp(1, 4))
        .collect()
        .await;
    store.put_files(&uploaded).await?;

    let (ok, failed): (Vec<FileRecord>, Vec<FileRecord>) = uploaded
        .into_iter()
        .partition(|r| r.status == FileStatus::Uploaded);
    summary.failed += failed.len();
    for chunk in ok.chunks(MAX_BATCH) {
        emit(UploadEvent::Phase("Committing…".into()));
        let req = CommitSessions {
            idempotency_keys: chunk.iter().map(|r| r.idempotency_key.clone()).collect(),
        };
        let results = client.commit(&req).await?;
        let by_key: HashMap<String, _> = results
            .results
            .into_iter()
            .map(|r| (r.idempotency_key.clone(), r))
            .collect();
        let mut records = Vec::with_capacity(chunk.len());
        for mut r in chunk.iter().cloned() {
            match by_key.get(&r.idempotency_key) {
                Some(c) if c.status == SessionStatus::Complete => {
                    r.status = FileStatus::Complete;
                    summary.uploaded += 1;
                }
                other => {
                    r.status = FileStatus::Failed;
                    r.error = Some(
                        other
                            .and_then(|c| c.error.as_ref())
                            .map(|e| e.message.clone())
                            .unwrap_or_else(|| "the server did not confirm this file".into()),
                    );
                    summary.failed += 1;
                }
            }
            records.push(r);
        }
        store.put_files(&records).await?;
        for r in records {
            emit(UploadEvent::File(r));
        }
    }
    Ok(summary)
}
