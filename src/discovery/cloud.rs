//! Cloud discovery (issue 8): a storage connection's container as the scan's source. The
//! container is listed page by page (List Blobs, [`crate::azure`]); each name is classified
//! like a file of a folder ([`classify_blob`]); each image's metadata prefix and the
//! fingerprint's tail are read with `Range` GETs, and the row is finished by the same
//! [`scan::finish_row`] as a local file's, so fingerprints — and thus idempotency keys — are
//! the same as for the same file scanned from a folder. The scan job ([`scan::run`]) takes it
//! from there: counts, batches, diff, manifests.
//!
//! No request downloads a whole blob unless the blob is at most
//! `INITIAL_PREFIX_BYTES + EDGE_BYTES` long (the fingerprint needs its first and last 64 KiB).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use finsync_core::blob_list::classify_blob;
use finsync_core::cloud::{BlobRef, ImageSource, StorageConnection};
use finsync_core::fingerprint::{edge_ranges, EDGE_BYTES};
use finsync_core::media::FileClass;
use finsync_core::metadata::{ParseOptions, INITIAL_PREFIX_BYTES};

use super::model::ScanFile;
use super::scan::{self, unreadable};
use super::walk::{Entry, SkipReason};
use crate::azure;

/// One listed blob with an image name, to be read.
#[derive(Debug, Clone)]
pub struct BlobEntry {
    pub conn: Rc<StorageConnection>,
    pub container: String,
    /// The full blob name.
    pub name: String,
    pub size: u64,
    pub last_modified_ms: f64,
}

/// The listing of one container (names under `prefix`) as a stream of scan entries. A page
/// that cannot be listed ends the stream and leaves its message in [`Listing::failure`]: the
/// page then marks the scan failed (it can be resumed; files already read are kept).
pub struct Listing {
    pub conn: Rc<StorageConnection>,
    pub container: String,
    pub prefix: String,
    pub failure: Rc<RefCell<Option<String>>>,
}

struct State {
    listing: Listing,
    queue: VecDeque<Entry>,
    /// `None` before the first page; `Some(None)` after the last.
    marker: Option<Option<String>>,
}

impl Listing {
    pub fn new(conn: StorageConnection, container: String, prefix: String) -> Listing {
        Listing {
            conn: Rc::new(conn),
            container,
            prefix,
            failure: Rc::new(RefCell::new(None)),
        }
    }

    fn entry(&self, b: finsync_core::blob_list::ListedBlob) -> Entry {
        let reason = match classify_blob(&b.name) {
            FileClass::Image => None,
            FileClass::Hidden => Some(SkipReason::Hidden),
            FileClass::Raw => Some(SkipReason::Raw),
            FileClass::Other => Some(SkipReason::Other),
        };
        match reason {
            Some(reason) => Entry::Skipped { reason },
            None => Entry::Blob {
                relative_path: format!("{}/{}", self.container, b.name),
                blob: BlobEntry {
                    conn: self.conn.clone(),
                    container: self.container.clone(),
                    name: b.name,
                    size: b.size,
                    last_modified_ms: b.last_modified_ms,
                },
            },
        }
    }

    pub fn into_stream(self) -> impl futures::Stream<Item = Entry> {
        let state = State {
            listing: self,
            queue: VecDeque::new(),
            marker: None,
        };
        futures::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(e) = s.queue.pop_front() {
                    return Some((e, s));
                }
                let marker = match &s.marker {
                    Some(None) => return None,
                    Some(Some(m)) => Some(m.clone()),
                    None => None,
                };
                let l = &s.listing;
                if s.marker.is_none() {
                    // Reachable at all? Asked without the SAS (see `azure::probe`).
                    if let Err(e) = azure::probe(&l.conn, &l.container).await {
                        *l.failure.borrow_mut() = Some(e.to_string());
                        return None;
                    }
                }
                match azure::list_page(
                    &l.conn,
                    &l.container,
                    &l.prefix,
                    marker.as_deref(),
                    finsync_core::blob_list::PAGE_SIZE,
                )
                .await
                {
                    Ok(page) => {
                        s.marker = Some(page.next_marker);
                        for b in page.blobs {
                            let e = s.listing.entry(b);
                            s.queue.push_back(e);
                        }
                    }
                    Err(e) => {
                        *s.listing.failure.borrow_mut() = Some(e.to_string());
                        return None;
                    }
                }
            }
        })
    }
}

/// Reads one blob the way [`scan::read_image`] reads a file ([`scan::read_prefix`]: the first
/// `INITIAL_PREFIX_BYTES`, more only when the segments ask), with the fingerprint's last
/// `EDGE_BYTES` read at the same time (one GET for a blob small enough).
pub async fn read_blob(
    job_id: &str,
    relative_path: String,
    b: &BlobEntry,
    opts: &ParseOptions,
) -> ScanFile {
    let file_name = b.name.rsplit('/').next().unwrap_or(&b.name).to_string();
    let source = ImageSource::Azure(BlobRef {
        connection_id: b.conn.id.clone(),
        container: b.container.clone(),
        blob: b.name.clone(),
    });
    let size = b.size;
    let mut out = scan::new_row(
        job_id,
        relative_path,
        &file_name,
        size,
        b.last_modified_ms,
        source,
    );
    if out.error.is_some() {
        return out;
    }
    let read = |start: u64, end: u64| async move {
        azure::read_range(&b.conn, &b.container, &b.name, start, end)
            .await
            .map_err(|e| e.to_string())
    };
    let ((_, _), (t0, t1)) = edge_ranges(size);
    // A blob small enough is one GET; a larger one has its metadata prefix (the same
    // `read_prefix` as a folder's file: more only when the segments ask) and the fingerprint's
    // tail read at the same time.
    let read_all = size <= INITIAL_PREFIX_BYTES as u64 + EDGE_BYTES;
    let (prefix, tail) = if read_all {
        (read(0, size).await, None)
    } else {
        let (p, t) = futures::join!(scan::read_prefix(size, read), read(t0, t1));
        (p, Some(t))
    };
    let (prefix, tail) = match (prefix, tail.transpose()) {
        (Ok(p), Ok(t)) => (p, t),
        (Err(e), _) | (_, Err(e)) => {
            out.error = Some(unreadable(e));
            return out;
        }
    };
    scan::finish_row(out, &file_name, &prefix, tail.as_deref(), opts)
}
