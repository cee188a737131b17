//! Folders this tab can read right now, by name: the handle of a picked (or re-permitted)
//! folder, or the `FileList` of a folder chosen through `<input webkitdirectory>`. Thumbnails,
//! the missing-file check and a resumed scan find files here by relative path.
//!
//! The registry lives for the tab (a `thread_local`): a granted handle or a chosen file list is
//! a browser resource that cannot be stored, and every page needs the same one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, FileSystemDirectoryHandle, FileSystemFileHandle};

use super::walk::{relative_path_of, FolderSource};
use crate::files::{js_error_name, js_error_text};

/// Why a file of a scan cannot be had now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error(
        "{0} is not in the folder any more (moved, renamed or deleted): put it back, or run \
         discovery again on the folder"
    )]
    Missing(String),
    #[error(
        "{0} changed since the scan (size or modification time differ): run discovery again on \
         the folder to sync the new version"
    )]
    Changed(String),
    #[error("the folder “{0}” is not open in this tab: reconnect it or choose it again")]
    NotOpen(String),
    #[error("cannot open {path}: {message}")]
    Failed { path: String, message: String },
}

/// An open folder.
pub struct OpenFolder {
    pub name: String,
    pub source: FolderSource,
    /// FileList: relative path → index (built on first lookup).
    index: RefCell<Option<HashMap<String, u32>>>,
    /// Handle: directory path → handle (filled as paths are resolved).
    dirs: RefCell<HashMap<String, FileSystemDirectoryHandle>>,
}

thread_local! {
    static OPEN: RefCell<HashMap<String, Rc<OpenFolder>>> = RefCell::new(HashMap::new());
    /// Containers scanned from Azure (the first segment of their images' paths).
    static CLOUD: RefCell<std::collections::HashSet<String>> = RefCell::new(Default::default());
}

/// Marks `container` as the root of scanned Azure images: their thumbnails say "in Azure".
pub fn register_cloud(container: &str) {
    CLOUD.with(|c| c.borrow_mut().insert(container.to_string()));
}

/// Why `relative_path` has no thumbnail when it is a blob of a scanned container (and no open
/// folder has its root's name): blobs are never downloaded for a preview.
pub fn in_azure(relative_path: &str) -> Option<String> {
    let name = folder_of(relative_path);
    (get(name).is_none() && CLOUD.with(|c| c.borrow().contains(name))).then(|| {
        format!("in Azure: {relative_path} stays in its container (no preview is downloaded; the server copies it at sync)")
    })
}

/// Makes `source` the open folder of its name (replacing an earlier one).
pub fn register(source: FolderSource) -> Rc<OpenFolder> {
    let name = source.root_name();
    let folder = Rc::new(OpenFolder {
        name: name.clone(),
        source,
        index: RefCell::new(None),
        dirs: RefCell::new(HashMap::new()),
    });
    OPEN.with(|o| o.borrow_mut().insert(name, folder.clone()));
    folder
}

/// The open folder called `name`, if any.
pub fn get(name: &str) -> Option<Rc<OpenFolder>> {
    OPEN.with(|o| o.borrow().get(name).cloned())
}

/// The folder a relative path belongs to (its first segment).
pub fn folder_of(relative_path: &str) -> &str {
    relative_path.split('/').next().unwrap_or_default()
}

impl OpenFolder {
    pub fn is_handle(&self) -> bool {
        matches!(self.source, FolderSource::Handle(_))
    }

    /// The file at `relative_path` (which starts with the folder's name).
    pub async fn file(&self, relative_path: &str) -> Result<File, FileProblem> {
        let file = self.file_unprobed(relative_path).await?;
        if let FolderSource::List(_) = &self.source {
            probe(&file, relative_path).await?;
        }
        Ok(file)
    }

    /// [`OpenFolder::file`] without the one-byte [`probe`] of a `FileList` file: for a caller
    /// that reads the file at once and tells a failed read apart itself (one read less), or
    /// that probes alongside its use of the file (the sync, beside the PUT).
    pub async fn file_unprobed(&self, relative_path: &str) -> Result<File, FileProblem> {
        match &self.source {
            FolderSource::List(list) => {
                let i = {
                    let mut index = self.index.borrow_mut();
                    let index = index.get_or_insert_with(|| {
                        (0..list.length())
                            .filter_map(|i| list.get(i).map(|f| (relative_path_of(&f), i)))
                            .collect()
                    });
                    index.get(relative_path).copied()
                };
                i.and_then(|i| list.get(i))
                    .ok_or_else(|| FileProblem::Missing(relative_path.to_string()))
            }
            FolderSource::Handle(root) => self.file_in(root, relative_path).await,
        }
    }

    async fn file_in(
        &self,
        root: &FileSystemDirectoryHandle,
        relative_path: &str,
    ) -> Result<File, FileProblem> {
        let parts: Vec<&str> = relative_path.split('/').collect();
        let (Some((file_name, dirs)), true) = (parts.split_last(), parts.len() >= 2) else {
            return Err(FileProblem::Missing(relative_path.to_string()));
        };
        let fail = |e: wasm_bindgen::JsValue| {
            if matches!(
                js_error_name(&e).as_str(),
                "NotFoundError" | "TypeMismatchError"
            ) {
                FileProblem::Missing(relative_path.to_string())
            } else {
                FileProblem::Failed {
                    path: relative_path.to_string(),
                    message: js_error_text(&e),
                }
            }
        };
        // dirs[0] is the root itself.
        let mut dir = root.clone();
        for depth in 1..dirs.len() {
            let key = dirs[..=depth].join("/");
            let cached = self.dirs.borrow().get(&key).cloned();
            dir = match cached {
                Some(d) => d,
                None => {
                    let d: FileSystemDirectoryHandle =
                        JsFuture::from(dir.get_directory_handle(dirs[depth]))
                            .await
                            .map_err(fail)?
                            .unchecked_into();
                    self.dirs.borrow_mut().insert(key, d.clone());
                    d
                }
            };
        }
        let fh: FileSystemFileHandle = JsFuture::from(dir.get_file_handle(file_name))
            .await
            .map_err(fail)?
            .unchecked_into();
        Ok(JsFuture::from(fh.get_file())
            .await
            .map_err(fail)?
            .unchecked_into())
    }

    /// The file, if it is still the one scanned (same size and lastModified).
    pub async fn same_file(
        &self,
        relative_path: &str,
        size: u64,
        last_modified: f64,
    ) -> Result<File, FileProblem> {
        let f = self.file(relative_path).await?;
        if f.size() as u64 != size || f.last_modified() != last_modified {
            return Err(FileProblem::Changed(relative_path.to_string()));
        }
        Ok(f)
    }
}

/// A `File` of a `FileList` is a snapshot of the file when it was chosen: its size and date
/// never change, and reading it fails once the file on disk was deleted or rewritten. One byte
/// read tells which, so a sync skips the file with that reason instead of failing its upload
/// with a bare network error — or, for a rewritten file, uploads its new bytes: an XHR PUT of
/// such a `File` sends them. The sync (`sync::plan::PickedFiles`, `ScanFiles`) probes each file
/// alongside its PUT (a probe before it cost every upload a round trip to the browser's file
/// system) and fails the image on the probe's word, whatever the PUT did.
pub async fn probe(file: &File, relative_path: &str) -> Result<(), FileProblem> {
    let blob = file
        .slice_with_f64_and_f64(0.0, 1.0)
        .map_err(|e| FileProblem::Failed {
            path: relative_path.to_string(),
            message: js_error_text(&e),
        })?;
    match JsFuture::from(blob.array_buffer()).await {
        Ok(_) => Ok(()),
        Err(e) => Err(match js_error_name(&e).as_str() {
            "NotFoundError" => FileProblem::Missing(relative_path.to_string()),
            // Chromium's answer for a file rewritten since it was chosen.
            "NotReadableError" => FileProblem::Changed(relative_path.to_string()),
            _ => FileProblem::Failed {
                path: relative_path.to_string(),
                message: js_error_text(&e),
            },
        }),
    }
}

/// The file at `relative_path` from whichever folder is open.
pub async fn file(relative_path: &str) -> Result<File, FileProblem> {
    let name = folder_of(relative_path);
    let folder = get(name).ok_or_else(|| FileProblem::NotOpen(name.to_string()))?;
    folder.file(relative_path).await
}

/// Which of the expected files are still there, as scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub checked: usize,
    pub missing: Vec<String>,
    pub changed: Vec<String>,
    /// Files that could not be checked (e.g. permission lost), with the reason.
    pub failed: Vec<String>,
}

impl CheckReport {
    /// Files gone or changed.
    pub fn gone(&self) -> usize {
        self.missing.len() + self.changed.len()
    }
}

/// Checks `expected` (relative path, size, lastModified) against the open folder, 8 at a time.
pub async fn check(
    folder: &OpenFolder,
    expected: Vec<(String, u64, f64)>,
    on_progress: impl Fn(usize),
) -> CheckReport {
    use futures::StreamExt;
    let mut report = CheckReport::default();
    let mut results = futures::stream::iter(expected)
        .map(|(path, size, lm)| async move { folder.same_file(&path, size, lm).await.err() })
        .buffer_unordered(8);
    while let Some(problem) = results.next().await {
        report.checked += 1;
        match problem {
            None => {}
            Some(FileProblem::Missing(p)) => report.missing.push(p),
            Some(FileProblem::Changed(p)) => report.changed.push(p),
            Some(other) => report.failed.push(other.to_string()),
        }
        if report.checked % 200 == 0 {
            on_progress(report.checked);
        }
    }
    finsync_core::order::sort(&mut report.missing);
    finsync_core::order::sort(&mut report.changed);
    report
}
