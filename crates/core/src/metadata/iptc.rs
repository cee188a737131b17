//! IPTC IIM (the "IPTC-NAA" record) inside Photoshop image resources, as cameras and photo
//! tools write it to a JPEG's APP13 `Photoshop 3.0` segment.
//!
//! Layout: a sequence of `8BIM` resources (`"8BIM"`, id u16 BE, Pascal name padded to an even
//! length, size u32 BE, data padded to an even length). Resource `0x0404` holds IIM datasets:
//! `0x1C`, record u8, dataset u8, length u16 BE (high bit set: the low 15 bits give the number
//! of length bytes that follow), data. Text is decoded as UTF-8 when valid (whether or not
//! dataset 1:90 declares it; many tools write UTF-8 without it), else Latin-1. Parsing stops at the first malformed byte; what was
//! read before it is kept.

use super::text::decode_text;

/// The IIM datasets finsync reads (record 2, "application record").
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Iptc {
    pub by_line: Vec<String>,
    pub keywords: Vec<String>,
    pub caption: Option<String>,
    pub city: Option<String>,
    pub sub_location: Option<String>,
    pub province_state: Option<String>,
    pub country: Option<String>,
    pub copyright: Option<String>,
    pub date_created: Option<String>,
    pub time_created: Option<String>,
    /// Problems met while parsing; the fields above hold what was read before them.
    pub problems: Vec<String>,
}

const IPTC_RESOURCE: u16 = 0x0404;
/// At most this many datasets are read (a real record has tens).
const MAX_DATASETS: usize = 10_000;
/// Repeatable datasets keep at most this many values.
const MAX_REPEATS: usize = 500;

/// Finds resource 0x0404 in Photoshop image resources and parses it.
/// `None` when there is no IPTC resource at all.
pub(crate) fn parse_photoshop(resources: &[u8]) -> Option<Iptc> {
    let mut pos = 0usize;
    let mut problems = Vec::new();
    while pos + 12 <= resources.len() {
        if &resources[pos..pos + 4] != b"8BIM" {
            problems.push(format!("Photoshop resources: bad signature at byte {pos}"));
            break;
        }
        let id = u16::from_be_bytes([resources[pos + 4], resources[pos + 5]]);
        let name_len = resources[pos + 6] as usize;
        // Length byte + name, padded to even.
        let name_total = (1 + name_len + 1) & !1;
        let size_at = pos + 6 + name_total;
        let Some(size_bytes) = resources.get(size_at..size_at + 4) else {
            problems.push("Photoshop resources: truncated".into());
            break;
        };
        let size = u32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]])
            as usize;
        let data_start = size_at + 4;
        let data_end = data_start.saturating_add(size);
        if id == IPTC_RESOURCE {
            let truncated = data_end > resources.len();
            let data = &resources[data_start.min(resources.len())..data_end.min(resources.len())];
            let mut iptc = parse_iim(data);
            if truncated {
                iptc.problems
                    .push("IPTC record is cut short (the file prefix ends inside it)".into());
            }
            problems.append(&mut iptc.problems);
            iptc.problems = problems;
            return Some(iptc);
        }
        pos = data_end.saturating_add(size & 1);
    }
    if problems.is_empty() {
        None
    } else {
        Some(Iptc {
            problems,
            ..Iptc::default()
        })
    }
}

/// Parses IIM datasets.
pub(crate) fn parse_iim(b: &[u8]) -> Iptc {
    let mut out = Iptc::default();
    let mut pos = 0usize;
    let mut raw: Vec<(u8, u8, &[u8])> = Vec::new();
    while pos < b.len() && raw.len() < MAX_DATASETS {
        if b[pos] != 0x1C {
            // Trailing zero padding is common; anything else is damage.
            if b[pos..].iter().any(|&x| x != 0) {
                out.problems
                    .push(format!("IPTC: unexpected byte 0x{:02X} at {pos}", b[pos]));
            }
            break;
        }
        let Some(h) = b.get(pos..pos + 5) else {
            out.problems.push("IPTC: truncated dataset header".into());
            break;
        };
        let (record, dataset) = (h[1], h[2]);
        let mut len = u16::from_be_bytes([h[3], h[4]]) as usize;
        pos += 5;
        if len & 0x8000 != 0 {
            let n = len & 0x7FFF;
            let Some(lb) = b
                .get(pos..pos.saturating_add(n))
                .filter(|_| n > 0 && n <= 4)
            else {
                out.problems.push("IPTC: bad extended length".into());
                break;
            };
            len = lb.iter().fold(0usize, |a, &x| (a << 8) | x as usize);
            pos += n;
        }
        let end = pos.saturating_add(len);
        let data = &b[pos.min(b.len())..end.min(b.len())];
        if end > b.len() {
            out.problems.push(format!(
                "IPTC: dataset {record}:{dataset} is truncated ({} of {len} bytes)",
                data.len()
            ));
        }
        raw.push((record, dataset, data));
        pos = end;
    }
    for (record, dataset, data) in raw {
        if record != 2 {
            continue;
        }
        let text = decode_text(data);
        if text.is_empty() {
            continue;
        }
        let single = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(text.clone());
            }
        };
        match dataset {
            80 if out.by_line.len() < MAX_REPEATS => out.by_line.push(text),
            25 if out.keywords.len() < MAX_REPEATS => out.keywords.push(text),
            120 => single(&mut out.caption),
            90 => single(&mut out.city),
            92 => single(&mut out.sub_location),
            95 => single(&mut out.province_state),
            101 => single(&mut out.country),
            116 => single(&mut out.copyright),
            55 => single(&mut out.date_created),
            60 => single(&mut out.time_created),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::testdata::{iim, photoshop_resources};

    #[test]
    fn parses_datasets() {
        let data = iim(&[
            (1, 90, b"\x1b%G".to_vec()),
            (2, 80, "Jane Smith".into()),
            (2, 80, "Bo Ek".into()),
            (2, 25, "T002B".into()),
            (2, 25, "breach".into()),
            (2, 90, "Friday Harbor".into()),
            (2, 92, "Haro Strait".into()),
            (2, 120, "Orcas — T002B".into()),
        ]);
        let iptc = parse_photoshop(&photoshop_resources(&data)).expect("iptc");
        assert_eq!(iptc.by_line, ["Jane Smith", "Bo Ek"]);
        assert_eq!(iptc.keywords, ["T002B", "breach"]);
        assert_eq!(iptc.city.as_deref(), Some("Friday Harbor"));
        assert_eq!(iptc.sub_location.as_deref(), Some("Haro Strait"));
        assert_eq!(iptc.caption.as_deref(), Some("Orcas — T002B"));
        assert!(iptc.problems.is_empty(), "{:?}", iptc.problems);
    }

    #[test]
    fn extended_length_and_damage() {
        // Extended length: 0x8002 then two length bytes.
        let mut b = vec![0x1C, 2, 120, 0x80, 0x02, 0x00, 0x03];
        b.extend_from_slice(b"abc");
        b.extend_from_slice(&[0x1C, 2, 80, 0x00, 0x50, b'x']); // truncated
        let iptc = parse_iim(&b);
        assert_eq!(iptc.caption.as_deref(), Some("abc"));
        assert_eq!(iptc.by_line, ["x"]);
        assert_eq!(iptc.problems.len(), 1);
        // Bad extended length count.
        let iptc = parse_iim(&[0x1C, 2, 120, 0x80, 0x09, 1, 2]);
        assert!(iptc.caption.is_none());
        assert_eq!(iptc.problems.len(), 1);
        // Garbage and zero padding.
        assert_eq!(parse_iim(&[0, 0, 0]).problems.len(), 0);
        assert_eq!(parse_iim(&[7, 0, 0]).problems.len(), 1);
    }

    #[test]
    fn resources_without_iptc() {
        let mut r = b"8BIM\x04\x0c\0\0".to_vec();
        r.extend_from_slice(&3u32.to_be_bytes());
        r.extend_from_slice(b"abc\0");
        assert!(parse_photoshop(&r).is_none());
        assert!(
            parse_photoshop(b"8BIX\x04\x04\0\0\0\0\0\0").is_some_and(|i| !i.problems.is_empty())
        );
    }
}
