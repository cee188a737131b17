//! The scan job: walk a folder as a stream, read a metadata prefix of every image (4 files at
//! a time), and store the results in batches. Fingerprints come after, in their own phase
//! ([`super::fingerprints`]).
//!
//! Per image: the first 64 KiB in one `Blob.slice` (what the I/O floor reads), more of the start
//! only when [`prefix_needed`] says a segment runs past it; then [`scan_prefix`]: the metadata
//! ([`parse_prefix_with`]) and, when the prefix is the whole file, its fingerprint (the Sync
//! page's derivation, [`crate::sync::plan::fingerprint_with_tail`]) at no extra read. A larger
//! file's fingerprint needs its last 64 KiB: that read and the hashing are left to the
//! fingerprint phase, so the scan is usable (grouping, review) as soon as the metadata is in.
//! Bad input never stops the scan: every problem becomes the file's `error` (cannot be used) or
//! `warnings` (usable), naming what to do.
//!
//! [`read_prefix`] and [`scan_prefix`] take a byte-range reader and bytes, not a `File`, so a
//! source other than a local folder (Range GETs of a blob listing) can reuse them.
//!
//! Writes: one IndexedDB transaction per [`BATCH`] files, holding the job's counts so far, so a
//! closed tab leaves a consistent job that [`run`] can resume (files already stored with the
//! same size and lastModified are not read again). Memory stays flat in the number of files:
//! nothing but the current batch and, for a diff, one `(size, lastModified, fingerprint)` per
//! path of the previous scan is held.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use std::future::Future;

use finsync_core::cloud::ImageSource;
use finsync_core::fingerprint::edge_ranges;
use finsync_core::media::content_type;
use finsync_core::metadata::{
    next_read_end, parse_prefix_with, prefix_needed, MetaError, MetaField, MetaWarning,
    ParseOptions, PrefixNeed, INITIAL_PREFIX_BYTES,
};
use futures::channel::oneshot;
use futures::StreamExt;

use super::db;
use super::model::{now_iso, ScanCounts, ScanDiff, ScanFile, ScanJob, ScanState};
use super::reader::{worker_url, FileReader, Head, ImageRef};
use super::walk::{cannot_open, Entry, FolderSource, SkipReason, Walker};
use crate::store::{Store, StoreError};
use crate::sync::plan::fingerprint_with_tail;

/// What a scan walks: a picked folder, or a storage connection's container
/// ([`super::cloud::Listing`]); both give the same [`Entry`] stream.
pub enum ScanSource {
    Folder(FolderSource),
    Azure(super::cloud::Listing),
}

impl From<FolderSource> for ScanSource {
    fn from(f: FolderSource) -> ScanSource {
        ScanSource::Folder(f)
    }
}

impl ScanSource {
    fn into_stream(self) -> futures::stream::LocalBoxStream<'static, Entry> {
        match self {
            ScanSource::Folder(f) => Walker::new(f).into_stream().boxed_local(),
            ScanSource::Azure(l) => l.into_stream().boxed_local(),
        }
    }
}

/// Files per IndexedDB transaction.
pub const BATCH: usize = 200;
/// Files read at once in the page (the fallback, and the fingerprint phase).
pub const PARALLEL_READS: usize = 4;
/// Files asked of the scan workers at once: enough that they always have reads queued while
/// the page posts the next files (posting a `File` makes the page stat it) and parses the last.
pub const WORKER_READS: usize = 12;
/// At most this often (ms) the progress callback runs.
const PROGRESS_EVERY_MS: f64 = 100.0;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ScanError {
    #[error("the scan could not save its results: {0}. Free some disk space or allow this site to store data, then resume the scan.")]
    Store(#[from] StoreError),
}

/// What an earlier scan knew of a path.
#[derive(Debug, Clone)]
struct Known {
    size: u64,
    last_modified: f64,
    fingerprint: Option<String>,
    error: bool,
    warnings: bool,
}

impl Known {
    fn fingerprinted(&self) -> bool {
        !self.error && self.fingerprint.is_some()
    }
}

impl Known {
    fn of(f: &ScanFile) -> Known {
        Known {
            size: f.size,
            last_modified: f.last_modified,
            fingerprint: f.fingerprint.clone(),
            error: f.error.is_some(),
            warnings: !f.warnings.is_empty(),
        }
    }

    fn same(&self, size: u64, last_modified: f64) -> bool {
        self.size == size && self.last_modified == last_modified
    }
}

/// What a job stored, per path. Read in pages ([`db::files_after`]): a job's full rows (with
/// their metadata) are never all in memory at once, only the small [`Known`] of each.
async fn known_of(store: &Store, job_id: &str) -> Result<HashMap<String, Known>, StoreError> {
    const PAGE: u32 = 500;
    let mut known = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = db::files_after(store, job_id, after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.relative_path.clone());
        let full = page.len() as u32 == PAGE;
        known.extend(page.iter().map(|f| (f.relative_path.clone(), Known::of(f))));
        if !full {
            break;
        }
    }
    Ok(known)
}

fn field_name(f: MetaField) -> &'static str {
    match f {
        MetaField::Container => "file structure",
        MetaField::Exif => "EXIF",
        MetaField::Iptc => "IPTC",
        MetaField::Date => "date",
        MetaField::Gps => "GPS",
    }
}

fn describe(w: &MetaWarning) -> String {
    format!("{}: {}", field_name(w.field), w.message)
}

pub(crate) fn unreadable(e: String) -> String {
    format!("cannot read the file (moved, deleted or changed during the scan? scan again): {e}")
}

/// Reads the metadata prefix of a file of `size` bytes (> 0) through `read(start, end)`: the
/// first [`INITIAL_PREFIX_BYTES`], then more only while [`prefix_needed`] asks (rounded up by
/// [`next_read_end`]). The error is the reader's.
pub async fn read_prefix<R, F>(size: u64, read: R) -> Result<Vec<u8>, String>
where
    R: Fn(u64, u64) -> F,
    F: Future<Output = Result<Vec<u8>, String>>,
{
    let head = read(0, size.min(INITIAL_PREFIX_BYTES as u64)).await?;
    read_prefix_from(size, head, read).await
}

/// [`read_prefix`] when its first read is done: `prefix` holds the start of the file.
pub async fn read_prefix_from<R, F>(
    size: u64,
    mut prefix: Vec<u8>,
    read: R,
) -> Result<Vec<u8>, String>
where
    R: Fn(u64, u64) -> F,
    F: Future<Output = Result<Vec<u8>, String>>,
{
    while (prefix.len() as u64) < size {
        let PrefixNeed::More { total } = prefix_needed(&prefix) else {
            break;
        };
        let more = read(prefix.len() as u64, next_read_end(total, size)).await?;
        if more.is_empty() {
            break;
        }
        prefix.extend_from_slice(&more);
    }
    Ok(prefix)
}

/// One image's row from its metadata prefix (pure: no I/O). `name` is the file name (its
/// extension is a hint for the format); `prefix` the bytes [`read_prefix`] gave. When the
/// prefix is the whole file (`prefix.len() == size`) the fingerprint is taken too; otherwise
/// it is left to the fingerprint phase.
pub fn scan_prefix(
    job_id: &str,
    relative_path: String,
    name: &str,
    size: u64,
    last_modified: f64,
    prefix: &[u8],
    opts: &ParseOptions,
) -> ScanFile {
    let out = new_row(
        job_id,
        relative_path,
        name,
        size,
        last_modified,
        ImageSource::Local,
    );
    finish_row(out, name, prefix, None, opts)
}

/// A file's row before its bytes are read: where it is and what its listing says; an empty
/// file already has its error. Shared by folder and container scans.
pub fn new_row(
    job_id: &str,
    relative_path: String,
    name: &str,
    size: u64,
    last_modified: f64,
    source: ImageSource,
) -> ScanFile {
    ScanFile {
        job_id: job_id.to_string(),
        relative_path,
        size,
        last_modified,
        content_type: content_type(name).to_string(),
        meta: None,
        fingerprint: None,
        warnings: Vec::new(),
        error: (size == 0)
            .then(|| "the file is empty (0 bytes); copy it again from the camera card".into()),
        source,
    }
}

/// Finishes a row from the bytes read, the same way for a folder's file and a container's
/// blob (pure: no I/O). `prefix` is the start of the file (what [`read_prefix`] gave, or the
/// whole file); `tail` the fingerprint's tail range ([`edge_ranges`]) when it was read too (a
/// container scan reads both at once). The fingerprint is taken when the bytes allow it — a
/// tail, or a prefix that is the whole file —, else left to the fingerprint phase; then the
/// metadata. Problems become the row's error/warnings.
pub fn finish_row(
    mut out: ScanFile,
    name: &str,
    prefix: &[u8],
    tail: Option<&[u8]>,
    opts: &ParseOptions,
) -> ScanFile {
    if out.error.is_some() {
        return out;
    }
    let size = out.size;
    let fp = match tail {
        Some(t) => Some(fingerprint_with_tail(size, prefix, t)),
        None if prefix.len() as u64 == size => {
            let (_, (t0, t1)) = edge_ranges(size);
            let t = prefix.get(t0 as usize..t1 as usize).unwrap_or_default();
            Some(fingerprint_with_tail(size, prefix, t))
        }
        None => None,
    };
    match fp {
        Some(Ok(fp)) => out.fingerprint = Some(fp.to_hex()),
        Some(Err(e)) => {
            out.error = Some(unreadable(e));
            return out;
        }
        None => {}
    }
    match parse_prefix_with(prefix, name, opts) {
        Ok(meta) => {
            out.warnings = meta.warnings.iter().map(describe).collect();
            // A damaged block can fail the same way at several places: say it once.
            out.warnings.dedup();
            out.meta = Some(meta);
        }
        Err(MetaError::Unsupported { format, .. }) => out.warnings.push(format!(
            "{format} metadata is not read: date, place and photographer must come from folder or file names, or be typed in"
        )),
        Err(e @ (MetaError::NotAnImage { .. } | MetaError::Empty { .. })) => {
            out.error = Some(format!(
                "{e}; it is left out — if it should be a photo, copy it again from the camera card"
            ))
        }
    }
    out
}

/// Reads one image of a local folder through `reader`: its head, more only when
/// [`prefix_needed`] asks ([`read_prefix_from`]), then [`scan_prefix`]. `known`: what an earlier
/// run of this job stored for the path — a file that still has its size and lastModified is
/// not read ([`Outcome::Kept`]). A file that cannot be opened or read is the file's problem.
async fn read_entry(
    reader: &FileReader,
    job_id: &str,
    relative_path: String,
    src: &ImageRef,
    known: Option<&Known>,
    opts: &ParseOptions,
) -> Outcome {
    let name = relative_path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let (size, last_modified, prefix) = match reader
        .head(src, known.map(|k| (k.size, k.last_modified)))
        .await
    {
        Head::Kept { .. } => match known {
            Some(k) => return Outcome::Kept(relative_path, k.clone()),
            None => return Outcome::Failed(relative_path, unreadable("no bytes read".into())),
        },
        Head::OpenFailed(e) => return Outcome::Failed(relative_path, cannot_open(&e)),
        Head::ReadFailed {
            size,
            last_modified,
            message,
        } => (size, last_modified, Err(message)),
        Head::Bytes {
            size,
            last_modified,
            bytes,
        } => {
            let at = (size, last_modified);
            let more = read_prefix_from(size, bytes, |a, b| reader.range(src, a, b, at)).await;
            (size, last_modified, more)
        }
    };
    Outcome::Read(Box::new(match prefix {
        Ok(p) => scan_prefix(job_id, relative_path, &name, size, last_modified, &p, opts),
        Err(e) => {
            let mut out = new_row(
                job_id,
                relative_path,
                &name,
                size,
                last_modified,
                ImageSource::Local,
            );
            out.error = Some(unreadable(e));
            out
        }
    }))
}

/// Reads one local file the way a scan does ([`read_entry`]; no earlier run) and gives its row,
/// or the problem of a file that could not be opened as the row's error.
pub async fn read_image(
    reader: &FileReader,
    job_id: &str,
    relative_path: String,
    src: &ImageRef,
    opts: &ParseOptions,
) -> ScanFile {
    match read_entry(reader, job_id, relative_path, src, None, opts).await {
        Outcome::Read(f) => *f,
        Outcome::Failed(path, message) => failed_row(job_id, path, message),
        // Neither comes of a read with no earlier run.
        Outcome::Kept(path, _) => failed_row(job_id, path, unreadable("not read".into())),
        Outcome::Skipped(_) => failed_row(job_id, String::new(), unreadable("not read".into())),
    }
}

/// The row of a walk entry that could not be opened.
fn failed_row(job_id: &str, relative_path: String, message: String) -> ScanFile {
    ScanFile {
        job_id: job_id.to_string(),
        relative_path,
        size: 0,
        last_modified: 0.0,
        content_type: String::new(),
        meta: None,
        fingerprint: None,
        warnings: Vec::new(),
        error: Some(message),
        source: ImageSource::Local,
    }
}

/// What processing one walk entry gave.
enum Outcome {
    Skipped(SkipReason),
    Read(Box<ScanFile>),
    /// Already stored for this job (a resumed scan), unchanged.
    Kept(String, Known),
    Failed(String, String),
}

/// Runs (or resumes) `job` over `source`. `previous`: the earlier scan of a folder of the same
/// name to diff against; when the two share no unchanged file they are different folders and
/// the job gets no diff (see [`ScanJob::diff`]). `cancel` is checked between files. `on_progress` gets the job (counts so far)
/// at most every 100 ms and at the end. Returns the finished job (Done or Cancelled); the
/// files are in `scanFiles`.
pub async fn run(
    store: &Store,
    mut job: ScanJob,
    source: impl Into<ScanSource>,
    previous: Option<&ScanJob>,
    cancel: Rc<Cell<bool>>,
    on_progress: impl Fn(&ScanJob),
) -> Result<ScanJob, ScanError> {
    // A resumed job keeps what it stored; counts are recounted over the new walk.
    let kept: Rc<HashMap<String, Known>> = Rc::new(known_of(store, &job.id).await?);
    let mut before: Option<HashMap<String, Known>> = match previous {
        Some(p) => Some(known_of(store, &p.id).await?),
        None => None,
    };
    let mut diff = previous.map(|p| ScanDiff {
        previous_job_id: p.id.clone(),
        ..ScanDiff::default()
    });
    job.state = ScanState::Running;
    job.counts = ScanCounts {
        fingerprinted: Some(0),
        ..ScanCounts::default()
    };
    job.fingerprints_ended_ms = None;
    job.ended_at = None;
    job.ended_ms = None;
    job.error = None;
    db::put_job(store, &job).await?;

    let opts = ParseOptions {
        now_unix_ms: Some(js_sys::Date::now()),
    };
    let job_id = job.id.clone();
    // Local files are read off the page's main thread (or in it, when no worker can be had).
    let source = source.into();
    let reader = match source {
        ScanSource::Folder(_) => FileReader::new(&worker_url()),
        ScanSource::Azure(_) => FileReader::in_page(),
    };
    let entries = source.into_stream().map(|entry| {
        let kept = kept.clone();
        let job_id = job_id.clone();
        let reader = reader.clone();
        async move {
            match entry {
                Entry::Skipped { reason } => Outcome::Skipped(reason),
                Entry::Failed {
                    relative_path,
                    message,
                } => Outcome::Failed(relative_path, message),
                Entry::Image {
                    relative_path,
                    file,
                } => {
                    let known = kept.get(&relative_path);
                    read_entry(&reader, &job_id, relative_path, &file, known, &opts).await
                }
                Entry::Blob {
                    relative_path,
                    blob,
                } => match kept.get(&relative_path) {
                    Some(k) if k.same(blob.size, blob.last_modified_ms) => {
                        Outcome::Kept(relative_path, k.clone())
                    }
                    _ => Outcome::Read(Box::new(
                        super::cloud::read_blob(&job_id, relative_path, &blob, &opts).await,
                    )),
                },
            }
        }
    });
    // A container's blobs go as before: two Range GETs each, 4 at a time.
    let in_flight = if reader.uses_worker() {
        WORKER_READS
    } else {
        PARALLEL_READS
    };
    let mut results = std::pin::pin!(entries.buffer_unordered(in_flight));
    let mut batch: Vec<ScanFile> = Vec::with_capacity(BATCH);
    let mut writing: Option<oneshot::Receiver<Result<(), StoreError>>> = None;
    let mut last_progress = 0.0;
    while let Some(outcome) = results.next().await {
        let c = &mut job.counts;
        c.files_seen += 1;
        // (path, size, lastModified, fingerprint) of a file with an image name, for the diff.
        let mut seen: Option<(String, Known)> = None;
        match outcome {
            Outcome::Skipped(SkipReason::Hidden) => c.skipped_hidden += 1,
            Outcome::Skipped(SkipReason::HiddenDir) => {
                // A folder, not a file.
                c.files_seen -= 1;
                c.skipped_hidden_dirs += 1;
            }
            Outcome::Skipped(SkipReason::Raw) => c.skipped_raw += 1,
            Outcome::Skipped(SkipReason::Other) => c.skipped_other += 1,
            Outcome::Kept(path, k) => {
                if k.error {
                    c.errors += 1;
                } else {
                    c.images += 1;
                    c.image_bytes += k.size;
                    c.with_warnings += u64::from(k.warnings);
                }
                if k.fingerprinted() {
                    *c.fingerprinted.get_or_insert(0) += 1;
                }
                seen = Some((path, k));
            }
            Outcome::Read(f) => {
                if f.error.is_some() {
                    c.errors += 1;
                } else {
                    c.images += 1;
                    c.image_bytes += f.size;
                    c.with_warnings += u64::from(!f.warnings.is_empty());
                }
                let known = Known::of(&f);
                if known.fingerprinted() {
                    *c.fingerprinted.get_or_insert(0) += 1;
                }
                seen = Some((f.relative_path.clone(), known));
                batch.push(*f);
            }
            Outcome::Failed(path, message) => {
                c.errors += 1;
                batch.push(failed_row(&job.id, path, message));
            }
        }
        if let (Some((path, now)), Some(before), Some(diff)) =
            (seen, before.as_mut(), diff.as_mut())
        {
            match before.remove(&path) {
                None => {
                    diff.new += 1;
                    push_example(&mut diff.new_paths, path);
                }
                Some(was) => {
                    let same = was.size == now.size
                        && was.last_modified == now.last_modified
                        && (was.fingerprint.is_none()
                            || now.fingerprint.is_none()
                            || was.fingerprint == now.fingerprint);
                    if same {
                        diff.unchanged += 1;
                    } else {
                        diff.changed += 1;
                        push_example(&mut diff.changed_paths, path);
                    }
                }
            }
        }
        if batch.len() >= BATCH {
            // One write in flight while the scan goes on; the next waits for it.
            if let Some(done) = writing.take() {
                done.await.unwrap_or(Ok(()))?;
            }
            writing = Some(write_batch(store, &job, std::mem::take(&mut batch)));
        }
        let now = js_sys::Date::now();
        if now - last_progress >= PROGRESS_EVERY_MS {
            last_progress = now;
            on_progress(&job);
        }
        if cancel.get() {
            break;
        }
    }
    if let (Some(before), Some(diff)) = (before, diff.as_mut()) {
        if !cancel.get() {
            diff.removed = before.len() as u64;
            let mut removed: Vec<String> = before.into_keys().collect();
            finsync_core::order::sort(&mut removed);
            removed.truncate(ScanDiff::EXAMPLES);
            diff.removed_paths = removed;
        }
    }
    // The previous scan was found by the folder's name only. A folder that merely shares the
    // name (another card, another place on disk) has no file in common with it — same path,
    // size and lastModified — so it is not a re-scan of it: no diff, and its manifests must
    // not move to this scan.
    if !cancel.get() && diff.as_ref().is_some_and(|d| d.unchanged == 0) {
        diff = None;
    }
    job.diff = diff;
    job.state = if cancel.get() {
        ScanState::Cancelled
    } else {
        ScanState::Done
    };
    if let Some(done) = writing.take() {
        done.await.unwrap_or(Ok(()))?;
    }
    job.ended_at = Some(now_iso());
    job.ended_ms = Some(js_sys::Date::now());
    db::put_files(store, &job, &batch).await?;
    on_progress(&job);
    Ok(job)
}

/// Writes a batch (with the job's counts so far) in the background; the receiver says when it
/// committed.
fn write_batch(
    store: &Store,
    job: &ScanJob,
    batch: Vec<ScanFile>,
) -> oneshot::Receiver<Result<(), StoreError>> {
    let (tx, rx) = oneshot::channel();
    let (store, job) = (store.clone(), job.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let _ = tx.send(db::put_files(&store, &job, &batch).await);
    });
    rx
}

fn push_example(v: &mut Vec<String>, path: String) {
    if v.len() < ScanDiff::EXAMPLES {
        v.push(path);
    }
}
