//! Walking a folder as a stream of entries, without building a listing first: a
//! `FileSystemDirectoryHandle` is walked depth-first (an explicit stack of open directory
//! iterators), an `<input webkitdirectory>` `FileList` is read by index (the browser already
//! holds it; nothing is copied).
//!
//! Files are classified by name ([`finsync_core::media::classify`]) before anything else, so a
//! skipped file costs no `getFile()` call. An image of a picked folder is handed on as its
//! file handle: the scan's reader ([`super::reader`]) opens it, off the page's main thread.

use finsync_core::media::{classify, is_hidden_dir, FileClass};
use futures::StreamExt;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::stream::JsStream;
use web_sys::{
    File, FileList, FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemHandle,
    FileSystemHandleKind,
};

use super::reader::ImageRef;
use crate::files::js_error_text;

/// A file of the walk that could not be opened (`getFile()` failed): the file's problem.
pub fn cannot_open(e: &str) -> String {
    format!("cannot open the file (moved or deleted during the scan?): {e}")
}

/// Why a file was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    Hidden,
    HiddenDir,
    Raw,
    Other,
}

/// One thing the walk found.
pub enum Entry {
    /// An image by name (not opened yet).
    Image {
        relative_path: String,
        file: ImageRef,
    },
    Skipped {
        reason: SkipReason,
    },
    /// An image by name in a storage connection's container (cloud discovery).
    Blob {
        relative_path: String,
        blob: super::cloud::BlobEntry,
    },
    /// A file or folder that could not be opened (e.g. moved away during the scan).
    Failed {
        relative_path: String,
        message: String,
    },
}

/// A folder to walk.
#[derive(Clone)]
pub enum FolderSource {
    Handle(FileSystemDirectoryHandle),
    List(FileList),
}

impl FolderSource {
    /// The picked folder's name (`""` for an empty file list).
    pub fn root_name(&self) -> String {
        match self {
            FolderSource::Handle(h) => h.name(),
            FolderSource::List(l) => l
                .get(0)
                .map(|f| relative_path_of(&f))
                .and_then(|p| p.split('/').next().map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

/// `webkitRelativePath`, or the name for a file picked without a folder.
pub fn relative_path_of(file: &File) -> String {
    js_sys::Reflect::get(file, &"webkitRelativePath".into())
        .ok()
        .and_then(|v| v.as_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file.name())
}

fn skip_reason(class: FileClass) -> Option<SkipReason> {
    match class {
        FileClass::Image => None,
        FileClass::Hidden => Some(SkipReason::Hidden),
        FileClass::Raw => Some(SkipReason::Raw),
        FileClass::Other => Some(SkipReason::Other),
    }
}

/// The walk's state.
pub enum Walker {
    Handle {
        /// Directories still to open: (path, handle).
        stack: Vec<(String, FileSystemDirectoryHandle)>,
        /// The directory being read.
        current: Option<(String, JsStream)>,
    },
    List {
        list: FileList,
        next: u32,
    },
}

impl Walker {
    pub fn new(source: FolderSource) -> Walker {
        match source {
            FolderSource::Handle(h) => Walker::Handle {
                stack: vec![(h.name(), h)],
                current: None,
            },
            FolderSource::List(list) => Walker::List { list, next: 0 },
        }
    }

    /// The next entry, or `None` at the end.
    pub async fn next(&mut self) -> Option<Entry> {
        match self {
            Walker::List { list, next } => {
                while *next < list.length() {
                    let i = *next;
                    *next += 1;
                    let Some(file) = list.get(i) else { continue };
                    return Some(list_entry(file));
                }
                None
            }
            Walker::Handle { stack, current } => loop {
                if current.is_none() {
                    let (path, dir) = stack.pop()?;
                    *current = Some((path, JsStream::from(dir.values())));
                }
                let (prefix, entries) = current.as_mut()?;
                match entries.next().await {
                    None => *current = None,
                    Some(Err(e)) => {
                        let relative_path = prefix.clone();
                        *current = None;
                        return Some(Entry::Failed {
                            relative_path,
                            message: format!("cannot list this folder: {}", js_error_text(&e)),
                        });
                    }
                    Some(Ok(v)) => {
                        let handle: FileSystemHandle = v.unchecked_into();
                        let name = handle.name();
                        let path = format!("{prefix}/{name}");
                        if handle.kind() == FileSystemHandleKind::Directory {
                            if is_hidden_dir(&name) {
                                return Some(Entry::Skipped {
                                    reason: SkipReason::HiddenDir,
                                });
                            }
                            stack.push((path, handle.unchecked_into()));
                            continue;
                        }
                        if let Some(reason) = skip_reason(classify(&name)) {
                            return Some(Entry::Skipped { reason });
                        }
                        let fh: FileSystemFileHandle = handle.unchecked_into();
                        return Some(Entry::Image {
                            relative_path: path,
                            file: ImageRef::Handle(fh),
                        });
                    }
                }
            },
        }
    }

    /// The walk as a stream.
    pub fn into_stream(self) -> impl futures::Stream<Item = Entry> {
        futures::stream::unfold(self, |mut w| async move { w.next().await.map(|e| (e, w)) })
    }
}

fn list_entry(file: File) -> Entry {
    let rel = relative_path_of(&file);
    let dirs: Vec<&str> = rel.split('/').collect();
    // Files inside hidden folders are skipped like the folders themselves.
    if dirs.len() > 2 && dirs[1..dirs.len() - 1].iter().any(|d| is_hidden_dir(d)) {
        return Entry::Skipped {
            reason: SkipReason::Hidden,
        };
    }
    match skip_reason(classify(&file.name())) {
        Some(reason) => Entry::Skipped { reason },
        None => Entry::Image {
            relative_path: rel,
            file: ImageRef::File(file),
        },
    }
}
