//! From a picked folder to planned encounters the engine can sync.
//!
//! Until discovery and manifests land, a picked folder is one encounter: located by the
//! folder's name, dated by its oldest image (UTC), photographer unknown. Every image gets its
//! fingerprint (two 64 KiB reads) and its idempotency key (spec decision 7).

use std::collections::HashMap;

use finsync_core::api::FindOrCreateEncounter;
use finsync_core::engine::{ImageStatus, PlanEncounter, PlanImage, SourceProblem};
use finsync_core::fingerprint::{edge_ranges, idempotency_key, Fingerprint};
use finsync_core::media::content_type;
use finsync_core::normalize::encounter_identity;
use finsync_core::sas::date_utc;
use futures::future::LocalBoxFuture;
use futures::{FutureExt, StreamExt};
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use super::driver::FileSource;
use crate::files::Picked;
use crate::store::{ImageSource, StoredEncounter};

/// Photographer of encounters whose photographer is not known yet.
pub const UNKNOWN_PHOTOGRAPHER: &str = "Unknown photographer";

/// Bytes `[start, end)` of `file` (one `Blob.slice` + `arrayBuffer()`). The error names what
/// the browser said (e.g. `NotFoundError: …` when the file was moved or deleted).
pub async fn slice_bytes(file: &File, start: u64, end: u64) -> Result<Vec<u8>, String> {
    let blob = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|e| crate::files::js_error_text(&e))?;
    let buf = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| crate::files::js_error_text(&e))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

/// The whole file (`Blob.arrayBuffer()` without a `slice`: a slice costs the page's thread
/// about as much as the read).
pub async fn read_all(file: &File) -> Result<Vec<u8>, String> {
    let buf = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| crate::files::js_error_text(&e))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

/// Size plus hashes of the first and last 64 KiB (reads at most 128 KiB of the file; the
/// two reads go at once).
pub async fn fingerprint(file: &File) -> Result<Fingerprint, String> {
    let size = file.size() as u64;
    let ((h0, h1), (t0, t1)) = edge_ranges(size);
    if t0 < h1 {
        // Head and tail overlap: one read holds both.
        let head = slice_bytes(file, h0, size).await?;
        return fingerprint_from_prefix(file, &head).await;
    }
    let (head, tail) = futures::join!(slice_bytes(file, h0, h1), slice_bytes(file, t0, t1));
    fingerprint_with_tail(size, &head?, &tail?)
}

/// Files fingerprinted at once while planning: the reads are mostly waiting on the browser's
/// file I/O, so a few in flight cut planning 200 files from about 0.9 s to a fraction.
const FINGERPRINTS_IN_FLIGHT: usize = 8;

/// The fingerprint when the start of the file was already read (`prefix`: at least the first
/// `min(size, 64 KiB)` bytes, e.g. the metadata prefix of a scan): reads only the tail, and
/// nothing when the prefix already holds it.
pub async fn fingerprint_from_prefix(file: &File, prefix: &[u8]) -> Result<Fingerprint, String> {
    let size = file.size() as u64;
    let ((h0, h1), (t0, t1)) = edge_ranges(size);
    let head = prefix
        .get(h0 as usize..h1 as usize)
        .ok_or_else(|| format!("read {} bytes of {size}: the file changed", prefix.len()))?;
    let tail = match prefix.get(t0 as usize..t1 as usize) {
        Some(t) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(slice_bytes(file, t0, t1).await?),
    };
    Ok(Fingerprint::new(size, head, &tail))
}

/// The fingerprint from a prefix and the tail, both already read (`tail`: the bytes of
/// `edge_ranges(size).1`).
pub fn fingerprint_with_tail(size: u64, prefix: &[u8], tail: &[u8]) -> Result<Fingerprint, String> {
    let ((h0, h1), (t0, t1)) = edge_ranges(size);
    let head = prefix
        .get(h0 as usize..h1 as usize)
        .ok_or_else(|| format!("read {} bytes of {size}: the file changed", prefix.len()))?;
    if tail.len() as u64 != t1 - t0 {
        return Err(format!(
            "read {} tail bytes of {size}: the file changed",
            tail.len()
        ));
    }
    Ok(Fingerprint::new(size, head, tail))
}

/// A file that could not be read while planning; the rest of the folder is planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub path: String,
    pub message: String,
}

/// The date of a picked folder's encounter: its oldest image's (UTC), from the files'
/// `lastModified` alone (nothing is read).
pub fn folder_date(picked: &Picked) -> String {
    let oldest_ms = picked
        .images
        .iter()
        .map(|f| f.file.last_modified())
        .fold(f64::INFINITY, f64::min);
    if oldest_ms.is_finite() {
        date_utc((oldest_ms / 1000.0).floor() as i64)
    } else {
        "1970-01-01".to_string()
    }
}

/// The local id of a quick upload of `picked` into `population_id`: population, date and
/// folder name — what the server's encounter dedup keys on too — so two folders of one name
/// (every camera card's `DCIM`) are two encounters here as they are on the server, and a
/// folder uploaded to two populations is two encounters. Encounters stored by earlier builds
/// carry [`legacy_folder_id`].
pub fn quick_upload_id(picked: &Picked, population_id: i64) -> String {
    quick_upload_id_on(&folder_date(picked), &picked.root, population_id)
}

/// [`quick_upload_id`] with the folder's date already known ([`folder_date`] reads every
/// file's `lastModified`).
pub fn quick_upload_id_on(date: &str, root: &str, population_id: i64) -> String {
    format!("folder:{population_id}/{date}/{root}")
}

/// The local id earlier builds gave a quick upload: the folder's name alone.
pub fn legacy_folder_id(picked: &Picked) -> String {
    format!("folder:{}", picked.root)
}

/// Plans the picked folder as one encounter of `population_id`, stored as `local_id`.
pub async fn plan_folder(
    picked: &Picked,
    population_id: i64,
    local_id: String,
    on_progress: impl Fn(usize, usize),
) -> (StoredEncounter, Vec<Unreadable>) {
    let date = folder_date(picked);
    let fields = FindOrCreateEncounter {
        date: date.clone(),
        time: None,
        location_name: picked.root.clone(),
        gps: None,
        photographer: UNKNOWN_PHOTOGRAPHER.into(),
        notes: None,
    };
    let identity = encounter_identity(&date, &fields.location_name, &fields.photographer);
    let mut images = Vec::with_capacity(picked.images.len());
    let mut sources = Vec::with_capacity(picked.images.len());
    let mut unreadable = Vec::new();
    let mut prints = futures::stream::iter(&picked.images)
        .map(|f| async move { (f, fingerprint(&f.file).await) })
        .buffered(FINGERPRINTS_IN_FLIGHT)
        .enumerate();
    while let Some((i, (f, print))) = prints.next().await {
        on_progress(i, picked.images.len());
        match print {
            Ok(fp) => {
                let key = idempotency_key(population_id, &identity, &fp);
                images.push(PlanImage {
                    // Path and content together: a file edited in place is a new image.
                    local_id: format!("{}#{}", f.relative_path, &key[3..15]),
                    file_name: f.name(),
                    size: f.size(),
                    content_type: content_type(&f.name()).into(),
                    idempotency_key: key,
                    status: ImageStatus::Pending,
                    source: finsync_core::cloud::ImageSource::Local,
                });
                sources.push(ImageSource {
                    relative_path: f.relative_path.clone(),
                    last_modified: f.file.last_modified(),
                });
            }
            Err(message) => unreadable.push(Unreadable {
                path: f.relative_path.clone(),
                message,
            }),
        }
    }
    (
        StoredEncounter {
            local_id: local_id.clone(),
            population_id,
            plan: PlanEncounter {
                local_id,
                fields: fields.into(),
                create_photographer: None,
                remote: None,
                images,
            },
            sources,
        },
        unreadable,
    )
}

/// Where and what an image was when it was planned: its relative path, size and
/// lastModified.
#[derive(Debug, Clone)]
struct Planned {
    path: String,
    size: u64,
    modified: f64,
    /// Azure-sourced: the server copies it; there is no local file to read or probe.
    azure: bool,
}

impl Planned {
    /// Every planned image of `encounters`, by image local id.
    fn of(encounters: &[StoredEncounter]) -> HashMap<String, Planned> {
        let mut planned = HashMap::new();
        for e in encounters {
            for (img, src) in e.plan.images.iter().zip(&e.sources) {
                planned.insert(
                    img.local_id.clone(),
                    Planned {
                        path: src.relative_path.clone(),
                        size: img.size,
                        modified: src.last_modified,
                        azure: img.source.is_azure(),
                    },
                );
            }
        }
        planned
    }

    /// `file`, unless its size or lastModified differ from the plan (then `changed` says why).
    fn unchanged(&self, file: File, changed: &str) -> Result<File, (SourceProblem, String)> {
        if file.size() as u64 != self.size || file.last_modified() != self.modified {
            return Err((SourceProblem::Changed, format!("{} {changed}", self.path)));
        }
        Ok(file)
    }
}

fn never_planned(image: &str) -> (SourceProblem, String) {
    (SourceProblem::Missing, format!("{image} was never planned"))
}

/// The engine never asks for an Azure-sourced image's bytes (the server copies it); if it
/// did, no local file is probed or read for it.
fn in_azure(p: &Planned) -> (SourceProblem, String) {
    (
        SourceProblem::Unreadable,
        format!(
            "internal error: {} is in Azure storage and is copied by the server, not read here",
            p.path
        ),
    )
}

/// The files of a picked folder, checked against what was planned.
pub struct PickedFiles {
    files: HashMap<String, File>,
    expected: HashMap<String, Planned>,
}

impl PickedFiles {
    pub fn new(picked: &Picked, encounters: &[StoredEncounter]) -> PickedFiles {
        let files = picked
            .images
            .iter()
            .map(|f| (f.relative_path.clone(), f.file.clone()))
            .collect();
        PickedFiles {
            files,
            expected: Planned::of(encounters),
        }
    }
}

/// What a failed read of a picked `File` means for the person: deleted or rewritten since the
/// folder was picked, or unreadable for another reason.
fn picked_problem(path: &str, e: crate::discovery::access::FileProblem) -> (SourceProblem, String) {
    use crate::discovery::access::FileProblem;
    match e {
        FileProblem::Missing(_) | FileProblem::NotOpen(_) => (
            SourceProblem::Missing,
            format!("{path} was deleted since you picked the folder — pick it again"),
        ),
        FileProblem::Changed(_) => (
            SourceProblem::Changed,
            format!("{path} was changed since you picked the folder — pick it again"),
        ),
        FileProblem::Failed { .. } => (SourceProblem::Unreadable, e.to_string()),
    }
}

/// A scanned file's problem as the engine takes it, in the access layer's own words.
fn scanned_problem(e: crate::discovery::access::FileProblem) -> (SourceProblem, String) {
    use crate::discovery::access::FileProblem;
    let kind = match e {
        FileProblem::Missing(_) | FileProblem::NotOpen(_) => SourceProblem::Missing,
        FileProblem::Changed(_) => SourceProblem::Changed,
        FileProblem::Failed { .. } => SourceProblem::Unreadable,
    };
    (kind, e.to_string())
}

impl FileSource for PickedFiles {
    fn file(
        &self,
        _encounter: &str,
        image: &str,
    ) -> LocalBoxFuture<'static, Result<File, (SourceProblem, String)>> {
        // A picked `File` is a snapshot: its size and date never change, but reading it fails
        // once the file on disk was deleted or rewritten (a PUT of it, though, sends a
        // rewritten file's new bytes). Nothing is read here: `check`, one byte, runs alongside
        // the PUT.
        let found = match self.expected.get(image) {
            None => Err(never_planned(image)),
            Some(p) if p.azure => Err(in_azure(p)),
            Some(p) => match self.files.get(&p.path) {
                None => Err((
                    SourceProblem::Missing,
                    format!("{} is not in the selected folder any more", p.path),
                )),
                Some(file) => p.unchanged(
                    file.clone(),
                    "changed since it was planned; pick the folder again",
                ),
            },
        };
        futures::future::ready(found).boxed_local()
    }

    fn check(
        &self,
        _encounter: &str,
        image: &str,
        file: &File,
    ) -> LocalBoxFuture<'static, Option<(SourceProblem, String)>> {
        let path = self.expected.get(image).map(|p| p.path.clone());
        let file = file.clone();
        async move {
            let path = path?;
            crate::discovery::access::probe(&file, &path)
                .await
                .err()
                .map(|e| picked_problem(&path, e))
        }
        .boxed_local()
    }
}

/// The files of a scanned folder (discovery's open folders), checked against the scan.
pub struct ScanFiles {
    expected: HashMap<String, Planned>,
}

impl ScanFiles {
    pub fn new(encounters: &[StoredEncounter]) -> ScanFiles {
        ScanFiles {
            expected: Planned::of(encounters),
        }
    }
}

impl FileSource for ScanFiles {
    fn file(
        &self,
        _encounter: &str,
        image: &str,
    ) -> LocalBoxFuture<'static, Result<File, (SourceProblem, String)>> {
        use crate::discovery::access;
        let expected = self.expected.get(image).cloned();
        let image = image.to_string();
        async move {
            let p = expected.ok_or_else(|| never_planned(&image))?;
            if p.azure {
                return Err(in_azure(&p));
            }
            let Some(folder) = access::get(access::folder_of(&p.path)) else {
                return Err((
                    SourceProblem::Missing,
                    format!(
                        "the folder of {} is not open in this tab: open it on the Discover page",
                        p.path
                    ),
                ));
            };
            // Not probed here (a `FileList` folder): `check` probes alongside the PUT.
            let file = folder
                .file_unprobed(&p.path)
                .await
                .map_err(scanned_problem)?;
            p.unchanged(file, "changed since the scan; run discovery again")
        }
        .boxed_local()
    }

    fn check(
        &self,
        _encounter: &str,
        image: &str,
        file: &File,
    ) -> LocalBoxFuture<'static, Option<(SourceProblem, String)>> {
        use crate::discovery::access;
        let path = self.expected.get(image).map(|p| p.path.clone());
        let file = file.clone();
        async move {
            let path = path?;
            access::probe(&file, &path).await.err().map(scanned_problem)
        }
        .boxed_local()
    }
}
