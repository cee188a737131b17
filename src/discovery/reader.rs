//! Reads the start of a scan's files off the page's main thread, in dedicated workers
//! ([`WORKERS`] of `public/scan-reader.js`, copied to the root of the bundle), and in the page
//! itself where no worker can be had.
//!
//! Why: a `File` of an `<input webkitdirectory>` list learns its size and date only when asked:
//! the first `size`, `lastModified` or `slice()` asks the browser process synchronously to stat
//! it (`Blob::CaptureSnapshot`, kept after), and every `slice()` also registers the new blob
//! synchronously (`BlobRegistry::Register`). Done in the page, those calls were most of a scan's
//! time (the main thread ~96 % busy in them, the disk not). The worker makes the slice instead:
//! the page posts the `File` (or the `FileSystemFileHandle` of a picked folder: `getFile()` then
//! runs there too) and gets back size, lastModified and the bytes (the buffer transferred).
//! Posting a `File` still costs the page one synchronous call — the serialisation captures the
//! snapshot; there is no MIME lookup (a Chromium 156 trace, tests/bench/file-calls.mjs) — where
//! the I/O floor's `slice()` costs it two; a handle costs none. That one call is where the
//! page's thread spends most of a scan: it is mostly blocked in it, not working (the scan's
//! CPU per file, page and browser together, is about the floor's — `BENCH_SCAN_CPU_SPLIT` of
//! tests/bench/scan.mjs).
//!
//! Requests are posted in batches ([`WorkerPool::ask_batched`]): they wait in the page until 4
//! are queued or the workers are about to run dry, then go in one message to one worker; the
//! worker sends its replies in small batches too. A message costs both threads a task, a
//! deserialisation and an event, more than a request in it does. When the worker cannot be
//! created, fails to load (a missing file, a policy) or dies, every request waiting on it and
//! every later one is served in the page, the way the scan read before ([`in_page_head`],
//! [`in_page_range`]): the same results and the same per-file errors.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, FileSystemFileHandle};

use finsync_core::metadata::INITIAL_PREFIX_BYTES;

use crate::files::js_error_text;
use crate::sync::plan::{read_all, slice_bytes};
use crate::worker_pool::{get, set, WorkerPool};

/// The worker's script, relative to the page (it sits next to `index.html`).
pub const WORKER_URL: &str = "scan-reader.js";

/// Where the scan's worker is loaded from: [`WORKER_URL`]; in the crate's browser tests, where
/// no bundle is served, a `blob:` URL of the same script, so they go through it too.
pub fn worker_url() -> String {
    #[cfg(test)]
    {
        thread_local! {
            static URL: String = crate::worker_pool::blob_script_url(include_str!(
                "../../public/scan-reader.js"
            ));
        }
        URL.with(Clone::clone)
    }
    #[cfg(not(test))]
    {
        WORKER_URL.to_string()
    }
}

/// An image the walk found: a `File` (a `FileList`'s) or a picked folder's file handle (opened
/// by the reader).
#[derive(Clone)]
pub enum ImageRef {
    File(File),
    Handle(FileSystemFileHandle),
}

impl ImageRef {
    fn js(&self) -> &JsValue {
        match self {
            ImageRef::File(f) => f,
            ImageRef::Handle(h) => h,
        }
    }

    /// The `File` (a handle's `getFile()`), or why it cannot be opened.
    async fn open(&self) -> Result<File, String> {
        match self {
            ImageRef::File(f) => Ok(f.clone()),
            ImageRef::Handle(h) => JsFuture::from(h.get_file())
                .await
                .map(JsCast::unchecked_into)
                .map_err(|e| js_error_text(&e)),
        }
    }
}

/// The start of a file, as [`FileReader::head`] read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// Its first [`INITIAL_PREFIX_BYTES`] (all of it when it is no larger).
    Bytes {
        size: u64,
        last_modified: f64,
        bytes: Vec<u8>,
    },
    /// It still has the `known` size and lastModified: nothing was read.
    Kept { size: u64, last_modified: f64 },
    /// A handle's file could not be opened (moved or deleted): the browser's error text.
    OpenFailed(String),
    /// The read failed (size and date as far as they were had).
    ReadFailed {
        size: u64,
        last_modified: f64,
        message: String,
    },
}

/// Reads files' heads and further ranges through the scan worker, or in the page.
#[derive(Clone)]
pub struct FileReader(WorkerPool);

/// Workers a reader starts: each file's head costs a worker a synchronous call to the browser
/// process (a `slice()` registers a blob), so two read while one waits.
pub const WORKERS: usize = 2;

impl FileReader {
    /// A reader over [`WORKERS`] workers of the script at `url` ([`worker_url`] in the app); in
    /// the page when none can be created.
    pub fn new(url: &str) -> FileReader {
        FileReader(WorkerPool::new(url, WORKERS))
    }

    /// A reader that reads in the page's own thread.
    pub fn in_page() -> FileReader {
        FileReader(WorkerPool::none())
    }

    /// Whether reads go to a worker (until it fails).
    pub fn uses_worker(&self) -> bool {
        !self.0.is_empty()
    }

    /// Sends `request` to a worker; the reply, or `None` when there is no worker (any more).
    /// Requests go in batches ([`WorkerPool::ask_batched`]).
    async fn ask(&self, request: js_sys::Object) -> Option<JsValue> {
        self.0.ask_batched(request).await
    }

    /// The first [`INITIAL_PREFIX_BYTES`] of `src`, or [`Head::Kept`] when it has the `known`
    /// size and lastModified.
    pub async fn head(&self, src: &ImageRef, known: Option<(u64, f64)>) -> Head {
        let request = js_sys::Object::new();
        set(&request, "src", src.js());
        set(&request, "start", &JsValue::from(0));
        set(&request, "end", &JsValue::NULL);
        set(&request, "known", &pair(known));
        match self.ask(request).await {
            Some(reply) => head_of(&reply),
            None => in_page_head(src, known).await,
        }
    }

    /// The bytes `[start, end)` of `src`, which had `expect` (size, lastModified) at its head.
    pub async fn range(
        &self,
        src: &ImageRef,
        start: u64,
        end: u64,
        expect: (u64, f64),
    ) -> Result<Vec<u8>, String> {
        let request = js_sys::Object::new();
        set(&request, "src", src.js());
        set(&request, "start", &JsValue::from(start as f64));
        set(&request, "end", &JsValue::from(end as f64));
        set(&request, "expect", &pair(Some(expect)));
        match self.ask(request).await {
            Some(reply) => match head_of(&reply) {
                Head::Bytes { bytes, .. } => Ok(bytes),
                Head::OpenFailed(m) | Head::ReadFailed { message: m, .. } => Err(m),
                Head::Kept { .. } => Err("the reader answered a range with no bytes".into()),
            },
            None => in_page_range(src, start, end, expect).await,
        }
    }
}

fn pair(p: Option<(u64, f64)>) -> JsValue {
    match p {
        Some((size, lm)) => {
            js_sys::Array::of2(&JsValue::from(size as f64), &JsValue::from(lm)).into()
        }
        None => JsValue::NULL,
    }
}

/// A worker reply as a [`Head`].
fn head_of(reply: &JsValue) -> Head {
    let size = get(reply, "size").as_f64().unwrap_or(0.0) as u64;
    let last_modified = get(reply, "lastModified").as_f64().unwrap_or(0.0);
    let error = get(reply, "error");
    if !error.is_undefined() {
        let message = js_error_text(&error);
        return if get(reply, "stage").as_string().as_deref() == Some("open") {
            Head::OpenFailed(message)
        } else {
            Head::ReadFailed {
                size,
                last_modified,
                message,
            }
        };
    }
    if get(reply, "kept").is_truthy() {
        return Head::Kept {
            size,
            last_modified,
        };
    }
    let buf = get(reply, "buf");
    if !buf.is_instance_of::<js_sys::ArrayBuffer>() {
        return Head::ReadFailed {
            size,
            last_modified,
            message: "the scan reader sent no bytes".into(),
        };
    }
    Head::Bytes {
        size,
        last_modified,
        bytes: js_sys::Uint8Array::new(&buf).to_vec(),
    }
}

/// [`FileReader::head`] in the page's thread.
pub async fn in_page_head(src: &ImageRef, known: Option<(u64, f64)>) -> Head {
    let file = match src.open().await {
        Ok(f) => f,
        Err(m) => return Head::OpenFailed(m),
    };
    let size = file.size() as u64;
    let last_modified = file.last_modified();
    if known == Some((size, last_modified)) {
        return Head::Kept {
            size,
            last_modified,
        };
    }
    let end = size.min(INITIAL_PREFIX_BYTES as u64);
    // A file no larger than the first read is read whole, without a `slice`.
    let read = if end == 0 {
        Ok(Vec::new())
    } else if end == size {
        read_all(&file).await
    } else {
        slice_bytes(&file, 0, end).await
    };
    match read {
        Ok(bytes) => Head::Bytes {
            size,
            last_modified,
            bytes,
        },
        Err(message) => Head::ReadFailed {
            size,
            last_modified,
            message,
        },
    }
}

/// [`FileReader::range`] in the page's thread.
async fn in_page_range(
    src: &ImageRef,
    start: u64,
    end: u64,
    expect: (u64, f64),
) -> Result<Vec<u8>, String> {
    let file = src.open().await?;
    let size = file.size() as u64;
    if (size, file.last_modified()) != expect {
        return Err(format!(
            "NotReadableError: the file changed during the scan ({} bytes before, {size} now)",
            expect.0
        ));
    }
    slice_bytes(&file, start, end).await
}
