//! Commit and server-side copy of upload sessions.
//!
//! Each follows the server's pattern: read in one transaction, do the blob I/O with no
//! database lock held, write the outcome in another transaction. Work on one session is
//! serialised by [`SessionLocks`], and the writes are idempotent (`UNIQUE(session_id)` on file
//! items, `UNIQUE(file_item_id, kind)` on jobs), so retries and concurrent requests end with
//! one file item and one job per image.
//!
//! Blob names: the client uploads straight to the original's final name,
//! `encounters/{encounter}/{key}/{file}`; until a commit records its file item such a blob is
//! not an image of the encounter (abandoned ones can be found from their sessions). Commit
//! verifies it (size, MD5, that its first bytes start an image whose headers fit in it), records the file item and
//! queues two jobs: `variants` (the background queue of [`crate::variants`] writes
//! `encounters/{encounter}/{key}/thumbnail.jpg` and `preview.jpg` to the variants container)
//! and `mlPipeline` (never run here). Commit answers without decoding anything. Uploading in
//! place rather than to a temporary name and copying at commit saves a copy of every byte, and
//! Azurite fails same-account copies of 1 GiB blobs (500).
//!
//! Uploading in place means the client's upload SAS (`sp=cw`, valid for minutes after the
//! commit) still names the committed original. Commit therefore locks it before verifying
//! ([`lock_and_verify`]): an infinite lease with an ID only the server can derive (a stale
//! client's PUT or Put Block List then fails with 412 `LeaseIdMissing`), and a snapshot, which
//! no SAS a client holds can change or delete (Write permits breaking a lease, not changing a
//! snapshot). The file item records the snapshot; every later read of the original uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use finsync_core::api::{ApiError, CommitResult, CopyResult, CopyStatus, SessionStatus};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::blob::{BlobError, BlobStore, CopyStart, Head, LeaseAcquire};
use crate::db;
use crate::error::AppError;
use crate::variants;
use crate::AppState;
use reqwest::StatusCode;

/// Per-session async locks (entries vanish when no one holds them).
#[derive(Default)]
pub struct SessionLocks {
    map: Mutex<HashMap<i64, Weak<tokio::sync::Mutex<()>>>>,
}

impl SessionLocks {
    pub async fn lock(&self, session_id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > 1024 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            match map.get(&session_id).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(session_id, Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

/// Where a committed original lives, and where clients upload it.
pub fn final_blob_name(encounter_id: i64, key: &str, file_name: &str) -> String {
    format!("encounters/{encounter_id}/{key}/{file_name}")
}

/// A variant's name in the variants container (`thumbnail` or `preview`).
pub fn variant_blob_name(encounter_id: i64, key: &str, variant: &str) -> String {
    format!("encounters/{encounter_id}/{key}/{variant}.jpg")
}

/// An upload session as commit and copy need it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub key: String,
    pub encounter_id: i64,
    pub size: u64,
    pub status: String,
    /// The blob the client uploads to: the original's final name ([`final_blob_name`]).
    pub blob: String,
    pub file_name: String,
    pub content_md5: Option<String>,
}

pub fn load_session(
    tx: &Transaction<'_>,
    population_id: i64,
    key: &str,
) -> Result<Option<SessionRow>, AppError> {
    Ok(tx
        .query_row(
            "SELECT id, encounter_id, size, status, blob_name, file_name, content_md5
             FROM upload_sessions WHERE population_id = ?1 AND idempotency_key = ?2",
            params![population_id, key],
            |r| {
                Ok(SessionRow {
                    id: r.get(0)?,
                    key: key.to_string(),
                    encounter_id: r.get(1)?,
                    size: r.get::<_, i64>(2)?.max(0) as u64,
                    status: r.get(3)?,
                    blob: r.get(4)?,
                    file_name: r.get(5)?,
                    content_md5: r.get(6)?,
                })
            },
        )
        .optional()?)
}

fn file_item_of(tx: &Transaction<'_>, session_id: i64) -> Result<Option<i64>, AppError> {
    Ok(tx
        .query_row(
            "SELECT id FROM file_items WHERE session_id = ?1",
            params![session_id],
            |r| r.get(0),
        )
        .optional()?)
}

fn api_error(code: &str, message: String) -> Option<ApiError> {
    Some(ApiError {
        code: code.to_string(),
        message,
    })
}

/// A per-image failure: stable code and a message naming the file.
pub type ItemError = (&'static str, String);

/// What commit stored for one verified image.
struct Ingested {
    final_blob: String,
    /// The snapshot that was verified (`x-ms-snapshot`): the committed bytes.
    snapshot: String,
    /// Base64 MD5 of the bytes (the service's, or computed when the client's had to be
    /// checked against the bytes).
    md5: Option<String>,
    /// Whether the variants queue should decode it (not larger than max-decode-bytes).
    decodable: bool,
}

fn md5_equal(a: &str, b: &str) -> bool {
    match (B64.decode(a.trim()), B64.decode(b.trim())) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Polls a copy's destination until its `x-ms-copy-status` settles or `timeout` passes
/// (100 ms, doubling up to 2 s between polls).
async fn wait_copy(
    store: &BlobStore,
    container: &str,
    blob: &str,
    timeout: Duration,
    file: &str,
) -> Result<Result<(), ItemError>, AppError> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        let props = store.props(container, blob).await?;
        match props {
            None => {
                return Ok(Err((
                    "copyFailed",
                    format!("{file}: the copy's destination blob disappeared"),
                )))
            }
            Some(p) => match p.copy_status.as_deref() {
                None | Some("success") => return Ok(Ok(())),
                Some("pending") => {}
                Some(other) => {
                    return Ok(Err((
                        "copyFailed",
                        format!(
                            "{file}: the storage service reports the copy {other}: {}",
                            p.copy_status_description.unwrap_or_default()
                        ),
                    )))
                }
            },
        }
        if Instant::now() >= deadline {
            return Ok(Err((
                "copyTimeout",
                format!(
                    "{file}: the copy was still pending after {} s; send it again to restart it",
                    timeout.as_secs()
                ),
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Locks the session's blob for good, then verifies what it locked.
///
/// The client uploads straight to the final name with a SAS that can still write it after the
/// commit (`sp=cw` until it expires). So commit first acquires an infinite lease whose ID only
/// the server can derive ([`BlobStore::lease_id`]): from then on a PUT, Put Block or Put Block
/// List without that ID fails at the storage service (412 `LeaseIdMissing`). The storage
/// service lets a Write SAS *break* a lease too, so commit then takes a snapshot — read-only
/// forever, and deleting it needs the Delete permission no client gets — and verifies that:
/// the verified bytes are the snapshot's, and every later read of the original goes to it.
/// When verification fails, the lease is released and the snapshot deleted, so the client can
/// upload again under the same session.
///
/// Three storage calls per image: Acquire Lease (its 404 is the missing blob), Snapshot Blob,
/// and one ranged Get Blob of the snapshot, whose headers carry the size, the stored MD5 and
/// the copy status ([`BlobStore::read_head`]). A fourth, a full download, only when the client
/// declared an MD5 the service does not have (block uploads).
///
/// Cost to Azurite 3.35 (`tests/bench/commitcost.mjs`): about 0.9 ms of its CPU for the lease,
/// 0.9 ms for the snapshot and 1.6–2 ms for the ranged read (Azurite reads a range of up to
/// 4 MiB twice and hashes it), against about 18 ms for the client's Put Blob of 5 MiB — the
/// same from 25 to 2,000 images in the container. Each call carries one guarantee: the lease
/// refuses a stale client's writes, the snapshot keeps the verified bytes from a client that
/// breaks the lease, the read is the verification; neither response of the first two carries
/// the blob's size, MD5 or bytes (only ETag and Last-Modified), and a smaller read saves
/// about 0.3 ms while it leaves more JPEG headers unchecked.
async fn lock_and_verify(
    s: &AppState,
    row: &SessionRow,
) -> Result<Result<Ingested, ItemError>, AppError> {
    let file = row.file_name.as_str();
    let container = s.blob.container();
    let missing = || {
        Ok(Err((
            "blobMissing",
            format!("{file}: the blob was never uploaded"),
        )))
    };
    let copy_pending = || {
        Ok(Err((
            "copyPending",
            format!(
                "{file}: a server-side copy into this blob is still running; commit again later"
            ),
        )))
    };
    let lease = s.blob.lease_id(container, &row.blob);
    let mut broken = false;
    loop {
        match s.blob.acquire_lease(container, &row.blob, &lease).await? {
            LeaseAcquire::Held => break,
            LeaseAcquire::Missing => return missing(),
            // Only a holder of the upload SAS can have leased it (Write permits leases), and
            // the blob is not committed yet: the server takes it back, once.
            LeaseAcquire::HeldByOther if !broken => {
                s.blob.break_lease(container, &row.blob).await?;
                broken = true;
            }
            LeaseAcquire::HeldByOther => {
                return Ok(Err((
                    "blobBusy",
                    format!("{file}: another client is holding the blob; commit again"),
                )))
            }
        }
    }
    let snapshot = match s.blob.snapshot(container, &row.blob).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            unlock(s, row, &lease, None).await;
            return missing();
        }
        // Azure refuses to snapshot a blob a pending copy is still writing.
        Err(BlobError::Status { status, body, .. })
            if status == StatusCode::CONFLICT && body.contains("PendingCopyOperation") =>
        {
            unlock(s, row, &lease, None).await;
            return copy_pending();
        }
        Err(e) => {
            unlock(s, row, &lease, None).await;
            return Err(e.into());
        }
    };
    let verdict = verify(s, row, &snapshot).await;
    if !matches!(verdict, Ok(Ok(_))) {
        unlock(s, row, &lease, Some(&snapshot)).await;
    }
    verdict
}

/// How often [`unlock`] tries each call, and the pause before the second and third try.
const UNLOCK_TRIES: u32 = 3;
const UNLOCK_BACKOFF: Duration = Duration::from_millis(200);

/// Undoes [`lock_and_verify`]'s lease and snapshot after a failed verification, so the client
/// can upload again. Each call is tried up to three times (200 ms, then 400 ms apart); a
/// failure after that is logged. A lease that stays held is not for good: the next commit or
/// copy of the key acquires the same lease again, and asking for the session again (which the
/// app does when a PUT is answered 412 `LeaseIdMissing`) breaks it ([`free_for_upload`]).
async fn unlock(s: &AppState, row: &SessionRow, lease: &str, snapshot: Option<&str>) {
    let container = s.blob.container();
    if let Some(t) = snapshot {
        if let Err(e) = with_retries(|| s.blob.delete_snapshot(container, &row.blob, t)).await {
            tracing::warn!(session = row.id, error = %e, "cannot delete a refused upload's snapshot");
        }
    }
    if let Err(e) = with_retries(|| s.blob.release_lease(container, &row.blob, lease)).await {
        tracing::warn!(session = row.id, error = %e, "cannot release a refused upload's lease");
    }
}

/// Runs `call` up to [`UNLOCK_TRIES`] times with a doubling pause, until it succeeds.
async fn with_retries<F, Fut>(mut call: F) -> Result<(), BlobError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BlobError>>,
{
    let mut delay = UNLOCK_BACKOFF;
    let mut tries = 1;
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) if tries >= UNLOCK_TRIES => return Err(e),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                tries += 1;
            }
        }
    }
}

/// Makes an uncommitted session's blob writable again before its upload URL is handed out
/// once more: breaks whatever lease it has (one Lease Blob call; no blob or no lease is not an
/// error). A lease on an uncommitted blob guards nothing — it is left by a refused commit whose
/// release failed, an interrupted commit, or a client — but it refuses the client's PUT (412
/// `LeaseIdMissing`), and nothing else on the upload path would remove it. Runs under the
/// session's lock and re-checks that no commit finished meanwhile, so it never breaks the lease
/// of a committed original. Best effort: a failure is logged (the PUT then fails visibly, and
/// the app's next request for the session tries again).
pub async fn free_for_upload(s: AppState, session_id: i64, blob: String) {
    let _guard = s.session_locks.lock(session_id).await;
    match s.db.tx(move |tx| file_item_of(tx, session_id)).await {
        Ok(None) => {}
        Ok(Some(_)) => return,
        Err(e) => {
            tracing::warn!(session = session_id, error = %e, "cannot check a session before freeing its blob");
            return;
        }
    }
    let container = s.blob.container();
    if let Err(e) = with_retries(|| s.blob.break_lease(container, &blob)).await {
        tracing::warn!(session = session_id, error = %e, "cannot break the lease of an uncommitted blob");
    }
}

/// Verifies one session's blob, as of `snapshot`: it has the declared size and the client's
/// MD5 (when one was given), and starts like an image. One ranged read of the snapshot gives
/// the first bytes and the whole blob's properties; reads the blob whole only when a client
/// MD5 has no service MD5 to compare with (block uploads); decoding and variants are the
/// queue's.
async fn verify(
    s: &AppState,
    row: &SessionRow,
    snapshot: &str,
) -> Result<Result<Ingested, ItemError>, AppError> {
    let file = row.file_name.as_str();
    let container = s.blob.container();
    let source = row.blob.clone();
    let at = Some(snapshot);
    let gone = || {
        Ok(Err((
            "blobMissing",
            format!("{file}: the blob disappeared during the commit"),
        )))
    };
    let Some(Head { props, bytes: head }) = s
        .blob
        .read_head(container, &source, at, variants::HEADER_BYTES)
        .await?
    else {
        return gone();
    };
    // The snapshot carries the base blob's copy status at the time it was taken.
    if props.copy_status.as_deref() == Some("pending") {
        return Ok(Err((
            "copyPending",
            format!(
                "{file}: a server-side copy into this blob is still running; commit again later"
            ),
        )));
    }
    if props.size != row.size {
        return Ok(Err((
            "sizeMismatch",
            format!(
                "{file}: uploaded {} bytes, expected {}",
                props.size, row.size
            ),
        )));
    }
    if let (Some(want), Some(have)) = (&row.content_md5, &props.content_md5) {
        if !md5_equal(want, have) {
            return Ok(Err((
                "md5Mismatch",
                format!(
                    "{file}: the stored blob's Content-MD5 {have} differs from the file's {want}"
                ),
            )));
        }
    }
    let mut md5 = props.content_md5.clone();
    if let (Some(want), None) = (&row.content_md5, &props.content_md5) {
        let Some(dl) = s.blob.download(container, &source, at, 0).await? else {
            return gone();
        };
        let actual = B64.encode(dl.md5);
        if dl.size != row.size {
            return Ok(Err((
                "sizeMismatch",
                format!("{file}: uploaded {} bytes, expected {}", dl.size, row.size),
            )));
        }
        if !md5_equal(want, &actual) {
            return Ok(Err((
                "md5Mismatch",
                format!(
                    "{file}: the uploaded bytes have MD5 {actual}, the file {want}; upload it again"
                ),
            )));
        }
        md5 = Some(actual);
    }
    if let Err(e) = variants::check_header(&head, props.size) {
        return Ok(Err(("undecodable", header_message(file, &e))));
    }
    Ok(Ok(Ingested {
        final_blob: source,
        snapshot: snapshot.to_string(),
        md5,
        decodable: props.size <= s.config.max_decode_bytes,
    }))
}

/// What the person reads for a file whose first bytes are refused: a damaged copy is copied
/// again, an intact file of another format is converted.
fn header_message(file: &str, e: &variants::HeaderError) -> String {
    match e {
        variants::HeaderError::Damaged(_) => format!(
            "{file}: not a readable JPEG, PNG, TIFF or BMP image ({e}): the file is damaged \
             or cut short — copy it again from the camera card and sync again"
        ),
        variants::HeaderError::Unsupported { format: Some(_) } => format!(
            "{file}: not a readable JPEG, PNG, TIFF or BMP image ({e}): convert it to JPEG \
             and sync again"
        ),
        variants::HeaderError::Unsupported { format: None } => format!(
            "{file}: not a readable JPEG, PNG, TIFF or BMP image ({e}): if it is a photo in \
             another format, convert it to JPEG and sync again; if it is a JPEG, the file is \
             damaged — copy it again from the camera card"
        ),
    }
}

fn record_failure(
    tx: &Transaction<'_>,
    population_id: i64,
    actor: &str,
    session_id: i64,
    code: &str,
    message: &str,
) -> Result<(), AppError> {
    tx.execute(
        "UPDATE upload_sessions SET status = 'error', error = ?2, updated_at = ?3 WHERE id = ?1",
        params![session_id, message, crate::now_unix()],
    )?;
    db::audit_in(
        tx,
        Some(population_id),
        actor,
        "session.error",
        &format!("session {session_id}: {code}"),
    )
}

/// Commits one key of a population (see the module docs).
pub async fn commit_one(
    s: AppState,
    population_id: i64,
    actor: String,
    key: String,
) -> Result<CommitResult, AppError> {
    let failed = |key: String, code: &str, message: String| CommitResult {
        idempotency_key: key,
        status: SessionStatus::Error,
        file_item_id: None,
        error: api_error(code, message),
    };
    let k = key.clone();
    let row =
        s.db.tx(move |tx| load_session(tx, population_id, &k))
            .await?;
    let Some(row) = row else {
        return Ok(failed(
            key,
            "unknownSession",
            "no upload session has this key; create one first".into(),
        ));
    };
    // The lock, verification and record run as a task of their own, which a cancelled request
    // (a client that gave up waiting) does not abort: a commit that has taken its snapshot
    // always records it, so the client's retry finds the file item instead of taking a second
    // snapshot and leaving the first one orphaned.
    tokio::spawn(commit_locked(s, population_id, actor, row))
        .await
        .map_err(|e| AppError::Internal(format!("commit task failed: {e}")))?
}

/// [`commit_one`] under the session's lock.
async fn commit_locked(
    s: AppState,
    population_id: i64,
    actor: String,
    row: SessionRow,
) -> Result<CommitResult, AppError> {
    let key = row.key.clone();
    let complete = |key: String, id: i64| CommitResult {
        idempotency_key: key,
        status: SessionStatus::Complete,
        file_item_id: Some(id),
        error: None,
    };
    let failed = |key: String, code: &str, message: String| CommitResult {
        idempotency_key: key,
        status: SessionStatus::Error,
        file_item_id: None,
        error: api_error(code, message),
    };
    let _guard = s.session_locks.lock(row.id).await;
    // Re-read under the lock: a concurrent commit may have finished it.
    let sid = row.id;
    if let Some(id) = s.db.tx(move |tx| file_item_of(tx, sid)).await? {
        return Ok(complete(key, id));
    }
    let verdict = lock_and_verify(&s, &row).await?;
    let queue = s.variants.clone();
    let result = s.db.tx(move |tx| {
        let ingested = match verdict {
            Err((code, message)) => {
                record_failure(tx, population_id, &actor, row.id, code, &message)?;
                return Ok(failed(row.key, code, message));
            }
            Ok(i) => i,
        };
        let now = crate::now_unix();
        tx.execute(
            "INSERT OR IGNORE INTO file_items (session_id, encounter_id, blob_name, file_name, size,
             created_at, content_md5, blob_snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                row.id,
                row.encounter_id,
                ingested.final_blob,
                row.file_name,
                row.size as i64,
                now,
                ingested.md5,
                ingested.snapshot
            ],
        )?;
        let created = tx.changes() > 0;
        let item = file_item_of(tx, row.id)?
            .ok_or_else(|| AppError::Internal("file item vanished".into()))?;
        tx.execute(
            "UPDATE upload_sessions SET status = 'complete', error = NULL, updated_at = ?2 WHERE id = ?1",
            params![row.id, now],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO jobs (population_id, encounter_id, file_item_id, kind, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'mlPipeline', 'queued', ?4, ?4)",
            params![population_id, row.encounter_id, item, now],
        )?;
        if ingested.decodable {
            tx.execute(
                "INSERT OR IGNORE INTO jobs (population_id, encounter_id, file_item_id, kind, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'variants', 'queued', ?4, ?4)",
                params![population_id, row.encounter_id, item, now],
            )?;
        }
        if created {
            db::audit_in(
                tx,
                Some(population_id),
                &actor,
                "fileItem.create",
                &format!(
                    "file item {item} (session {}) in encounter {}; variants and mlPipeline jobs queued",
                    row.id, row.encounter_id
                ),
            )?;
        }
        Ok(complete(row.key, item))
    })
    .await?;
    queue.notify();
    Ok(result)
}

/// Why the storage service refused a copy, as a per-item error a person can act on. The app
/// quotes the service's words between `<code>: ` and the advice (`finsync_core::cloud::
/// copy_error`): keep that shape.
pub fn classify_copy_refusal(status: u16, code: &str, message: &str, file: &str) -> ItemError {
    match code {
        "CannotVerifyCopySource" if status == 404 => (
            "copySourceNotFound",
            format!(
                "{file}: the storage service cannot find the source blob (404 CannotVerifyCopySource: \
                 {message}). Check the URL: it must name an existing blob the storage service can \
                 reach (Azurite copies only between accounts of one Azurite instance)."
            ),
        ),
        "CannotVerifyCopySource" => (
            "copySourceDenied",
            format!(
                "{file}: the storage service could not read the source blob ({status} \
                 CannotVerifyCopySource: {message}). The source SAS has probably expired, lacks \
                 Read permission, or is restricted to other IP addresses (the storage service \
                 reads the source, not your browser). Create a new read SAS (Read + List, \
                 srt=sco for an account SAS, no IP restriction) and send the copy again."
            ),
        ),
        "AuthenticationFailed" => (
            "copySourceAuthFailed",
            format!(
                "{file}: the source SAS was rejected ({status} AuthenticationFailed: {message}). \
                 This is typical of an IP-restricted SAS token: remove the IP restriction or sign \
                 the SAS from the connection string, then send the copy again."
            ),
        ),
        _ => (
            "copyFailed",
            format!("{file}: the storage service refused the copy ({status} {code}: {message})"),
        ),
    }
}

/// Copies `source_url` into one session's blob.
pub async fn copy_one(
    s: AppState,
    population_id: i64,
    actor: String,
    key: String,
    source_url: String,
) -> Result<CopyResult, AppError> {
    let result = |key: String, status: CopyStatus, error: Option<ItemError>| CopyResult {
        idempotency_key: key,
        status,
        error: error.and_then(|(c, m)| api_error(c, m)),
    };
    let k = key.clone();
    let row =
        s.db.tx(move |tx| load_session(tx, population_id, &k))
            .await?;
    let Some(row) = row else {
        return Ok(result(
            key,
            CopyStatus::Error,
            Some((
                "unknownSession",
                "no upload session has this key; create one (with the file's name and size) first"
                    .into(),
            )),
        ));
    };
    let _guard = s.session_locks.lock(row.id).await;
    let sid = row.id;
    if s.db.tx(move |tx| file_item_of(tx, sid)).await?.is_some() {
        return Ok(result(key, CopyStatus::Complete, None));
    }
    let container = s.blob.container();
    let file = row.file_name.as_str();
    let timeout = Duration::from_secs(s.config.copy_timeout_secs);
    // A copy an earlier request started may still be running (that request timed out, here or
    // at the client): wait for it rather than start another, which the storage service would
    // refuse (409 PendingCopyOperation).
    let running = s
        .blob
        .props(container, &row.blob)
        .await?
        .is_some_and(|p| p.copy_status.as_deref() == Some("pending"));
    let start_copy = || {
        s.blob.start_copy(
            container,
            &row.blob,
            &source_url,
            s.config.copy_put_from_url,
        )
    };
    let start = if running {
        CopyStart::Pending
    } else {
        start_copy().await?
    };
    // A commit interrupted between its lease and its answer (or a client holding the upload
    // SAS) can leave a lease on the uncommitted blob, which refuses the copy: break it (no
    // file item exists, so it guards nothing) and start once more.
    let start = match start {
        CopyStart::Refused {
            status: 412, code, ..
        } if code == "LeaseIdMissing" => {
            s.blob.break_lease(container, &row.blob).await?;
            start_copy().await?
        }
        other => other,
    };
    let outcome = match start {
        CopyStart::Done => Ok(()),
        CopyStart::Pending => wait_copy(&s.blob, container, &row.blob, timeout, file).await?,
        CopyStart::Refused {
            status,
            code,
            message,
        } => Err(classify_copy_refusal(status, &code, &message, file)),
    };
    let k = row.key.clone();
    s.db.tx(move |tx| match outcome {
        Ok(()) => {
            tx.execute(
                "UPDATE upload_sessions SET status = 'pending', error = NULL, updated_at = ?2 WHERE id = ?1",
                params![row.id, crate::now_unix()],
            )?;
            db::audit_in(
                tx,
                Some(population_id),
                &actor,
                "blob.copy",
                &format!("session {} copied from a source blob", row.id),
            )?;
            Ok(result(k, CopyStatus::Copied, None))
        }
        Err((code, message)) => {
            record_failure(tx, population_id, &actor, row.id, code, &message)?;
            Ok(result(k, CopyStatus::Error, Some((code, message))))
        }
    })
    .await
}

/// Runs `f` over `items` with at most `limit` in flight; results in input order.
pub async fn bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Result<Vec<R>, AppError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, AppError>> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let n = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(format!("semaphore closed: {e}")))?;
        let fut = f(item);
        set.spawn(async move {
            let _permit = permit;
            (i, fut.await)
        });
    }
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Ok(r))) => out[i] = Some(r),
            Ok((_, Err(e))) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(AppError::Internal(format!("task failed: {e}")));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    out.into_iter()
        .map(|r| r.ok_or_else(|| AppError::Internal("a result is missing".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::header_message;
    use crate::variants::check_header;

    /// Azurite finishes every copy at once, so the polling of an asynchronous copy (as real
    /// Azure does across accounts) is checked against a stand-in blob endpoint that answers
    /// the destination's HEAD with a scripted `x-ms-copy-status` sequence.
    mod polling {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, Instant};

        use axum::http::{HeaderMap, StatusCode};
        use clap::Parser;

        use super::super::wait_copy;
        use crate::blob::BlobStore;
        use crate::config::Config;

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }

        /// A blob endpoint whose HEADs answer `script[n]` for the n-th request (the last one
        /// repeats); `None` is a 404. Returns the store and the request counter.
        async fn storage(
            script: Vec<Option<(&'static str, &'static str)>>,
        ) -> (BlobStore, Arc<AtomicUsize>) {
            let hits = Arc::new(AtomicUsize::new(0));
            let counter = hits.clone();
            let app = axum::Router::new().fallback(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let step = script[n.min(script.len() - 1)];
                async move {
                    let mut h = HeaderMap::new();
                    match step {
                        None => (StatusCode::NOT_FOUND, h),
                        Some((status, description)) => {
                            h.insert("content-length", "10".parse().unwrap());
                            h.insert("x-ms-copy-status", status.parse().unwrap());
                            h.insert("x-ms-copy-status-description", description.parse().unwrap());
                            (StatusCode::OK, h)
                        }
                    }
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move { axum::serve(listener, app).await });
            let conn = format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
            );
            let cli = Cli::parse_from(["finsync-server", "--blob-connection-string", &conn]);
            (BlobStore::new(&cli.config).unwrap(), hits)
        }

        const PENDING: Option<(&str, &str)> = Some(("pending", "10/100"));

        #[tokio::test]
        async fn a_pending_copy_is_polled_until_it_succeeds() {
            let (store, hits) = storage(vec![PENDING, PENDING, Some(("success", ""))]).await;
            let r = wait_copy(&store, "c", "b.jpg", Duration::from_secs(30), "b.jpg")
                .await
                .unwrap();
            assert_eq!(r, Ok(()));
            assert_eq!(hits.load(Ordering::SeqCst), 3);
        }

        #[tokio::test]
        async fn a_failed_or_vanished_copy_is_an_item_error_with_the_services_reason() {
            let (store, _) = storage(vec![
                PENDING,
                Some(("failed", "500 InternalError sig=abc copying")),
            ])
            .await;
            let (code, msg) = wait_copy(&store, "c", "b.jpg", Duration::from_secs(30), "b.jpg")
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(code, "copyFailed");
            assert!(msg.starts_with("b.jpg: ") && msg.contains("failed: 500 InternalError"));
            assert!(!msg.contains("sig=abc"), "{msg}");
            let (store, _) = storage(vec![PENDING, None]).await;
            let (code, msg) = wait_copy(&store, "c", "b.jpg", Duration::from_secs(30), "b.jpg")
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(code, "copyFailed");
            assert!(msg.contains("disappeared"), "{msg}");
        }

        #[tokio::test]
        async fn a_copy_still_pending_at_the_timeout_is_a_copy_timeout() {
            let (store, hits) = storage(vec![PENDING]).await;
            let t0 = Instant::now();
            let (code, msg) = wait_copy(&store, "c", "b.jpg", Duration::from_secs(1), "b.jpg")
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(code, "copyTimeout");
            assert!(msg.contains("still pending after 1 s"), "{msg}");
            let waited = t0.elapsed();
            assert!(waited >= Duration::from_secs(1), "{waited:?}");
            // Backoff: 100, 200, 400, 800 ms… — a handful of polls, not a busy loop.
            let n = hits.load(Ordering::SeqCst);
            assert!((3..=7).contains(&n), "{n} polls");
        }
    }

    #[test]
    fn only_damaged_files_are_told_to_be_copied_again() {
        let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
        let e = check_header(heic, 4096).unwrap_err();
        let m = header_message("IMG_0001.HEIC", &e);
        assert!(m.starts_with("IMG_0001.HEIC: not a readable JPEG"), "{m}");
        assert!(
            m.contains("it is a HEIC image") && m.contains("convert it to JPEG"),
            "{m}"
        );
        assert!(!m.contains("camera card"), "{m}");

        let e = check_header(b"GIF89a\x01\x00\x01\x00", 10).unwrap_err();
        let m = header_message("a.gif", &e);
        assert!(
            m.contains("it is a GIF image") && m.contains("convert it to JPEG"),
            "{m}"
        );
        assert!(!m.contains("damaged"), "{m}");

        // A JPEG cut short inside its headers: the copy is broken.
        let cut = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F'];
        let e = check_header(&cut, cut.len() as u64).unwrap_err();
        let m = header_message("E-half.jpg", &e);
        assert!(m.contains("not a readable JPEG"), "{m}");
        assert!(
            m.contains("damaged or cut short") && m.contains("camera card"),
            "{m}"
        );
    }
}
