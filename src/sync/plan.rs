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
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use super::driver::FileSource;
use crate::files::Picked;
use crate::store::{ImageSource, StoredEncounter};

/// Photographer of encounters whose photographer is not known yet.
pub const UNKNOWN_PHOTOGRAPHER: &str = "Unknown photographer";

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

/// A file that could not be read while planning; the rest of the folder is planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub path: String,
    pub message: String,
}

/// Plans the picked folder as one encounter of `population_id`.
pub async fn plan_folder(
    picked: &Picked,
    population_id: i64,
    on_progress: impl Fn(usize, usize),
) -> (StoredEncounter, Vec<Unreadable>) {
    let oldest_ms = picked
        .images
        .iter()
        .map(|f| f.file.last_modified())
        .fold(f64::INFINITY, f64::min);
    let date = if oldest_ms.is_finite() {
        date_utc((oldest_ms / 1000.0).floor() as i64)
    } else {
        "1970-01-01".to_string()
    };
    let fields = FindOrCreateEncounter {
        date: date.clone(),
        time: None,
        location_name: picked.root.clone(),
        gps: None,
        photographer: UNKNOWN_PHOTOGRAPHER.into(),
        notes: None,
    };
    let identity = encounter_identity(&date, &fields.location_name, &fields.photographer);
    let local_id = format!("folder:{}", picked.root);
    let mut images = Vec::with_capacity(picked.images.len());
    let mut sources = Vec::with_capacity(picked.images.len());
    let mut unreadable = Vec::new();
    for (i, f) in picked.images.iter().enumerate() {
        on_progress(i, picked.images.len());
        match fingerprint(&f.file).await {
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
                fields,
                remote: None,
                images,
            },
            sources,
        },
        unreadable,
    )
}

/// The files of a picked folder, checked against what was planned.
pub struct PickedFiles {
    files: HashMap<String, File>,
    /// Image local id → (relative path, size, lastModified) as planned.
    expected: HashMap<String, (String, u64, f64)>,
}

impl PickedFiles {
    pub fn new(picked: &Picked, encounters: &[StoredEncounter]) -> PickedFiles {
        let files = picked
            .images
            .iter()
            .map(|f| (f.relative_path.clone(), f.file.clone()))
            .collect();
        let mut expected = HashMap::new();
        for e in encounters {
            for (img, src) in e.plan.images.iter().zip(&e.sources) {
                expected.insert(
                    img.local_id.clone(),
                    (src.relative_path.clone(), img.size, src.last_modified),
                );
            }
        }
        PickedFiles { files, expected }
    }
}

impl FileSource for PickedFiles {
    fn file(&self, _encounter: &str, image: &str) -> Result<File, (SourceProblem, String)> {
        let Some((path, size, modified)) = self.expected.get(image) else {
            return Err((SourceProblem::Missing, format!("{image} was never planned")));
        };
        let Some(file) = self.files.get(path) else {
            return Err((
                SourceProblem::Missing,
                format!("{path} is not in the selected folder any more"),
            ));
        };
        if file.size() as u64 != *size || file.last_modified() != *modified {
            return Err((
                SourceProblem::Changed,
                format!("{path} changed since it was planned; select the folder again"),
            ));
        }
        Ok(file.clone())
    }
}
