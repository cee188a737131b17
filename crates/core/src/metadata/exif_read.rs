//! EXIF (TIFF IFD0 / Exif IFD / GPS IFD) → [`ImageMeta`] fields, through `kamadak-exif`.

use ::exif::{In, Reader, Tag, Value};

use super::text::{clean, decode_text, decode_ucs2le, name_from_copyright};
use super::{
    DateTag, ImageMeta, MetaField, MetaWarning, ParseOptions, PhotographerCandidate,
    PhotographerSource, TakenAt,
};
use crate::api::Gps;
use crate::calendar::{parse_utc_offset, Day, TimeOfDay};

/// Windows' "Authors" (UCS-2), not among kamadak-exif's named tags.
const XP_AUTHOR: Tag = Tag(::exif::Context::Tiff, 0x9C9D);

/// Parses `tiff` (the bytes after `Exif\0\0`, or a whole TIFF prefix) into `meta`. Damage
/// becomes warnings; whatever could be read is kept.
pub(crate) fn read_into(tiff: &[u8], meta: &mut ImageMeta, opts: &ParseOptions) {
    let mut reader = Reader::new();
    reader.continue_on_error(true);
    let exif = match reader.read_raw(tiff.to_vec()) {
        Ok(exif) => exif,
        Err(e) => {
            let mut problems = Vec::new();
            match e.distill_partial_result(|errors| {
                problems = errors.iter().map(|e| e.to_string()).collect();
            }) {
                Ok(exif) => {
                    // Report the first few; a looping or broken file can produce many.
                    for p in problems.iter().take(3) {
                        meta.warn(MetaField::Exif, format!("EXIF partly unreadable: {p}"));
                    }
                    exif
                }
                Err(e) => {
                    meta.warn(MetaField::Exif, format!("EXIF unreadable: {e}"));
                    return;
                }
            }
        }
    };
    meta.has_exif = true;
    let ascii = |tag: Tag| -> Option<String> {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Ascii(v) => {
                let s = decode_text(v.first()?);
                (!s.is_empty()).then_some(s)
            }
            // Some writers use UNDEFINED or BYTE for text.
            Value::Undefined(b, _) | Value::Byte(b) => {
                let s = decode_text(b);
                (!s.is_empty()).then_some(s)
            }
            _ => None,
        }
    };

    // Capture time: DateTimeOriginal (+OffsetTimeOriginal), else DateTimeDigitized.
    for (tag, offset_tag, which) in [
        (
            Tag::DateTimeOriginal,
            Tag::OffsetTimeOriginal,
            DateTag::Original,
        ),
        (
            Tag::DateTimeDigitized,
            Tag::OffsetTimeDigitized,
            DateTag::Digitized,
        ),
    ] {
        let Some(raw) = ascii(tag) else { continue };
        match parse_exif_datetime(&raw) {
            ExifDate::Blank => continue,
            ExifDate::Invalid => {
                meta.warn(
                    MetaField::Date,
                    format!("{which} `{raw}` is not a valid date; ignored"),
                );
                continue;
            }
            ExifDate::Valid(day, time) => {
                if let Some(w) = implausible(day, opts) {
                    meta.warn(MetaField::Date, format!("{which} {day} {w}; ignored"));
                    continue;
                }
                let after_day = raw.trim().get(10..).unwrap_or_default();
                if time.is_none() && after_day.chars().any(|c| c.is_ascii_digit()) {
                    meta.warn(
                        MetaField::Date,
                        format!(
                            "{which} `{raw}` has no valid time of day; the date {day} is kept \
                             without a time"
                        ),
                    );
                }
                let utc_offset = ascii(offset_tag).and_then(|o| {
                    let parsed = parse_utc_offset(&o);
                    if parsed.is_none() && o.chars().any(|c| c.is_ascii_digit()) {
                        meta.warn(MetaField::Date, format!("UTC offset `{o}` is not valid"));
                    }
                    parsed
                });
                meta.taken = Some(TakenAt {
                    date: day.to_string(),
                    time: time.map(|t| t.to_string()),
                    utc_offset,
                    tag: which,
                });
                break;
            }
        }
    }

    read_gps(&exif, meta);

    meta.camera_make = ascii(Tag::Make);
    meta.camera_model = ascii(Tag::Model);
    meta.lens_model = ascii(Tag::LensModel);
    meta.focal_length_mm = match exif
        .get_field(Tag::FocalLength, In::PRIMARY)
        .map(|f| &f.value)
    {
        Some(Value::Rational(r)) => r
            .first()
            .filter(|r| r.denom != 0)
            .map(|r| r.to_f64())
            .filter(|f| f.is_finite() && *f > 0.0),
        _ => None,
    };
    if meta.width.is_none() {
        let dim = |tag| {
            exif.get_field(tag, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        };
        if let (Some(w), Some(h)) = (dim(Tag::PixelXDimension), dim(Tag::PixelYDimension)) {
            meta.width = Some(w);
            meta.height = Some(h);
        }
    }

    let mut candidate = |name: Option<String>, source| {
        if let Some(name) = name.filter(|n| n.chars().any(char::is_alphanumeric)) {
            meta.photographers
                .push(PhotographerCandidate { name, source });
        }
    };
    candidate(ascii(Tag::Artist), PhotographerSource::ExifArtist);
    let xp = match exif.get_field(XP_AUTHOR, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Byte(b) | Value::Undefined(b, _)) => Some(decode_ucs2le(b)),
        _ => None,
    };
    candidate(xp, PhotographerSource::ExifXpAuthor);
    candidate(ascii(Tag::CameraOwnerName), PhotographerSource::CameraOwner);
    candidate(
        ascii(Tag::Copyright).and_then(|c| name_from_copyright(&c)),
        PhotographerSource::Copyright,
    );
}

fn read_gps(exif: &::exif::Exif, meta: &mut ImageMeta) {
    let get = |tag| exif.get_field(tag, In::PRIMARY).map(|f| &f.value);
    let (lat, lon) = (get(Tag::GPSLatitude), get(Tag::GPSLongitude));
    if lat.is_none() && lon.is_none() {
        return;
    }
    let (Some(lat), Some(lon)) = (lat, lon) else {
        meta.warn(
            MetaField::Gps,
            "GPS has only one of latitude/longitude; ignored".into(),
        );
        return;
    };
    let reference = |tag| match get(tag) {
        Some(Value::Ascii(v)) => v
            .first()
            .and_then(|s| s.first())
            .map(|b| b.to_ascii_uppercase()),
        _ => None,
    };
    if let Some(b'V') = reference(Tag::GPSStatus) {
        meta.warn(MetaField::Gps, "GPS status is `V` (no fix); ignored".into());
        return;
    }
    let (lat, lon) = match (dms(lat), dms(lon)) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            meta.warn(
                MetaField::Gps,
                "GPS latitude/longitude are not valid degree/minute/second values; ignored".into(),
            );
            return;
        }
    };
    let mut sign = |tag, pos: u8, neg: u8, what: &str| -> Option<f64> {
        match reference(tag) {
            Some(r) if r == pos => Some(1.0),
            Some(r) if r == neg => Some(-1.0),
            None => {
                meta.warn(
                    MetaField::Gps,
                    format!("GPS {what} reference missing; assumed {}", pos as char),
                );
                Some(1.0)
            }
            Some(r) => {
                meta.warn(
                    MetaField::Gps,
                    format!("GPS {what} reference `{}` is not valid; ignored", r as char),
                );
                None
            }
        }
    };
    let (Some(slat), Some(slon)) = (
        sign(Tag::GPSLatitudeRef, b'N', b'S', "latitude"),
        sign(Tag::GPSLongitudeRef, b'E', b'W', "longitude"),
    ) else {
        return;
    };
    let (lat, lon) = (lat * slat, lon * slon);
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        meta.warn(
            MetaField::Gps,
            format!("GPS {lat:.6}, {lon:.6} is out of range; ignored"),
        );
        return;
    }
    if lat == 0.0 && lon == 0.0 {
        meta.warn(
            MetaField::Gps,
            "GPS 0, 0 is a placeholder written without a fix; ignored".into(),
        );
        return;
    }
    meta.gps = Some(Gps { lat, lon });
}

/// Degrees from 1–3 rationals (degrees, minutes, seconds).
fn dms(v: &Value) -> Option<f64> {
    let Value::Rational(r) = v else { return None };
    if r.is_empty() || r.len() > 3 || r.iter().any(|x| x.denom == 0) {
        return None;
    }
    let d = r
        .iter()
        .zip([1.0, 60.0, 3600.0])
        .map(|(x, div)| x.to_f64() / div)
        .sum::<f64>();
    d.is_finite().then_some(d)
}

pub(crate) enum ExifDate {
    /// Empty or only separators: "unknown" per the EXIF spec.
    Blank,
    Invalid,
    Valid(Day, Option<TimeOfDay>),
}

/// `YYYY:MM:DD HH:MM:SS`, leniently: `-` or `/` separators, `T` before the time, no seconds.
/// A date with a broken time keeps the date.
pub(crate) fn parse_exif_datetime(s: &str) -> ExifDate {
    let s = s.trim();
    if s.chars().all(|c| matches!(c, ' ' | ':' | '-')) {
        return ExifDate::Blank;
    }
    let b = s.as_bytes();
    let sep = |i: usize| b.get(i).is_some_and(|c| matches!(c, b':' | b'-' | b'/'));
    if b.len() < 10 || !sep(4) || !sep(7) {
        return ExifDate::Invalid;
    }
    let num = |r: std::ops::Range<usize>| b.get(r).and_then(crate::calendar::digits);
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return ExifDate::Invalid;
    };
    let Some(day) = Day::new(y as i32, m, d) else {
        return ExifDate::Invalid;
    };
    let time = if b.len() >= 16 && matches!(b[10], b' ' | b'T') && b[13] == b':' {
        let sec = if b.len() >= 19 && b[16] == b':' {
            num(17..19)
        } else {
            Some(0)
        };
        match (num(11..13), num(14..16), sec) {
            (Some(h), Some(mi), Some(se)) => TimeOfDay::new(h, mi, se),
            _ => None,
        }
    } else {
        None
    };
    ExifDate::Valid(day, time)
}

/// Why a capture day cannot be right, if it cannot.
pub(crate) fn implausible(day: Day, opts: &ParseOptions) -> Option<String> {
    if day.year < ParseOptions::EARLIEST_YEAR {
        return Some(format!("is before {}", ParseOptions::EARLIEST_YEAR));
    }
    let now = opts.now_unix_ms?;
    // One day of slack: local time can be ahead of UTC by up to 14 hours.
    let latest = Day::from_unix_ms(now + 86_400_000.0);
    (day > latest).then(|| "is in the future (camera clock?)".to_string())
}

impl ImageMeta {
    pub(crate) fn warn(&mut self, field: MetaField, message: String) {
        if self.warnings.len() < 50 {
            self.warnings.push(MetaWarning {
                field,
                message: clean(&message),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_dates() {
        let ok = |s| match parse_exif_datetime(s) {
            ExifDate::Valid(d, t) => Some((d.to_string(), t.map(|t| t.to_string()))),
            _ => None,
        };
        assert_eq!(
            ok("2024:07:15 10:20:30"),
            Some(("2024-07-15".into(), Some("10:20:30".into())))
        );
        assert_eq!(
            ok("2024-07-15T10:20"),
            Some(("2024-07-15".into(), Some("10:20:00".into())))
        );
        assert_eq!(ok("2024:07:15 99:99:99"), Some(("2024-07-15".into(), None)));
        assert_eq!(ok("2024:07:15"), Some(("2024-07-15".into(), None)));
        assert!(matches!(
            parse_exif_datetime("    :  :     :  :  "),
            ExifDate::Blank
        ));
        assert!(matches!(
            parse_exif_datetime("0000:00:00 00:00:00"),
            ExifDate::Invalid
        ));
        assert!(matches!(
            parse_exif_datetime("2023:02:29 00:00:00"),
            ExifDate::Invalid
        ));
        assert!(matches!(parse_exif_datetime("garbage"), ExifDate::Invalid));
        assert!(matches!(
            parse_exif_datetime("2024:07:1"),
            ExifDate::Invalid
        ));
    }

    #[test]
    fn plausibility() {
        let opts = ParseOptions {
            now_unix_ms: Some(1_721_001_600_000.0), // 2024-07-15
        };
        let d = |s| Day::parse_iso(s).expect("day");
        assert!(implausible(d("2024-07-16"), &opts).is_none());
        assert!(implausible(d("2024-07-17"), &opts).is_some());
        assert!(implausible(d("1899-12-31"), &opts).is_some());
        assert!(implausible(d("2099-01-01"), &ParseOptions::default()).is_none());
    }
}
