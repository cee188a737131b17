//! PUT a `Blob` (a `File` or a slice of one) to a SAS URL with `XMLHttpRequest`, as one
//! Put Blob or, for big files, as blocks (Put Block + Put Block List).
//!
//! The body is the browser's own Blob: its bytes never enter WASM memory. XHR rather than
//! `fetch` because it reports upload progress and measured 17–21 % faster here
//! (shared/research/anchors.md). Dropping a future aborts its request.
//!
//! Block IDs are deterministic and of equal length (`base64("finsync-block-NNNNNN")`), so a
//! resumed upload — after a retry, a fresh SAS URL or a closed tab — reuses the blocks Azure
//! already holds (uncommitted blocks live for 7 days) instead of starting over. Which blocks
//! are staged is persisted by the caller after every block ([`BlockState`]).
//!
//! Integrity: each Put Block carries `Content-MD5`, the MD5 of that block, so the storage
//! service refuses a block whose bytes changed on the way (`400 Md5Mismatch`; Azurite says
//! `InvalidOperation`), and the block is sent again (twice at most). The blocks are hashed off
//! the page's main thread, in the block hasher's worker ([`crate::block_hasher`]), which reads
//! each block itself through a BYOB stream reader into one reused 1 MiB buffer; where no worker
//! can be had the page does the same ([`blob_md5`]; where `Blob.stream()` is no byte stream,
//! 1 MiB `slice().arrayBuffer()` reads instead). The request body is still the Blob slice, so
//! a block's bytes are read twice (by the worker, and for the request): sending the bytes the
//! worker read instead measured many times slower in Chromium, whose in-memory bodies (an
//! `ArrayBuffer`, or a Blob made of one) go out at a fraction of a File slice's speed
//! (tests/bench/body-kinds.mjs, 8 × 8 MiB: 0.30–0.36 s as File slices, 4.3–11.5 s as an
//! `ArrayBuffer`, 0.7–1.9 s as a Blob of one).
//! A single Put Blob (files up to [`BLOCK_THRESHOLD`]) sends no MD5: that would read every
//! small file once more in full, where sync otherwise reads 128 KiB of it for the fingerprint.
//! Its integrity check is the size at commit, and the service computes and stores the blob's
//! MD5, which commit records.

use std::cell::RefCell;
use std::rc::Rc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures::channel::oneshot;
use futures::StreamExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Blob, XmlHttpRequest};

use crate::block_hasher::{worker_url, BlockHasher};

/// Files above this size go as blocks.
pub const BLOCK_THRESHOLD: u64 = 32 * 1024 * 1024;
/// Block size: 8 MiB blocks measured clearly faster than 4 MiB here (anchors.md), and than
/// 16 MiB for a 1 GiB file (an experiment in tests/bench/upload.mjs, not kept: the bare pool with
/// Content-MD5 5.0 s with 8 MiB, 7.6 s with 16 MiB; with the MD5 hashed in a worker 8.0 s
/// against 9.4 s).
pub const BLOCK_SIZE: u64 = 8 * 1024 * 1024;
/// Bytes read into WASM at once to hash a block.
/// (1 MiB: with 256 KiB the reads themselves took a third as long as the hashing.)
const HASH_PIECE: u64 = 1024 * 1024;
/// Times one block is sent again after the service found its MD5 wrong.
const MD5_RETRIES: u32 = 2;

/// Why a PUT failed. The SAS signature never appears here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    #[error("the upload could not reach blob storage (network error)")]
    Network,
    #[error("the upload timed out")]
    Timeout,
    #[error("the upload was cancelled")]
    Aborted,
    #[error("blob storage answered {status}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status {
        status: u16,
        code: Option<String>,
        /// The answer's `Retry-After`, in ms from now.
        retry_after_ms: Option<u64>,
    },
    #[error("the browser refused the request: {0}")]
    Browser(String),
    #[error("could not save upload progress: {0}")]
    Persist(String),
}

enum Outcome {
    Loaded,
    Error,
    Timeout,
    Abort,
}

struct AbortOnDrop {
    xhr: XmlHttpRequest,
    done: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.xhr.abort();
        }
    }
}

/// The body of one request.
pub enum Body<'a> {
    Blob(&'a Blob),
    Text(&'a str),
}

/// One PUT with `headers`; `on_progress` gets the bytes sent so far.
pub async fn xhr_put(
    url: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
    timeout_ms: u32,
    on_progress: impl Fn(f64) + 'static,
) -> Result<(), PutError> {
    let browser = |e: wasm_bindgen::JsValue| PutError::Browser(format!("{e:?}"));
    let xhr = XmlHttpRequest::new().map_err(browser)?;
    xhr.open_with_async("PUT", url, true).map_err(browser)?;
    for (name, value) in headers {
        xhr.set_request_header(name, value).map_err(browser)?;
    }
    xhr.set_timeout(timeout_ms);

    let (tx, rx) = oneshot::channel::<Outcome>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let make = |outcome: fn() -> Outcome| {
        let tx = tx.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(outcome());
            }
        })
    };
    let onload = make(|| Outcome::Loaded);
    let onerror = make(|| Outcome::Error);
    let ontimeout = make(|| Outcome::Timeout);
    let onabort = make(|| Outcome::Abort);
    xhr.set_onload(Some(onload.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(ontimeout.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(onabort.as_ref().unchecked_ref()));
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
            on_progress(ev.loaded())
        });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    }

    let mut guard = AbortOnDrop {
        xhr: xhr.clone(),
        done: false,
    };
    match body {
        Body::Blob(b) => xhr.send_with_opt_blob(Some(b)),
        Body::Text(t) => xhr.send_with_opt_str(Some(t)),
    }
    .map_err(browser)?;
    let outcome = rx.await.unwrap_or(Outcome::Abort);
    guard.done = true;
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_ontimeout(None);
    xhr.set_onabort(None);
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(None);
    }
    match outcome {
        Outcome::Loaded => {
            let status = xhr.status().unwrap_or(0);
            if (200..300).contains(&status) {
                Ok(())
            } else {
                let code = xhr
                    .get_response_header("x-ms-error-code")
                    .ok()
                    .flatten()
                    .or_else(|| {
                        let text = xhr.response_text().ok().flatten()?;
                        let start = text.find("<Code>")? + 6;
                        let end = text[start..].find("</Code>")? + start;
                        Some(text[start..end].to_string())
                    });
                let retry_after_ms = xhr
                    .get_response_header("retry-after")
                    .ok()
                    .flatten()
                    .and_then(|v| crate::api::retry_after_ms(&v, js_sys::Date::now()));
                Err(PutError::Status {
                    status,
                    code,
                    retry_after_ms,
                })
            }
        }
        Outcome::Error => Err(PutError::Network),
        Outcome::Timeout => Err(PutError::Timeout),
        Outcome::Abort => Err(PutError::Aborted),
    }
}

/// PUTs `body` as one block blob (Put Blob).
pub async fn put_blob(
    url: &str,
    body: &Blob,
    content_type: &str,
    timeout_ms: u32,
    on_progress: impl Fn(f64) + 'static,
) -> Result<(), PutError> {
    xhr_put(
        url,
        &[
            ("x-ms-blob-type", "BlockBlob"),
            ("x-ms-blob-content-type", content_type),
        ],
        Body::Blob(body),
        timeout_ms,
        on_progress,
    )
    .await
}

/// The seed's PUT timeout: 60 s plus 10 s per MB of body (spec decision 2).
pub fn put_timeout_ms(size: u64) -> u32 {
    let ms = 60_000u64 + 10_000 * size.div_ceil(1_000_000);
    ms.min(u32::MAX as u64) as u32
}

/// Base64 of the MD5 of `blob`'s bytes `start..end` (a `Content-MD5` value).
///
/// Read through a BYOB stream reader into one reused [`HASH_PIECE`] buffer, so hashing a
/// gigabyte allocates no garbage: reading it as fresh `ArrayBuffer`s grew the page's memory by
/// over 200 MiB in the upload benchmark before the collector caught up. A browser whose
/// `Blob.stream()` is not a byte stream throws from `getReader({mode: 'byob'})`; then the
/// bytes are read piece by piece with `slice().arrayBuffer()` instead ([`blob_md5_sliced`]).
pub async fn blob_md5(blob: &Blob, start: u64, end: u64) -> Result<String, PutError> {
    use js_sys::{Function, Object, Reflect, Uint8Array};
    use wasm_bindgen_futures::JsFuture;
    let read_error = |e: wasm_bindgen::JsValue| {
        PutError::Browser(format!("cannot read the file to hash it: {e:?}"))
    };
    let piece = blob
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(read_error)?;
    // Called through Reflect so that a throw (no BYOB support) is an Err, not an abort.
    let stream = piece.stream();
    let options = Object::new();
    Reflect::set(&options, &"mode".into(), &"byob".into()).map_err(read_error)?;
    let reader = Reflect::get(&stream, &"getReader".into())
        .and_then(|f| f.dyn_into::<Function>())
        .and_then(|get_reader| get_reader.call1(&stream, &options));
    let reader: web_sys::ReadableStreamByobReader = match reader {
        Ok(reader) => reader.unchecked_into(),
        Err(_) => return blob_md5_sliced(blob, start, end).await,
    };
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; HASH_PIECE as usize];
    let mut view = Uint8Array::new_with_length(HASH_PIECE as u32);
    let mut total = 0u64;
    loop {
        let result = JsFuture::from(reader.read_with_array_buffer_view(&view))
            .await
            .map_err(read_error)?;
        let done = Reflect::get(&result, &"done".into())
            .map_err(read_error)?
            .as_bool()
            .unwrap_or(true);
        let value = Reflect::get(&result, &"value".into()).map_err(read_error)?;
        if done || value.is_undefined() {
            break;
        }
        // The buffer was transferred into the read and comes back in `value`.
        let got: Uint8Array = value.unchecked_into();
        let n = got.length() as usize;
        got.copy_to(&mut buf[..n]);
        hasher.update(&buf[..n]);
        total += n as u64;
        view = Uint8Array::new_with_byte_offset_and_length(&got.buffer(), 0, HASH_PIECE as u32);
    }
    check_hashed(total, start, end)?;
    Ok(B64.encode(hasher.finalize()))
}

/// [`blob_md5`] for browsers without BYOB readers: each [`HASH_PIECE`] is read as its own
/// `ArrayBuffer` (more garbage, same result).
pub async fn blob_md5_sliced(blob: &Blob, start: u64, end: u64) -> Result<String, PutError> {
    use js_sys::Uint8Array;
    use wasm_bindgen_futures::JsFuture;
    let read_error = |e: wasm_bindgen::JsValue| {
        PutError::Browser(format!("cannot read the file to hash it: {e:?}"))
    };
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; HASH_PIECE as usize];
    let mut total = 0u64;
    let mut at = start;
    while at < end {
        let to = (at + HASH_PIECE).min(end);
        let piece = blob
            .slice_with_f64_and_f64(at as f64, to as f64)
            .map_err(read_error)?;
        let bytes = JsFuture::from(piece.array_buffer())
            .await
            .map_err(read_error)?;
        let got = Uint8Array::new(&bytes);
        let n = (got.length() as usize).min(buf.len());
        got.subarray(0, n as u32).copy_to(&mut buf[..n]);
        hasher.update(&buf[..n]);
        total += n as u64;
        if (n as u64) < to - at {
            break;
        }
        at = to;
    }
    check_hashed(total, start, end)?;
    Ok(B64.encode(hasher.finalize()))
}

/// The file shrank (or the read stopped short) while it was being hashed.
pub(crate) fn check_hashed(total: u64, start: u64, end: u64) -> Result<(), PutError> {
    if total != end - start {
        return Err(PutError::Browser(format!(
            "read {total} bytes of the file to hash where {} were expected; the file may have changed",
            end - start
        )));
    }
    Ok(())
}

/// The deterministic ID of block `index` (all IDs have the same length, as Azure requires).
pub fn block_id(index: u32) -> String {
    B64.encode(format!("finsync-block-{index:06}"))
}

/// The Put Block List body committing blocks `0..count` in order.
pub fn block_list_xml(count: u32) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for i in 0..count {
        xml.push_str("<Latest>");
        xml.push_str(&block_id(i));
        xml.push_str("</Latest>");
    }
    xml.push_str("</BlockList>");
    xml
}

/// Which blocks of one blob are staged, persisted between attempts and page loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockState {
    pub block_size: u64,
    pub staged: Vec<u32>,
}

/// Where [`put_blocks`] records progress (IndexedDB in the app).
pub trait BlockLog {
    fn load(&self) -> futures::future::LocalBoxFuture<'_, Option<BlockState>>;
    fn save(&self, state: BlockState) -> futures::future::LocalBoxFuture<'_, Result<(), String>>;
}

/// Blocks hashed ahead of the uploads: the next block's MD5 is ready when an upload slot
/// frees, instead of the slot waiting for its block to be read and hashed (tens of ms per
/// 8 MiB block, during which one of the 4 slots sent nothing).
const HASH_AHEAD: usize = 3;
/// Workers hashing blocks: one reads and hashes about 420 MiB/s in Chromium here (twice what
/// the uploads take when it has a core to itself), and a second one measured slower (2 cores:
/// it took CPU from the uploads and Azurite).
const HASH_WORKERS: usize = 1;

/// The `Content-MD5` of each block of `todo`, in order, computed by a task of its own (in the
/// block hasher's worker, see [`crate::block_hasher`]) that runs up to [`HASH_AHEAD`] blocks
/// ahead of the receiver. The task stops after the first error (sent as the last item) or once
/// the receiver is dropped (the upload ended or was aborted).
fn hash_ahead(
    hasher: BlockHasher,
    file: Blob,
    size: u64,
    todo: Vec<u32>,
) -> futures::channel::mpsc::Receiver<Result<(u32, String), PutError>> {
    use futures::SinkExt;
    let (mut tx, rx) = futures::channel::mpsc::channel(HASH_AHEAD - 1);
    wasm_bindgen_futures::spawn_local(async move {
        // In order, as many at once as the hasher has workers.
        let parallel = hasher.parallelism();
        let mut hashes = futures::stream::iter(todo)
            .map(|i| {
                let (hasher, file) = (hasher.clone(), file.clone());
                async move {
                    let start = i as u64 * BLOCK_SIZE;
                    let end = (start + BLOCK_SIZE).min(size);
                    hasher.md5(&file, start, end).await.map(|md5| (i, md5))
                }
            })
            .buffered(parallel);
        while let Some(hashed) = hashes.next().await {
            let failed = hashed.is_err();
            if tx.send(hashed).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// Uploads `file` as 8 MiB blocks, `parallel` at a time, skipping blocks already staged, then
/// commits the block list. Bytes re-sent after an interruption are at most the blocks that
/// were in flight.
pub async fn put_blocks(
    url: &str,
    file: &Blob,
    content_type: &str,
    parallel: usize,
    log: &dyn BlockLog,
    on_progress: impl Fn(f64) + Clone + 'static,
) -> Result<(), PutError> {
    let size = file.size() as u64;
    let count = size.div_ceil(BLOCK_SIZE) as u32;
    let mut state = match log.load().await {
        Some(s) if s.block_size == BLOCK_SIZE => s,
        _ => BlockState {
            block_size: BLOCK_SIZE,
            staged: Vec::new(),
        },
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let staged_bytes = |staged: &[u32]| -> f64 {
        staged
            .iter()
            .map(|i| (size - *i as u64 * BLOCK_SIZE).min(BLOCK_SIZE) as f64)
            .sum()
    };
    let done = Rc::new(RefCell::new(staged_bytes(&state.staged)));
    on_progress(*done.borrow());
    let todo: Vec<u32> = (0..count).filter(|i| !state.staged.contains(i)).collect();
    let hasher = BlockHasher::new(&worker_url(), HASH_WORKERS);
    let hashes = hash_ahead(hasher, file.clone(), size, todo);
    let mut uploads = hashes
        .map(|hashed| {
            let progress = on_progress.clone();
            let done = done.clone();
            async move {
                let (i, md5) = hashed?;
                let start = i as u64 * BLOCK_SIZE;
                let end = (start + BLOCK_SIZE).min(size);
                let block_url = format!(
                    "{url}{sep}comp=block&blockid={}",
                    finsync_core::sas::encode_query(&block_id(i))
                );
                let slice = file
                    .slice_with_f64_and_f64(start as f64, end as f64)
                    .map_err(|e| PutError::Browser(format!("{e:?}")))?;
                let base = *done.borrow();
                let mut attempt = 0;
                loop {
                    let progress = progress.clone();
                    let sent = xhr_put(
                        &block_url,
                        &[("Content-MD5", &md5)],
                        Body::Blob(&slice),
                        put_timeout_ms(end - start),
                        move |n| progress(base + n),
                    )
                    .await;
                    match sent {
                        // Azure says `Md5Mismatch`; Azurite `InvalidOperation` ("Provided
                        // contentMD5 doesn't match."), the only one it gives a Put Block.
                        Err(PutError::Status {
                            status: 400, code, ..
                        }) if matches!(
                            code.as_deref(),
                            Some("Md5Mismatch" | "InvalidOperation")
                        ) && attempt < MD5_RETRIES =>
                        {
                            attempt += 1;
                        }
                        other => break other?,
                    }
                }
                *done.borrow_mut() += (end - start) as f64;
                Ok::<u32, PutError>(i)
            }
        })
        .buffer_unordered(parallel.clamp(1, 4));
    // Staged blocks are saved one snapshot at a time, the latest one, while the uploads go on:
    // awaiting each save in turn left the other blocks' hashing and answers unpolled (and
    // the next block unstarted) for an IndexedDB transaction per block.
    let mut saving: Option<futures::future::LocalBoxFuture<'_, Result<(), String>>> = None;
    let mut unsaved = false;
    let mut uploading = true;
    while uploading || saving.is_some() || unsaved {
        if saving.is_none() && unsaved {
            saving = Some(log.save(state.clone()));
            unsaved = false;
        }
        let next_upload = async {
            if uploading {
                uploads.next().await
            } else {
                futures::future::pending().await
            }
        };
        let save = async {
            match saving.as_mut() {
                Some(f) => f.await,
                None => futures::future::pending().await,
            }
        };
        let next_upload = std::pin::pin!(next_upload);
        let save = std::pin::pin!(save);
        match futures::future::select(next_upload, save).await {
            futures::future::Either::Left((Some(result), _)) => {
                state.staged.push(result?);
                unsaved = true;
                on_progress(*done.borrow());
            }
            futures::future::Either::Left((None, _)) => uploading = false,
            futures::future::Either::Right((saved, _)) => {
                saved.map_err(PutError::Persist)?;
                saving = None;
            }
        }
    }
    drop(uploads);
    let list_url = format!("{url}{sep}comp=blocklist");
    let xml = block_list_xml(count);
    let result = xhr_put(
        &list_url,
        &[("x-ms-blob-content-type", content_type)],
        Body::Text(&xml),
        put_timeout_ms(xml.len() as u64),
        |_| {},
    )
    .await;
    if let Err(PutError::Status { status: 400, .. }) = &result {
        // The service no longer has some block we thought staged: start over next attempt.
        log.save(BlockState {
            block_size: BLOCK_SIZE,
            staged: Vec::new(),
        })
        .await
        .map_err(PutError::Persist)?;
    }
    result
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// A Blob of `bytes` (for the block hasher's tests too).
    pub(crate) fn blob_of(bytes: &[u8]) -> Blob {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        Blob::new_with_u8_array_sequence(&parts).unwrap()
    }

    #[wasm_bindgen_test]
    async fn md5_of_a_known_text() {
        let blob = blob_of(b"The quick brown fox jumps over the lazy dog");
        // RFC 1321 test vector 9e107d9d372bb6826bd81d3542a419d6, base64.
        assert_eq!(
            blob_md5(&blob, 0, blob.size() as u64).await.unwrap(),
            "nhB9nTcrtoJr2B01QqQZ1g=="
        );
    }

    #[wasm_bindgen_test]
    async fn md5_of_a_range_across_hash_pieces() {
        // 2.5 pieces + 123 bytes: the last piece short.
        let len = (2 * HASH_PIECE + HASH_PIECE / 2 + 123) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let blob = blob_of(&bytes);
        let (start, end) = (1000usize, len - 7);
        let want = B64.encode(Md5::digest(&bytes[start..end]));
        assert_eq!(
            blob_md5(&blob, start as u64, end as u64).await.unwrap(),
            want
        );
        assert_ne!(
            blob_md5(&blob, start as u64 + 1, end as u64).await.unwrap(),
            want
        );
    }

    #[wasm_bindgen_test]
    async fn the_sliced_fallback_hashes_like_the_byob_reader() {
        let len = (2 * HASH_PIECE + HASH_PIECE / 2 + 123) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let blob = blob_of(&bytes);
        for (start, end) in [(0, len), (1000, len - 7), (5, 5 + HASH_PIECE as usize)] {
            let want = B64.encode(Md5::digest(&bytes[start..end]));
            let (s, e) = (start as u64, end as u64);
            assert_eq!(blob_md5_sliced(&blob, s, e).await.unwrap(), want);
            assert_eq!(blob_md5(&blob, s, e).await.unwrap(), want);
        }
        let text = blob_of(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            blob_md5_sliced(&text, 0, text.size() as u64).await.unwrap(),
            "nhB9nTcrtoJr2B01QqQZ1g=="
        );
    }

    #[wasm_bindgen_test]
    async fn a_browser_without_byob_readers_falls_back_instead_of_aborting() {
        use js_sys::{Function, Reflect};
        // Make getReader throw as it does where Blob.stream() is not a byte stream.
        let proto = Reflect::get(&js_sys::global(), &"ReadableStream".into())
            .and_then(|c| Reflect::get(&c, &"prototype".into()))
            .unwrap();
        let original = Reflect::get(&proto, &"getReader".into()).unwrap();
        let throwing = Function::new_no_args("throw new TypeError('no BYOB reader here')");
        Reflect::set(&proto, &"getReader".into(), &throwing).unwrap();
        let bytes: Vec<u8> = (0..(HASH_PIECE as usize + 99)).map(|i| i as u8).collect();
        let blob = blob_of(&bytes);
        let got = blob_md5(&blob, 3, bytes.len() as u64).await;
        Reflect::set(&proto, &"getReader".into(), &original).unwrap();
        assert_eq!(got.unwrap(), B64.encode(Md5::digest(&bytes[3..])));
    }
}
