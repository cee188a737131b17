//! Tests of [`super::parse_prefix`] and [`super::prefix_needed`] on real JPEG/PNG/TIFF bytes.

use super::testdata::*;
use super::*;

fn parse(bytes: &[u8]) -> ImageMeta {
    parse_prefix(bytes, "IMG_0001.JPG").expect("parses")
}

#[test]
fn fixture_is_a_real_decodable_jpeg() {
    for be in [false, true] {
        let bytes = field_photo(be);
        let mut d = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(bytes));
        let pixels = d.decode().expect("zune-jpeg decodes the fixture");
        let info = d.info().expect("info");
        assert_eq!((info.width, info.height), (16, 16));
        assert!(!pixels.is_empty() && pixels.iter().all(|&p| p.abs_diff(128) <= 1));
    }
}

#[test]
fn reads_everything_from_a_field_photo_in_both_byte_orders() {
    for be in [false, true] {
        let m = parse(&field_photo(be));
        assert_eq!(m.format, ImageFormat::Jpeg);
        assert_eq!((m.width, m.height), (Some(16), Some(16)));
        let t = m.taken.clone().expect("date");
        assert_eq!(t.date, "2024-07-15");
        assert_eq!(t.time.as_deref(), Some("10:20:30"));
        assert_eq!(t.utc_offset.as_deref(), Some("-07:00"));
        assert_eq!(t.tag, DateTag::Original);
        let g = m.gps.expect("gps");
        assert!(
            (g.lat - 48.5125).abs() < 1e-6 && (g.lon + 123.1528).abs() < 1e-6,
            "{g:?}"
        );
        assert_eq!(m.camera_make.as_deref(), Some("Canon"));
        assert_eq!(m.camera_model.as_deref(), Some("Canon EOS R5"));
        let names: Vec<_> = m
            .photographers
            .iter()
            .map(|c| (c.source, c.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (PhotographerSource::IptcByline, "Jane Smith"),
                (PhotographerSource::ExifArtist, "Jane Smith"),
                (PhotographerSource::CameraOwner, "J. Smith"),
                (PhotographerSource::Copyright, "Jane Smith"),
            ]
        );
        assert_eq!(m.keywords, ["T002B", "T036A"]);
        assert_eq!(m.sub_location.as_deref(), Some("Haro Strait"));
        assert_eq!(m.city.as_deref(), Some("Friday Harbor"));
        assert_eq!(m.caption.as_deref(), Some("Transients — T002B, T036A"));
        let ic = m.iptc_created.clone().expect("iptc date");
        assert_eq!(
            (ic.date.as_str(), ic.time.as_deref()),
            ("2024-07-15", Some("10:20:30"))
        );
        assert_eq!(ic.utc_offset.as_deref(), Some("-07:00"));
        assert!(m.has_exif && m.has_iptc);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(prefix_needed(&field_photo(be)), PrefixNeed::Enough);
    }
}

#[test]
fn json_is_camel_case() {
    let m = parse(&field_photo(false));
    let v = serde_json::to_value(&m).expect("json");
    assert_eq!(v["taken"]["utcOffset"], "-07:00");
    assert_eq!(v["photographers"][0]["source"], "iptcByline");
    assert_eq!(v["subLocation"], "Haro Strait");
    let back: ImageMeta = serde_json::from_value(v).expect("round trip");
    assert_eq!(back, m);
}

#[test]
fn digitized_is_the_fallback_and_blank_dates_are_absent() {
    let cam = Camera {
        original: Some("    :  :     :  :  "),
        digitized: Some("2023:01:02 03:04:05"),
        ..Camera::default()
    };
    let m = parse(&camera_jpeg(&cam, None));
    let t = m.taken.expect("digitized");
    assert_eq!((t.date.as_str(), t.tag), ("2023-01-02", DateTag::Digitized));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn zero_and_future_dates_are_flagged_and_dropped() {
    let cam = Camera {
        original: Some("0000:00:00 00:00:00"),
        ..Camera::default()
    };
    let m = parse(&camera_jpeg(&cam, None));
    assert!(m.taken.is_none());
    assert_eq!(m.warnings.len(), 1);
    assert_eq!(m.warnings[0].field, MetaField::Date);

    let cam = Camera {
        original: Some("2099:01:01 00:00:00"),
        ..Camera::default()
    };
    let bytes = camera_jpeg(&cam, None);
    // Without "now" the date stands; with it, it is flagged.
    assert!(parse(&bytes).taken.is_some());
    let opts = ParseOptions {
        now_unix_ms: Some(1_721_001_600_000.0),
    };
    let m = parse_prefix_with(&bytes, "x.jpg", &opts).expect("parses");
    assert!(m.taken.is_none());
    assert!(m.warnings[0].message.contains("future"), "{:?}", m.warnings);
}

#[test]
fn gps_validation() {
    let gps_of = |lat_ref: &str, lat: &[(u32, u32)], lon: &[(u32, u32)]| {
        let t = Tiff { big_endian: false };
        let tiff = t.build(
            vec![],
            vec![],
            vec![
                t.ascii(1, lat_ref),
                t.rationals(2, lat),
                t.ascii(3, "W"),
                t.rationals(4, lon),
            ],
        );
        parse(&grey_jpeg(8, 8, &[app1_exif(&tiff)]))
    };
    let ok = gps_of("S", &[(33, 1), (30, 1), (0, 1)], &[(70, 1)]);
    let g = ok.gps.expect("gps");
    assert_eq!((g.lat, g.lon), (-33.5, -70.0));
    let m = gps_of("N", &[(95, 1), (0, 1), (0, 1)], &[(70, 1)]);
    assert!(m.gps.is_none() && m.warnings[0].message.contains("out of range"));
    let m = gps_of("N", &[(45, 0)], &[(70, 1)]);
    assert!(m.gps.is_none() && m.warnings[0].field == MetaField::Gps);
    let m = gps_of("N", &[(0, 1)], &[(0, 1)]);
    assert!(m.gps.is_none() && m.warnings[0].message.contains("0, 0"));
    let m = gps_of("Q", &[(10, 1)], &[(10, 1)]);
    assert!(m.gps.is_none());
}

#[test]
fn names_are_cleaned_and_exotic_sources_read() {
    let t = Tiff { big_endian: true };
    let mut xp = Vec::new();
    for u in "Åsa Berg".encode_utf16() {
        xp.extend_from_slice(&u.to_le_bytes());
    }
    xp.extend_from_slice(&[0, 0]);
    let tiff = t.build(
        vec![
            t.raw_ascii(0x013B, b"  J\xf6rg   Meier \0"),
            t.bytes(0x9C9D, BYTE, &xp),
        ],
        vec![],
        vec![],
    );
    let m = parse(&grey_jpeg(8, 8, &[app1_exif(&tiff)]));
    assert_eq!(
        m.photographer_from(PhotographerSource::ExifArtist),
        Some("Jörg Meier")
    );
    assert_eq!(
        m.photographer_from(PhotographerSource::ExifXpAuthor),
        Some("Åsa Berg")
    );
}

#[test]
fn prefix_needed_asks_for_the_rest_of_a_large_app1() {
    let cam = Camera {
        artist: Some("Jane Smith"),
        original: Some("2024:07:15 10:20:30"),
        padding: 60_000,
        ..Camera::default()
    };
    let file = camera_jpeg(&cam, None);
    assert!(file.len() > 60_000);
    let mut have = 1000;
    let mut rounds = 0;
    while let PrefixNeed::More { total } = prefix_needed(&file[..have]) {
        assert!(total > have);
        have = total.min(file.len());
        rounds += 1;
        assert!(rounds < 10);
    }
    assert!(have > 60_000 && rounds >= 1, "{have} {rounds}");
    let m = parse(&file[..have]);
    assert_eq!(
        m.photographer_from(PhotographerSource::ExifArtist),
        Some("Jane Smith")
    );
    assert!(m.taken.is_some());

    // Parsing the short prefix anyway gives a warning, not a panic or an error.
    let m = parse(&file[..1000]);
    assert!(m.warnings.iter().any(|w| w.field == MetaField::Exif));
    // Reads for more are rounded up to whole 64 KiB steps, within the file and the cap.
    assert_eq!(next_read_end(70_000, 1 << 30), 2 * 65_536);
    assert_eq!(next_read_end(65_536 + 1, 100_000), 100_000);
    assert_eq!(
        next_read_end(MAX_PREFIX_BYTES, 1 << 30),
        MAX_PREFIX_BYTES as u64
    );
    // Tiny prefixes ask for the initial read size.
    assert_eq!(
        prefix_needed(&file[..4]),
        PrefixNeed::More {
            total: INITIAL_PREFIX_BYTES
        }
    );
}

#[test]
fn png_exif_and_png_without_metadata() {
    let tiff = exif_tiff(&Camera {
        big_endian: true,
        artist: Some("Bo Ek"),
        original: Some("2022:05:06 07:08:09"),
        ..Camera::default()
    });
    let file = png(Some(&tiff));
    assert_eq!(prefix_needed(&file), PrefixNeed::Enough);
    let m = parse_prefix(&file, "a.png").expect("png");
    assert_eq!(m.format, ImageFormat::Png);
    assert_eq!((m.width, m.height), (Some(1), Some(1)));
    assert_eq!(m.taken.map(|t| t.date).as_deref(), Some("2022-05-06"));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    let m = parse_prefix(&png(None), "b.png").expect("png");
    assert!(!m.has_exif && m.taken.is_none() && m.warnings.is_empty());
    // A PNG named .jpg: parsed, with a warning.
    let m = parse_prefix(&png(None), "b.jpg").expect("png");
    assert_eq!(m.warnings[0].field, MetaField::Container);
}

#[test]
fn tiff_files_are_their_own_exif() {
    let tiff = exif_tiff(&Camera {
        model: Some("NIKON D850"),
        original: Some("2021:09:10 11:12:13"),
        gps: Some((-12.5, 130.25)),
        ..Camera::default()
    });
    assert_eq!(prefix_needed(&tiff), PrefixNeed::Enough);
    assert!(matches!(
        prefix_needed(&tiff[..40]),
        PrefixNeed::More { .. }
    ));
    let m = parse_prefix(&tiff, "DSC_1.NEF").expect("tiff");
    assert_eq!(m.format, ImageFormat::Tiff);
    assert_eq!(m.camera_model.as_deref(), Some("NIKON D850"));
    assert!(m.gps.is_some() && m.taken.is_some());
}

#[test]
fn bad_inputs_give_typed_errors() {
    assert!(matches!(
        parse_prefix(&[], "a.jpg"),
        Err(MetaError::Empty { .. })
    ));
    assert!(matches!(
        parse_prefix(b"<html><body>404</body></html>", "a.jpg"),
        Err(MetaError::NotAnImage { .. })
    ));
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    assert!(matches!(
        parse_prefix(heic, "a.heic"),
        Err(MetaError::Unsupported {
            format: ImageFormat::Heif,
            ..
        })
    ));
    assert_eq!(
        prefix_needed(heic),
        PrefixNeed::Unsupported {
            format: ImageFormat::Heif
        }
    );
    assert!(matches!(
        parse_prefix(b"IIRO\x08\0\0\0 olympus raw data", "P1.ORF"),
        Err(MetaError::Unsupported {
            format: ImageFormat::Raw,
            ..
        })
    ));
    let e = parse_prefix(b"\0\0\0\0", "x.jpg").expect_err("not an image");
    assert_eq!(
        e.to_string(),
        "x.jpg: not an image (its first bytes match no image format)"
    );
    // BMP: an image without metadata.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0; 12]);
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&640i32.to_le_bytes());
    bmp.extend_from_slice(&(-480i32).to_le_bytes());
    let m = parse_prefix(&bmp, "a.bmp").expect("bmp");
    assert_eq!((m.width, m.height), (Some(640), Some(480)));
}

#[test]
fn truncated_jpegs_keep_what_they_have() {
    let file = field_photo(false);
    // SOI alone, SOI + part of APP1, and everything up to the middle of the scan.
    let m = parse(&file[..2]);
    assert!(m.taken.is_none() && !m.warnings.is_empty());
    let app1_end = 4 + u16::from_be_bytes([file[4], file[5]]) as usize;
    let m = parse(&file[..app1_end + 10]);
    assert!(m.taken.is_some(), "APP1 complete: date read");
    assert!(m.keywords.is_empty(), "APP13 cut: keywords missing");
}

#[test]
fn ifd_cycles_and_absurd_counts_are_survived() {
    let t = Tiff { big_endian: false };
    // IFD0 whose next-IFD pointer points to itself, and an Exif pointer back to IFD0.
    let mut tiff = t.build(
        vec![t.ascii(0x013B, "Loop"), t.long(0x8769, 8)],
        vec![],
        vec![],
    );
    let next_at = 8 + 2 + 12 * 2;
    tiff[next_at..next_at + 4].copy_from_slice(&8u32.to_le_bytes());
    let m = parse(&grey_jpeg(8, 8, &[app1_exif(&tiff)]));
    assert!(!m.warnings.is_empty());
    // An IFD claiming 65535 entries in a few bytes.
    let tiff = b"II\x2a\0\x08\0\0\0\xff\xff\x01\x02".to_vec();
    let m = parse(&grey_jpeg(8, 8, &[app1_exif(&tiff)]));
    assert!(m.warnings.iter().any(|w| w.field == MetaField::Exif));
    // A value offset far outside the block.
    let mut e = t.ascii(0x013B, "Far away artist");
    e.payload.truncate(4);
    e.count = 0x7FFF_FFFF;
    let tiff = t.build(vec![e], vec![], vec![]);
    let m = parse(&grey_jpeg(8, 8, &[app1_exif(&tiff)]));
    assert!(m.photographers.is_empty());
}

/// Mutation test: truncations at every length, byte flips, splices and random junk of real
/// files. Asserts no panic and the `prefix_needed` contract.
#[test]
fn mutated_files_never_panic() {
    let originals = [
        field_photo(false),
        field_photo(true),
        png(Some(&exif_tiff(&Camera {
            artist: Some("x"),
            gps: Some((1.0, 2.0)),
            ..Camera::default()
        }))),
        exif_tiff(&Camera {
            big_endian: true,
            original: Some("2024:01:01 00:00:00"),
            gps: Some((1.0, 2.0)),
            ..Camera::default()
        }),
    ];
    let check = |b: &[u8]| {
        let _ = parse_prefix_with(
            b,
            "f.jpg",
            &ParseOptions {
                now_unix_ms: Some(1.7e12),
            },
        );
        match prefix_needed(b) {
            PrefixNeed::More { total } => {
                assert!(
                    total > b.len() && total <= MAX_PREFIX_BYTES,
                    "{total} {}",
                    b.len()
                )
            }
            PrefixNeed::Enough | PrefixNeed::Unsupported { .. } => {}
        }
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0;
    for orig in &originals {
        for n in 0..=orig.len() {
            check(&orig[..n]);
            runs += 1;
        }
        for _ in 0..1500 {
            let mut b = orig.clone();
            match rng.below(4) {
                0 => {
                    for _ in 0..=rng.below(8) {
                        let i = rng.below(b.len());
                        b[i] = [0x00, 0xFF, 0x7F, 0x80, rng.next() as u8][rng.below(5)];
                    }
                }
                1 => {
                    let i = rng.below(b.len());
                    let n = rng.below(64);
                    b.drain(i..(i + n).min(b.len()));
                }
                2 => {
                    let i = rng.below(b.len());
                    let chunk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                    b.splice(i..i, chunk);
                }
                _ => {
                    let keep = rng.below(b.len().min(40));
                    b.truncate(keep);
                    b.extend((0..rng.below(2000)).map(|_| rng.next() as u8));
                }
            }
            check(&b);
            let cut = rng.below(b.len() + 1);
            check(&b[..cut]);
            runs += 2;
        }
    }
    assert!(runs > 10_000);
}

/// Bad-input corpus (docs/bad-inputs.md): dates no calendar has are dropped with a warning on
/// the date field that quotes the value, and the rest of the metadata is kept.
#[test]
fn impossible_dates_are_dropped_with_a_date_warning() {
    for bad in [
        "2024:13:45 25:61:61",
        "2024:02:30 10:00:00",
        "2023:02:29 10:00:00",
        "yesterday noon",
        "20240715",
    ] {
        let cam = Camera {
            original: Some(bad),
            artist: Some("Ann Observer"),
            ..Camera::default()
        };
        let m = parse(&camera_jpeg(&cam, None));
        assert!(m.taken.is_none(), "{bad}: {:?}", m.taken);
        let w = m
            .warnings
            .iter()
            .find(|w| w.field == MetaField::Date)
            .unwrap_or_else(|| panic!("{bad}: no date warning in {:?}", m.warnings));
        assert!(w.message.contains(bad.trim()), "{bad}: {}", w.message);
        assert_eq!(m.photographers.len(), 1, "{bad}: the artist is still read");
    }
    // A real day with an impossible time keeps the day, says so, and has no time.
    let cam = Camera {
        original: Some("2024:07:15 25:61:61"),
        ..Camera::default()
    };
    let m = parse(&camera_jpeg(&cam, None));
    let taken = m.taken.expect("the day is kept");
    assert_eq!((taken.date.as_str(), taken.time), ("2024-07-15", None));
    assert!(
        m.warnings[0].field == MetaField::Date && m.warnings[0].message.contains("no valid time"),
        "{:?}",
        m.warnings
    );
    // A leap day that exists is a date.
    let cam = Camera {
        original: Some("2024:02:29 23:59:59"),
        ..Camera::default()
    };
    assert!(parse(&camera_jpeg(&cam, None)).taken.is_some());
}

/// Bad-input corpus: an APP1 whose length runs past the end of the file, and a JPEG of random
/// bytes after SOI, give structure warnings and ask for no more than the prefix cap.
#[test]
fn segments_past_the_end_and_random_bodies_are_survived() {
    let file = field_photo(false);
    let mut cut = file[..200].to_vec();
    cut[4..6].copy_from_slice(&0xFFF0u16.to_be_bytes());
    let m = parse(&cut);
    assert!(
        m.taken.is_none() && !m.warnings.is_empty(),
        "{:?}",
        m.warnings
    );
    match prefix_needed(&cut) {
        PrefixNeed::More { total } => assert!(total <= MAX_PREFIX_BYTES),
        other => assert!(matches!(other, PrefixNeed::Enough), "{other:?}"),
    }
    let mut rng = Rng(5);
    let random: Vec<u8> = (0..3000).map(|_| rng.next() as u8).collect();
    // SOI and junk: no JPEG marker follows, so it is no image.
    let junk = [&[0xFF, 0xD8][..], &random].concat();
    assert!(matches!(
        parse_prefix(&junk, "x.jpg"),
        Err(MetaError::NotAnImage { .. })
    ));
    // A first marker, then junk: an image whose structure is broken, with a warning.
    let junk = [&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10][..], &random].concat();
    let m = parse(&junk);
    assert!(
        m.warnings.iter().any(|w| w.field == MetaField::Container),
        "{:?}",
        m.warnings
    );
}
