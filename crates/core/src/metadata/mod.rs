//! Image metadata from a byte **prefix** of a file (spec §2.2): the browser reads only the
//! first 64–128 KiB of each image with `Blob.slice`, so everything here works on an in-memory
//! prefix and says when it needs more.
//!
//! # Usage
//!
//! ```
//! use finsync_core::metadata::{parse_prefix, prefix_needed, PrefixNeed, INITIAL_PREFIX_BYTES};
//! # let file = vec![0u8; 0];
//! let mut have = INITIAL_PREFIX_BYTES.min(file.len());
//! // In the app: `file.slice(0, have)`, read, ask again until Enough (or the file ends).
//! while let PrefixNeed::More { total } = prefix_needed(&file[..have]) {
//!     if have == file.len() { break; }
//!     have = total.min(file.len());
//! }
//! let meta = parse_prefix(&file[..have], "IMG_0001.JPG"); // Err(MetaError::Empty) here
//! ```
//!
//! [`PrefixNeed::More`]`{ total }` always asks for more than it was given and never more than
//! [`MAX_PREFIX_BYTES`], so that loop ends.
//!
//! # What is read
//!
//! * **JPEG**: segments from SOI to SOS. APP1 `Exif` (TIFF IFD0, Exif IFD, GPS IFD); APP13
//!   `Photoshop 3.0` → 8BIM resource 0x0404 → IPTC IIM (our own parser, `iptc.rs`); SOFn for the
//!   pixel size. XMP is not read yet.
//! * **TIFF** (and TIFF-based RAW: CR2, NEF, ARW, DNG): IFD0 and its Exif/GPS IFDs.
//! * **PNG**: IHDR size and an `eXIf` chunk before the first IDAT (one after IDAT would need the
//!   whole file; it is not looked for). No eXIf → a result with no metadata, not an error.
//! * **BMP**: pixel size only (the format has no metadata).
//! * **HEIC/HEIF, GIF, WebP, ORF/RW2/RAF**: [`MetaError::Unsupported`]; anything else (an HTML
//!   page saved as `.jpg`, zero bytes) gives [`MetaError::NotAnImage`] / [`MetaError::Empty`].
//!
//! Damage inside a recognised file (truncated segments, IFD cycles, bad offsets, invalid dates,
//! GPS out of range) never fails the parse: the field is left empty and a [`MetaWarning`] says
//! why. Nothing here panics on any input; a test feeds thousands of mutated files.
//!
//! # Decisions
//!
//! * **Date**: `DateTimeOriginal` (+ `OffsetTimeOriginal`), else `DateTimeDigitized`
//!   (+ `OffsetTimeDigitized`); kept as local `YYYY-MM-DD` + `HH:MM:SS`. Blank dates (spaces and
//!   colons, "unknown" per EXIF) are silently absent; `0000:00:00`, impossible days, years before
//!   [`ParseOptions::EARLIEST_YEAR`] and — when the caller passes `now` — days more than one day
//!   in the future are dropped with a warning, so field rules fall back to the next source.
//!   No clock is read here.
//! * **GPS**: 1–3 rationals per axis, N/S/E/W references (missing → assumed N/E with a
//!   warning), ranges ±90/±180. Exactly `0, 0` is dropped with a warning: cameras and phones
//!   write it without a fix and no marine survey is at "null island". `GPSStatus = V` (void) is
//!   dropped too.
//! * **Photographer candidates**, in this order: IPTC By-line (each), EXIF Artist, Windows
//!   XPAuthor, CameraOwnerName, a name cleaned from EXIF Copyright, then from IPTC Copyright
//!   Notice. All are kept with their source; choosing among them is the field rules' job.
//! * Text is UTF-8 when valid, else Latin-1; trimmed, whitespace collapsed, capped at
//!   [`MAX_TEXT_CHARS`].
//!
//! # Crate choice: `kamadak-exif` (crate `exif`)
//!
//! Chosen over `nom-exif` because: it parses raw TIFF bytes from memory
//! (`Reader::read_raw(Vec<u8>)`), which fits a prefix we locate ourselves; it has one small
//! dependency (`mutate_once`) where nom-exif pulls in nom, chrono, regex, bytes and tracing; it
//! builds for `wasm32-unknown-unknown` as is (~30 KB gzip in an optimised wasm); it defends against hostile files (visited-IFD set
//! against cycles, at most 8 IFDs, bounds-checked offsets, `continue_on_error` for partial
//! results); and it is maintained (0.6.x, 2024) and widely used. nom-exif's strengths (video,
//! HEIF, async readers) are not needed for a prefix of a photo. The container walk (JPEG
//! segments, PNG chunks) and IPTC are ours: they are small, and we need to know *how many
//! bytes are missing*, which neither crate reports.

mod container;
mod exif_read;
mod iptc;
mod text;

#[cfg(test)]
pub(crate) mod testdata;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::api::Gps;
use container::{sniff, walk_jpeg, walk_png, Block, WalkEnd};

pub use text::MAX_TEXT_CHARS;

/// What the app reads first: 64 KiB, one read the size of the I/O floor's. A JPEG's APP1 EXIF
/// segment (thumbnail included) is at most 64 KiB by the format, so this holds the EXIF of most
/// camera JPEGs; when a segment runs past it, [`prefix_needed`] asks for more and
/// [`next_read_end`] rounds that up so a long run of segments costs few extra reads.
pub const INITIAL_PREFIX_BYTES: usize = 64 * 1024;
/// [`prefix_needed`] never asks for more than this (4 MiB); a file whose metadata reaches
/// further is parsed from what there is, with warnings.
pub const MAX_PREFIX_BYTES: usize = 4 * 1024 * 1024;

/// The file format, from its first bytes (not its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageFormat {
    Jpeg,
    Tiff,
    Png,
    Bmp,
    Heif,
    Gif,
    Webp,
    /// A RAW format that is not TIFF-based (ORF, RW2, RAF).
    Raw,
    Unknown,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Png => "PNG",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Heif => "HEIC/HEIF",
            ImageFormat::Gif => "GIF",
            ImageFormat::Webp => "WebP",
            ImageFormat::Raw => "RAW",
            ImageFormat::Unknown => "unknown",
        })
    }
}

/// Answer of [`prefix_needed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixNeed {
    /// The prefix holds all the metadata that can be read from it: call [`parse_prefix`].
    Enough,
    /// Read the first `total` bytes of the file (more than given, at most
    /// [`MAX_PREFIX_BYTES`]) and ask again — e.g. the APP1 EXIF segment extends beyond the
    /// prefix. If the file is shorter, parse what there is.
    More { total: usize },
    /// Not a JPEG, TIFF or PNG whose metadata we can parse; [`parse_prefix`] will say why
    /// (BMP has no metadata: its size is read from the first bytes).
    Unsupported { format: ImageFormat },
}

/// How many bytes of the file the metadata needs; see [`PrefixNeed`].
pub fn prefix_needed(prefix: &[u8]) -> PrefixNeed {
    // 16 bytes tell every format we know apart.
    if prefix.len() < 16 {
        return PrefixNeed::More {
            total: INITIAL_PREFIX_BYTES,
        };
    }
    let end = match sniff(prefix) {
        ImageFormat::Jpeg => walk_jpeg(prefix).1,
        ImageFormat::Png => walk_png(prefix).1,
        ImageFormat::Tiff => container::tiff_extent(prefix),
        format => return PrefixNeed::Unsupported { format },
    };
    match end {
        WalkEnd::NeedMore { need } if prefix.len() < MAX_PREFIX_BYTES => PrefixNeed::More {
            total: need.clamp(prefix.len() + 1, MAX_PREFIX_BYTES),
        },
        _ => PrefixNeed::Enough,
    }
}

/// Where the next read of a file of `size` bytes should end when [`prefix_needed`] answered
/// [`PrefixNeed::More`]`{ total }`: `total` rounded up to a multiple of
/// [`INITIAL_PREFIX_BYTES`] (each read of a `Blob` costs the page more than its bytes, and the
/// segment after the one asked for usually follows), at most [`MAX_PREFIX_BYTES`] and `size`.
pub fn next_read_end(total: usize, size: u64) -> u64 {
    let step = INITIAL_PREFIX_BYTES;
    let rounded = total
        .div_ceil(step)
        .saturating_mul(step)
        .min(MAX_PREFIX_BYTES);
    (rounded.max(total) as u64).min(size)
}

/// Options of [`parse_prefix_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ParseOptions {
    /// "Now" as Unix milliseconds (`Date.now()`): capture days more than one day after it are
    /// dropped with a warning. `None`: no future check.
    pub now_unix_ms: Option<f64>,
}

impl ParseOptions {
    /// Capture dates before this year are not plausible (photo-ID of cetaceans began in the
    /// 1970s; scanned slides keep their real date).
    pub const EARLIEST_YEAR: i32 = 1900;
}

/// The metadata of one image. JSON is camelCase; empty fields (`None`, `[]`, `false`) are left
/// out, and absent ones read as empty (`null` too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMeta {
    pub format: ImageFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Capture time from EXIF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<TakenAt>,
    /// IPTC Date Created (+ Time Created), when present and valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iptc_created: Option<TakenAt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<Gps>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal_length_mm: Option<f64>,
    /// Everything that may name the photographer, most specific first (see module docs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photographers: Vec<PhotographerCandidate>,
    /// IPTC Keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// IPTC Caption/Abstract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_exif: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_iptc: bool,
    /// Per-field problems; the affected field is empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<MetaWarning>,
}

impl ImageMeta {
    pub(crate) fn empty(format: ImageFormat) -> Self {
        ImageMeta {
            format,
            width: None,
            height: None,
            taken: None,
            iptc_created: None,
            gps: None,
            camera_make: None,
            camera_model: None,
            lens_model: None,
            focal_length_mm: None,
            photographers: Vec::new(),
            keywords: Vec::new(),
            caption: None,
            city: None,
            sub_location: None,
            province_state: None,
            country: None,
            has_exif: false,
            has_iptc: false,
            warnings: Vec::new(),
        }
    }

    /// The first photographer candidate from `source`.
    pub fn photographer_from(&self, source: PhotographerSource) -> Option<&str> {
        self.photographers
            .iter()
            .find(|c| c.source == source)
            .map(|c| c.name.as_str())
    }
}

/// A local capture time as the camera recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TakenAt {
    /// `YYYY-MM-DD`, local to where the photo was taken.
    pub date: String,
    /// `HH:MM:SS`, local; `None` when the time part was missing or invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `+HH:MM` / `-HH:MM` from OffsetTime* (IPTC: from Time Created), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    pub tag: DateTag,
}

/// Which tag a [`TakenAt`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DateTag {
    /// EXIF DateTimeOriginal.
    Original,
    /// EXIF DateTimeDigitized.
    Digitized,
    /// IPTC Date Created.
    IptcCreated,
}

impl fmt::Display for DateTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateTag::Original => "DateTimeOriginal",
            DateTag::Digitized => "DateTimeDigitized",
            DateTag::IptcCreated => "IPTC Date Created",
        })
    }
}

/// A raw photographer name and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotographerCandidate {
    pub name: String,
    pub source: PhotographerSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PhotographerSource {
    /// IPTC By-line (Creator).
    IptcByline,
    /// EXIF Artist (0x013B).
    ExifArtist,
    /// Windows XPAuthor (0x9C9D).
    ExifXpAuthor,
    /// EXIF CameraOwnerName (0xA430).
    CameraOwner,
    /// A name cleaned from EXIF Copyright (0x8298).
    Copyright,
    /// A name cleaned from IPTC Copyright Notice.
    IptcCopyright,
}

/// A problem with one part of the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaWarning {
    pub field: MetaField,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetaField {
    /// The file structure (segments, chunks, name vs. content).
    Container,
    Exif,
    Iptc,
    Date,
    Gps,
}

/// Why no metadata could be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    #[error("{file_name}: the file is empty")]
    Empty { file_name: String },
    #[error("{file_name}: not an image (its first bytes match no image format)")]
    NotAnImage { file_name: String },
    #[error("{file_name}: {format} metadata is not supported")]
    Unsupported {
        file_name: String,
        format: ImageFormat,
    },
}

/// [`parse_prefix_with`] without a "now" (no future-date check).
pub fn parse_prefix(prefix: &[u8], file_name: &str) -> Result<ImageMeta, MetaError> {
    parse_prefix_with(prefix, file_name, &ParseOptions::default())
}

/// Parses the metadata in `prefix` (the first bytes of the file `file_name`, which is used
/// for messages and an extension-vs-content warning only).
pub fn parse_prefix_with(
    prefix: &[u8],
    file_name: &str,
    opts: &ParseOptions,
) -> Result<ImageMeta, MetaError> {
    let file_name = file_name.to_string();
    if prefix.is_empty() {
        return Err(MetaError::Empty { file_name });
    }
    let format = sniff(prefix);
    let mut meta = ImageMeta::empty(format);
    match format {
        ImageFormat::Jpeg => {
            let (blocks, end) = walk_jpeg(prefix);
            report_end(&mut meta, end, prefix.len(), "JPEG");
            meta.width = blocks.size.map(|s| s.0);
            meta.height = blocks.size.map(|s| s.1);
            if let Some(exif) = blocks.exif {
                read_exif_block(&mut meta, exif, opts);
            }
            if !blocks.photoshop.is_empty() {
                // Photoshop splits large resource blocks over consecutive APP13 segments.
                let joined: Vec<u8> = blocks
                    .photoshop
                    .iter()
                    .flat_map(|b| b.bytes.iter().copied())
                    .collect();
                read_iptc(&mut meta, &joined, opts);
            }
        }
        ImageFormat::Png => {
            let (blocks, end) = walk_png(prefix);
            report_end(&mut meta, end, prefix.len(), "PNG");
            meta.width = blocks.size.map(|s| s.0);
            meta.height = blocks.size.map(|s| s.1);
            if let Some(exif) = blocks.exif {
                read_exif_block(&mut meta, exif, opts);
            }
        }
        ImageFormat::Tiff => {
            if let WalkEnd::NeedMore { need } = container::tiff_extent(prefix) {
                meta.warn(
                    MetaField::Container,
                    format!(
                        "TIFF metadata extends to byte {need}, beyond the {} bytes read",
                        prefix.len()
                    ),
                );
            }
            exif_read::read_into(prefix, &mut meta, opts);
        }
        ImageFormat::Bmp => {
            if let Some((w, h)) = container::bmp_size(prefix) {
                meta.width = Some(w);
                meta.height = Some(h);
            }
        }
        ImageFormat::Unknown => return Err(MetaError::NotAnImage { file_name }),
        format => return Err(MetaError::Unsupported { file_name, format }),
    }
    if let Some(named) = format_from_name(&file_name) {
        if named != format {
            meta.warn(
                MetaField::Container,
                format!("the name says {named} but the content is {format}"),
            );
        }
    }
    Ok(meta)
}

fn report_end(meta: &mut ImageMeta, end: WalkEnd, len: usize, what: &str) {
    match end {
        WalkEnd::Complete => {}
        WalkEnd::NeedMore { .. } => meta.warn(
            MetaField::Container,
            format!("{what} header not complete in the {len} bytes read (truncated file?)"),
        ),
        WalkEnd::Corrupt { at } => meta.warn(
            MetaField::Container,
            format!("{what} structure is damaged at byte {at}; metadata after it is not read"),
        ),
    }
}

fn read_exif_block(meta: &mut ImageMeta, block: Block<'_>, opts: &ParseOptions) {
    if !block.complete {
        meta.warn(
            MetaField::Exif,
            format!(
                "EXIF block is cut short ({} of {} bytes read)",
                block.bytes.len(),
                block.declared_len
            ),
        );
    }
    exif_read::read_into(block.bytes, meta, opts);
}

fn read_iptc(meta: &mut ImageMeta, resources: &[u8], opts: &ParseOptions) {
    let Some(iptc) = iptc::parse_photoshop(resources) else {
        return;
    };
    for p in iptc.problems.iter().take(3) {
        meta.warn(MetaField::Iptc, p.clone());
    }
    let found = !iptc.by_line.is_empty()
        || !iptc.keywords.is_empty()
        || iptc.caption.is_some()
        || iptc.city.is_some()
        || iptc.sub_location.is_some()
        || iptc.date_created.is_some()
        || iptc.copyright.is_some();
    meta.has_iptc = found;
    // IPTC By-line is the most specific photographer: put it first.
    let mut first: Vec<PhotographerCandidate> = iptc
        .by_line
        .into_iter()
        .filter(|n| n.chars().any(char::is_alphanumeric))
        .map(|name| PhotographerCandidate {
            name,
            source: PhotographerSource::IptcByline,
        })
        .collect();
    first.append(&mut meta.photographers);
    meta.photographers = first;
    if let Some(name) = iptc
        .copyright
        .as_deref()
        .and_then(text::name_from_copyright)
    {
        meta.photographers.push(PhotographerCandidate {
            name,
            source: PhotographerSource::IptcCopyright,
        });
    }
    meta.keywords = iptc.keywords;
    meta.caption = iptc.caption;
    meta.city = iptc.city;
    meta.sub_location = iptc.sub_location;
    meta.province_state = iptc.province_state;
    meta.country = iptc.country;
    if let Some(d) = iptc.date_created {
        meta.iptc_created = iptc_date(meta, &d, iptc.time_created.as_deref(), opts);
    }
}

/// IPTC Date Created `CCYYMMDD` + Time Created `HHMMSS±HHMM`.
fn iptc_date(
    meta: &mut ImageMeta,
    date: &str,
    time: Option<&str>,
    opts: &ParseOptions,
) -> Option<TakenAt> {
    let b = date.as_bytes();
    let num = |r: std::ops::Range<usize>| b.get(r).and_then(crate::calendar::digits);
    let day = match (b.len(), num(0..4), num(4..6), num(6..8)) {
        (8, Some(y), Some(m), Some(d)) => crate::calendar::Day::new(y as i32, m, d),
        _ => None,
    };
    let Some(day) = day else {
        meta.warn(
            MetaField::Date,
            format!("IPTC Date Created `{date}` is not a valid date; ignored"),
        );
        return None;
    };
    if let Some(why) = exif_read::implausible(day, opts) {
        meta.warn(
            MetaField::Date,
            format!("IPTC Date Created {day} {why}; ignored"),
        );
        return None;
    }
    let (mut t, mut offset) = (None, None);
    if let Some(tb) = time.map(str::as_bytes).filter(|tb| tb.len() >= 6) {
        let n = |r: std::ops::Range<usize>| tb.get(r).and_then(crate::calendar::digits);
        if let (Some(h), Some(m), Some(s)) = (n(0..2), n(2..4), n(4..6)) {
            t = crate::calendar::TimeOfDay::new(h, m, s).map(|t| t.to_string());
        }
        if tb.len() == 11 && matches!(tb[6], b'+' | b'-') {
            if let (Some(h), Some(m)) = (n(7..9), n(9..11)) {
                offset =
                    crate::calendar::parse_utc_offset(&format!("{}{h:02}:{m:02}", tb[6] as char));
            }
        }
    }
    Some(TakenAt {
        date: day.to_string(),
        time: t,
        utc_offset: offset,
        tag: DateTag::IptcCreated,
    })
}

fn format_from_name(name: &str) -> Option<ImageFormat> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" | "jpe" => ImageFormat::Jpeg,
        "png" => ImageFormat::Png,
        "tif" | "tiff" | "cr2" | "nef" | "arw" | "dng" => ImageFormat::Tiff,
        "bmp" => ImageFormat::Bmp,
        "heic" | "heif" => ImageFormat::Heif,
        "orf" | "rw2" | "raf" => ImageFormat::Raw,
        _ => return None,
    })
}
