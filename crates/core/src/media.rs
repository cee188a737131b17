//! Which files finsync treats as images, which it skips and why (spec §2.1 file classes).

use serde::{Deserialize, Serialize};

/// What a scan does with a file, decided from its name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileClass {
    /// An image finsync can sync (JPEG, PNG, TIFF, BMP, HEIC).
    Image,
    /// A camera RAW file: counted, not synced.
    Raw,
    /// Hidden or system file (`.DS_Store`, `Thumbs.db`, `._x.jpg`, anything starting with a dot).
    Hidden,
    /// Anything else: counted only.
    Other,
}

fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// Classifies a file by its name (not its path).
pub fn classify(name: &str) -> FileClass {
    let lower = name.to_ascii_lowercase();
    if name.starts_with('.') || lower == "thumbs.db" || lower == "desktop.ini" {
        return FileClass::Hidden;
    }
    match extension(name).as_deref() {
        Some("jpg" | "jpeg" | "png" | "tif" | "tiff" | "bmp" | "heic" | "heif") => FileClass::Image,
        Some("cr2" | "nef" | "arw" | "dng" | "orf" | "rw2") => FileClass::Raw,
        _ => FileClass::Other,
    }
}

/// `true` when a directory of this name is skipped with everything in it.
pub fn is_hidden_dir(name: &str) -> bool {
    name.starts_with('.') || name == "__MACOSX" || name == "$RECYCLE.BIN"
}

/// The MIME type an image is uploaded with.
pub fn content_type(name: &str) -> &'static str {
    match extension(name).as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("tif" | "tiff") => "image/tiff",
        Some("bmp") => "image/bmp",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_extension_case_insensitively() {
        assert_eq!(classify("IMG_0001.JPG"), FileClass::Image);
        assert_eq!(classify("a.b.tiff"), FileClass::Image);
        assert_eq!(classify("DSC1.NEF"), FileClass::Raw);
        assert_eq!(classify("notes.txt"), FileClass::Other);
        assert_eq!(classify("jpg"), FileClass::Other);
        assert_eq!(classify(".jpg"), FileClass::Hidden);
        assert_eq!(classify("._IMG_1.jpg"), FileClass::Hidden);
        assert_eq!(classify("Thumbs.db"), FileClass::Hidden);
        assert_eq!(classify("🐋 fluke.jpeg"), FileClass::Image);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("x.JPEG"), "image/jpeg");
        assert_eq!(content_type("x.png"), "image/png");
        assert_eq!(content_type("x"), "application/octet-stream");
    }

    #[test]
    fn hidden_dirs() {
        assert!(is_hidden_dir(".git"));
        assert!(is_hidden_dir("__MACOSX"));
        assert!(!is_hidden_dir("2024-07-15_Haro"));
    }
}
