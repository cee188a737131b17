//! Folder access: the File System Access API where the browser has it (Chromium), an
//! `<input webkitdirectory>` file list everywhere else. Both yield the same [`Picked`].

use finsync_core::media::{classify, is_hidden_dir, FileClass};
use futures::StreamExt;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{stream::JsStream, JsFuture};
use web_sys::{
    File, FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemHandle, FileSystemHandleKind,
};

/// One image of the picked folder.
#[derive(Clone)]
pub struct PickedFile {
    /// Path below the picked folder, `/`-separated, starting with the folder's own name.
    pub relative_path: String,
    pub file: File,
}

impl PickedFile {
    pub fn name(&self) -> String {
        self.file.name()
    }

    pub fn size(&self) -> u64 {
        self.file.size() as u64
    }
}

/// What was found in a folder.
#[derive(Clone, Default)]
pub struct Picked {
    pub root: String,
    pub images: Vec<PickedFile>,
    pub skipped_hidden: usize,
    pub skipped_other: usize,
    pub skipped_raw: usize,
}

impl Picked {
    fn add(&mut self, relative_path: String, file: File) {
        match classify(&file.name()) {
            FileClass::Image => self.images.push(PickedFile {
                relative_path,
                file,
            }),
            FileClass::Hidden => self.skipped_hidden += 1,
            FileClass::Raw => self.skipped_raw += 1,
            FileClass::Other => self.skipped_other += 1,
        }
    }

    fn finish(mut self) -> Self {
        finsync_core::order::sort_by(&mut self.images, |a, b| {
            a.relative_path.cmp(&b.relative_path)
        });
        self
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PickError {
    #[error("no folder was chosen")]
    Cancelled,
    #[error("cannot read the folder: {0}")]
    Failed(String),
}

fn js_error(e: JsValue) -> PickError {
    if js_error_name(&e) == "AbortError" {
        return PickError::Cancelled;
    }
    let message = js_sys::Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    PickError::Failed(message)
}

/// The `name` of a thrown DOMException/Error (`NotFoundError`, `AbortError`, …), or `""`.
pub fn js_error_name(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default()
}

/// `"NotFoundError: A requested file or directory could not be found…"` for a thrown
/// DOMException/Error; its debug form for anything else.
pub fn js_error_text(e: &JsValue) -> String {
    let message = js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string());
    match (js_error_name(e), message) {
        (n, Some(m)) if !n.is_empty() => format!("{n}: {m}"),
        (_, Some(m)) => m,
        _ => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}

/// Whether this page may read `handle` now, without asking (`queryPermission`).
pub async fn can_read(handle: &FileSystemDirectoryHandle) -> bool {
    let descriptor = web_sys::FileSystemHandlePermissionDescriptor::new();
    descriptor.set_mode(web_sys::FileSystemPermissionMode::Read);
    JsFuture::from(handle.query_permission_with_descriptor(&descriptor))
        .await
        .ok()
        .and_then(|s| s.as_string())
        .as_deref()
        == Some("granted")
}

/// Asks for read permission on a remembered folder (the browser may prompt; call it from a
/// click handler).
pub async fn request_read(handle: &FileSystemDirectoryHandle) -> Result<(), PickError> {
    let descriptor = web_sys::FileSystemHandlePermissionDescriptor::new();
    descriptor.set_mode(web_sys::FileSystemPermissionMode::Read);
    let state = JsFuture::from(handle.request_permission_with_descriptor(&descriptor))
        .await
        .map_err(js_error)?;
    if state.as_string().as_deref() != Some("granted") {
        return Err(PickError::Failed(format!(
            "permission to read “{}” was not granted; choose the folder again",
            handle.name()
        )));
    }
    Ok(())
}

/// Asks for a folder with `showDirectoryPicker` without walking it (discovery walks it as a
/// stream).
pub async fn pick_directory_handle() -> Result<FileSystemDirectoryHandle, PickError> {
    let window = web_sys::window().ok_or_else(|| PickError::Failed("no window".into()))?;
    let promise = window.show_directory_picker().map_err(js_error)?;
    Ok(JsFuture::from(promise)
        .await
        .map_err(js_error)?
        .unchecked_into())
}

/// `true` when the browser offers `showDirectoryPicker` (Chromium-based browsers).
pub fn has_directory_picker() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w, &"showDirectoryPicker".into()).unwrap_or(false))
        .unwrap_or(false)
}

/// Asks for a folder with `showDirectoryPicker` and walks it. Also returns the handle, which
/// IndexedDB can keep to find the folder again after a reload.
pub async fn pick_directory() -> Result<(Picked, FileSystemDirectoryHandle), PickError> {
    let window = web_sys::window().ok_or_else(|| PickError::Failed("no window".into()))?;
    let promise = window.show_directory_picker().map_err(js_error)?;
    let handle: FileSystemDirectoryHandle = JsFuture::from(promise)
        .await
        .map_err(js_error)?
        .unchecked_into();
    Ok((walk(handle.clone()).await?, handle))
}

/// Walks a remembered folder again if read permission is still granted, without prompting
/// (so it can run at page load); `None` when the browser would have to ask.
pub async fn reopen_if_granted(handle: FileSystemDirectoryHandle) -> Option<Picked> {
    let descriptor = web_sys::FileSystemHandlePermissionDescriptor::new();
    descriptor.set_mode(web_sys::FileSystemPermissionMode::Read);
    let state = JsFuture::from(handle.query_permission_with_descriptor(&descriptor))
        .await
        .ok()?;
    if state.as_string().as_deref() != Some("granted") {
        return None;
    }
    walk(handle).await.ok()
}

/// Walks a remembered folder again, asking for read permission first (the browser shows a
/// prompt; this must run inside a click handler).
pub async fn reopen(handle: FileSystemDirectoryHandle) -> Result<Picked, PickError> {
    request_read(&handle).await?;
    walk(handle).await
}

/// Walks a directory handle depth-first (an explicit stack, no recursion), skipping hidden and
/// system folders.
pub async fn walk(root: FileSystemDirectoryHandle) -> Result<Picked, PickError> {
    let mut picked = Picked {
        root: root.name(),
        ..Picked::default()
    };
    let mut stack = vec![(root.name(), root)];
    while let Some((prefix, dir)) = stack.pop() {
        let mut entries = JsStream::from(dir.values());
        while let Some(entry) = entries.next().await {
            let handle: FileSystemHandle = entry.map_err(js_error)?.unchecked_into();
            let name = handle.name();
            let path = format!("{prefix}/{name}");
            match handle.kind() {
                FileSystemHandleKind::Directory => {
                    if is_hidden_dir(&name) {
                        picked.skipped_hidden += 1;
                    } else {
                        stack.push((path, handle.unchecked_into()));
                    }
                }
                _ => {
                    let fh: FileSystemFileHandle = handle.unchecked_into();
                    let file: File = JsFuture::from(fh.get_file())
                        .await
                        .map_err(js_error)?
                        .unchecked_into();
                    picked.add(path, file);
                }
            }
        }
    }
    Ok(picked.finish())
}

/// The folder dropped on the page, as a promise of its `FileSystemHandle`
/// (`DataTransferItem.getAsFileSystemHandle`, Chromium-based browsers). Call it while the drop
/// event is being dispatched: the items are gone afterwards. `None` when nothing was dropped or
/// the browser cannot hand out handles.
pub fn dropped_handle(ev: &web_sys::DragEvent) -> Option<js_sys::Promise> {
    let item = ev.data_transfer()?.items().get(0)?;
    let f = js_sys::Reflect::get(&item, &"getAsFileSystemHandle".into()).ok()?;
    let f: &js_sys::Function = f.dyn_ref()?;
    f.call0(&item).ok()?.dyn_into().ok()
}

/// A dropped handle as a directory, or why not.
pub async fn dropped_directory(
    promise: js_sys::Promise,
) -> Result<FileSystemDirectoryHandle, PickError> {
    let handle: FileSystemHandle = JsFuture::from(promise)
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| PickError::Failed("nothing usable was dropped".into()))?;
    if handle.kind() != FileSystemHandleKind::Directory {
        return Err(PickError::Failed(format!(
            "“{}” is a file: drop a folder",
            handle.name()
        )));
    }
    Ok(handle.unchecked_into())
}

/// The files of an `<input type=file webkitdirectory>`.
pub fn from_file_list(list: &web_sys::FileList) -> Picked {
    let mut picked = Picked::default();
    for i in 0..list.length() {
        let Some(file) = list.get(i) else { continue };
        let rel = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
            .ok()
            .and_then(|v| v.as_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| file.name());
        let mut parts = rel.split('/');
        if picked.root.is_empty() {
            picked.root = parts.next().unwrap_or_default().to_string();
        }
        // Files inside hidden folders are skipped like the folders themselves.
        let dirs: Vec<&str> = rel.split('/').collect();
        if dirs.len() > 1 && dirs[1..dirs.len() - 1].iter().any(|d| is_hidden_dir(d)) {
            picked.skipped_hidden += 1;
            continue;
        }
        picked.add(rel, file);
    }
    picked.finish()
}
