//! Container walkers: find the metadata blocks of a JPEG, PNG or TIFF inside a byte prefix,
//! and say how many bytes a complete read needs. No decoding of pixels.

use super::ImageFormat;

/// Sniffs the format from the first bytes.
pub(crate) fn sniff(b: &[u8]) -> ImageFormat {
    // A JPEG cut right after SOI is still a JPEG.
    if b.starts_with(&[0xFF, 0xD8]) && b.get(2).is_none_or(|&x| x == 0xFF) {
        ImageFormat::Jpeg
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        ImageFormat::Png
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        ImageFormat::Tiff
    } else if b.starts_with(b"IIRO") || b.starts_with(b"IIU\0") || b.starts_with(b"FUJIFILM") {
        // Olympus ORF, Panasonic RW2, Fuji RAF: TIFF-like but not TIFF.
        ImageFormat::Raw
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        ImageFormat::Heif
    } else if b.starts_with(b"BM") && b.len() >= 26 {
        ImageFormat::Bmp
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        ImageFormat::Gif
    } else if b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
        ImageFormat::Webp
    } else {
        ImageFormat::Unknown
    }
}

/// How a walk over the prefix ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkEnd {
    /// Reached the image data (JPEG SOS, PNG IDAT): every metadata block was seen.
    Complete,
    /// The prefix ends before the walk could finish; the first `need` bytes would let it go
    /// on (it may ask for more after that).
    NeedMore { need: usize },
    /// The structure is broken at this offset; what came before is usable.
    Corrupt { at: usize },
}

/// A metadata block found in the prefix; `complete` is false when the prefix cut it short.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block<'a> {
    pub bytes: &'a [u8],
    pub complete: bool,
    pub declared_len: usize,
}

#[derive(Debug, Default)]
pub(crate) struct JpegBlocks<'a> {
    /// TIFF bytes of the first APP1 `Exif\0?` segment.
    pub exif: Option<Block<'a>>,
    /// Payloads of APP13 `Photoshop 3.0\0` segments (after that header), in order.
    pub photoshop: Vec<Block<'a>>,
    /// Frame size from the SOFn segment.
    pub size: Option<(u32, u32)>,
}

const EXIF_HEADER: &[u8] = b"Exif\0";
const PHOTOSHOP_HEADER: &[u8] = b"Photoshop 3.0\0";

/// Walks JPEG segments from after SOI to SOS (or EOI). Segments are read in place.
pub(crate) fn walk_jpeg(b: &[u8]) -> (JpegBlocks<'_>, WalkEnd) {
    let mut out = JpegBlocks::default();
    let mut pos = 2usize;
    loop {
        // Marker: 0xFF, optional fill 0xFF bytes, then the code.
        if pos >= b.len() {
            return (out, WalkEnd::NeedMore { need: pos + 4 });
        }
        if b[pos] != 0xFF {
            return (out, WalkEnd::Corrupt { at: pos });
        }
        while pos < b.len() && b[pos] == 0xFF {
            pos += 1;
        }
        if pos >= b.len() {
            return (out, WalkEnd::NeedMore { need: pos + 3 });
        }
        let marker = b[pos];
        pos += 1;
        match marker {
            0xD9 | 0xDA => return (out, WalkEnd::Complete),
            0x00 => return (out, WalkEnd::Corrupt { at: pos - 1 }),
            0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        if pos + 2 > b.len() {
            return (out, WalkEnd::NeedMore { need: pos + 2 });
        }
        let len = u16::from_be_bytes([b[pos], b[pos + 1]]) as usize;
        if len < 2 {
            return (out, WalkEnd::Corrupt { at: pos });
        }
        let body_start = pos + 2;
        let body_end = pos + len;
        let complete = body_end <= b.len();
        let body = &b[body_start..body_end.min(b.len())];
        let declared = len - 2;
        match marker {
            0xE1 if out.exif.is_none() && body.starts_with(EXIF_HEADER) && declared >= 6 => {
                out.exif = Some(Block {
                    bytes: body.get(6..).unwrap_or(&[]),
                    complete,
                    declared_len: declared - 6,
                });
            }
            0xED if body.starts_with(PHOTOSHOP_HEADER) => {
                out.photoshop.push(Block {
                    bytes: &body[PHOTOSHOP_HEADER.len()..],
                    complete,
                    declared_len: declared - PHOTOSHOP_HEADER.len().min(declared),
                });
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && body.len() >= 5 => {
                let h = u16::from_be_bytes([body[1], body[2]]) as u32;
                let w = u16::from_be_bytes([body[3], body[4]]) as u32;
                out.size = Some((w, h));
            }
            _ => {}
        }
        if !complete {
            // Enough to read this segment and the next marker + length.
            return (out, WalkEnd::NeedMore { need: body_end + 4 });
        }
        pos = body_end;
    }
}

#[derive(Debug, Default)]
pub(crate) struct PngBlocks<'a> {
    pub exif: Option<Block<'a>>,
    pub size: Option<(u32, u32)>,
}

/// Walks PNG chunks up to the first IDAT. An `eXIf` chunk after IDAT is not looked for: it
/// would need the whole file.
pub(crate) fn walk_png(b: &[u8]) -> (PngBlocks<'_>, WalkEnd) {
    let mut out = PngBlocks::default();
    let mut pos = 8usize;
    loop {
        if pos + 8 > b.len() {
            return (out, WalkEnd::NeedMore { need: pos + 8 });
        }
        let len = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        let kind = &b[pos + 4..pos + 8];
        if len > 0x7FFF_FFFF || !kind.iter().all(u8::is_ascii_alphabetic) {
            return (out, WalkEnd::Corrupt { at: pos });
        }
        let data_start = pos + 8;
        let data_end = data_start.saturating_add(len);
        let complete = data_end <= b.len();
        let data = &b[data_start.min(b.len())..data_end.min(b.len())];
        match kind {
            b"IDAT" | b"IEND" => return (out, WalkEnd::Complete),
            b"IHDR" if data.len() >= 8 => {
                let w = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let h = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                out.size = Some((w, h));
            }
            b"eXIf" if out.exif.is_none() => {
                out.exif = Some(Block {
                    bytes: data,
                    complete,
                    declared_len: len,
                });
            }
            _ => {}
        }
        // Data + CRC, then the next chunk's header.
        let next = data_end.saturating_add(4);
        if next > b.len() {
            return (
                out,
                WalkEnd::NeedMore {
                    need: next.saturating_add(8),
                },
            );
        }
        pos = next;
    }
}

/// How much of a TIFF file the metadata needs: IFD0, the Exif and GPS IFDs, and the values
/// of their entries. Returns the walk's end and, for `NeedMore`, the bytes to read.
pub(crate) fn tiff_extent(b: &[u8]) -> WalkEnd {
    let le = match b.get(0..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return WalkEnd::Corrupt { at: 0 },
    };
    let u16_at = |o: usize| -> Option<u32> {
        let s = b.get(o..o.checked_add(2)?)?;
        Some(if le {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        } as u32)
    };
    let u32_at = |o: usize| -> Option<u32> {
        let s = b.get(o..o.checked_add(4)?)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let Some(ifd0) = u32_at(4) else {
        return WalkEnd::NeedMore { need: 8 };
    };
    let mut pending = vec![ifd0 as usize];
    let mut seen = Vec::new();
    let mut need = 0usize;
    while let Some(ifd) = pending.pop() {
        if ifd < 8 || seen.contains(&ifd) || seen.len() >= 4 {
            continue;
        }
        seen.push(ifd);
        let Some(count) = u16_at(ifd) else {
            need = need.max(ifd.saturating_add(2));
            continue;
        };
        let table_end = ifd.saturating_add(2 + 12 * count as usize + 4);
        need = need.max(table_end);
        for i in 0..count as usize {
            let e = ifd.saturating_add(2 + 12 * i);
            let (Some(tag), Some(typ), Some(n), Some(val)) =
                (u16_at(e), u16_at(e + 2), u32_at(e + 4), u32_at(e + 8))
            else {
                break;
            };
            let unit = match typ {
                1 | 2 | 6 | 7 => 1usize,
                3 | 8 => 2,
                4 | 9 | 11 | 13 => 4,
                5 | 10 | 12 => 8,
                _ => 0,
            };
            let size = unit.saturating_mul(n as usize);
            if size > 4 {
                need = need.max((val as usize).saturating_add(size));
            }
            if tag == 0x8769 || tag == 0x8825 {
                pending.push(val as usize);
            }
        }
    }
    if need > b.len() {
        WalkEnd::NeedMore { need }
    } else {
        WalkEnd::Complete
    }
}

/// Width and height from a BMP header (BITMAPINFOHEADER or later).
pub(crate) fn bmp_size(b: &[u8]) -> Option<(u32, u32)> {
    let header = u32::from_le_bytes(b.get(14..18)?.try_into().ok()?);
    if header < 40 {
        let w = u16::from_le_bytes(b.get(18..20)?.try_into().ok()?) as u32;
        let h = u16::from_le_bytes(b.get(20..22)?.try_into().ok()?) as u32;
        return Some((w, h));
    }
    let w = i32::from_le_bytes(b.get(18..22)?.try_into().ok()?);
    let h = i32::from_le_bytes(b.get(22..26)?.try_into().ok()?);
    Some((w.unsigned_abs(), h.unsigned_abs()))
}
