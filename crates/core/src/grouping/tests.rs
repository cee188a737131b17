use super::*;
use crate::metadata::{
    parse_prefix, testdata::field_photo, DateTag, ImageFormat, PhotographerCandidate,
    PhotographerSource, TakenAt,
};
use crate::rules::{FieldRules, Source};

/// Metadata as a camera would give it; `time` may be empty (date only), `artist` empty (none).
fn meta(date: &str, time: &str, artist: &str, gps: Option<(f64, f64)>) -> ImageMeta {
    let mut m = ImageMeta::empty(ImageFormat::Jpeg);
    if !date.is_empty() {
        m.taken = Some(TakenAt {
            date: date.into(),
            time: (!time.is_empty()).then(|| time.to_string()),
            utc_offset: None,
            tag: DateTag::Original,
        });
    }
    if !artist.is_empty() {
        m.photographers.push(PhotographerCandidate {
            name: artist.into(),
            source: PhotographerSource::ExifArtist,
        });
    }
    m.gps = gps.map(|(lat, lon)| Gps { lat, lon });
    m.sub_location = Some("Haro Strait".into());
    m.has_exif = true;
    m
}

fn img(path: &str, meta: Option<ImageMeta>) -> ScannedImage {
    ScannedImage {
        relative_path: path.into(),
        size: 1000,
        last_modified_ms: 0.0,
        meta,
        source: Default::default(),
    }
}

fn run(images: &[ScannedImage], strategy: Strategy) -> Vec<EncounterDraft> {
    let rules = FieldRules::default().compile().expect("rules");
    group(images, &rules, &strategy, &GroupOptions::default())
        .expect("groups")
        .drafts
}

const HARO: Option<(f64, f64)> = Some((48.5, -123.15));

#[test]
fn folder_strategy_with_structured_values_is_green() {
    let bytes = field_photo(false);
    let m = parse_prefix(&bytes, "a.jpg").expect("meta");
    let images = vec![
        img("Pick/Trip1/a.jpg", Some(m.clone())),
        img("Pick/Trip1/sub/b.jpg", Some(m.clone())),
        img("Pick/Trip2/c.jpg", Some(m)),
    ];
    let drafts = run(&images, Strategy::Folder { depth: 1 });
    assert_eq!(drafts.len(), 2);
    let d = &drafts[0];
    assert_eq!(
        (d.key.as_str(), d.label.as_str()),
        ("folder:Pick/Trip1", "Pick/Trip1")
    );
    assert_eq!(d.images, [0, 1]);
    assert_eq!(d.confidence, Confidence::Green, "{:?}", d.reasons);
    assert!(d.missing.is_empty());
    let date = d.date.as_ref().expect("date");
    assert_eq!(
        (date.value.date.as_str(), date.value.time.as_deref()),
        ("2024-07-15", Some("10:20:30"))
    );
    assert_eq!(
        d.photographer.as_ref().map(|p| p.source),
        Some(SourceKind::Iptc)
    );
    assert_eq!(d.individuals.as_ref().map(|i| i.value.len()), Some(2));
}

#[test]
fn names_only_give_yellow_and_missing_values_red() {
    let images = vec![
        img("Pick/2024-07-15_Haro/IMG_1.jpg", None),
        img("Pick/2024-07-15_Haro/IMG_2.jpg", None),
    ];
    let drafts = run(&images, Strategy::Folder { depth: -1 });
    assert_eq!(drafts.len(), 1);
    let d = &drafts[0];
    assert_eq!(d.confidence, Confidence::Red);
    let texts: Vec<&str> = d.reasons.iter().map(|r| r.text.as_str()).collect();
    assert!(texts.contains(&"date only from folder name"), "{texts:?}");
    assert!(texts.contains(&"missing GPS") && texts.contains(&"missing location name"));
    assert_eq!(
        d.missing,
        [Missing::LocationName, Missing::Gps, Missing::Photographer]
    );
    let shown: Vec<String> = d.missing.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        shown,
        [
            "missing location name",
            "missing GPS",
            "photographer not resolved"
        ]
    );
}

#[test]
fn mixed_days_and_photographers_are_split() {
    let images = vec![
        img(
            "P/F/1.jpg",
            Some(meta("2024-07-15", "10:00:00", "Jane Smith", HARO)),
        ),
        img(
            "P/F/2.jpg",
            Some(meta("2024-07-15", "10:05:00", "jane  smith", HARO)),
        ),
        img(
            "P/F/3.jpg",
            Some(meta("2024-07-15", "10:06:00", "Bo Ek", HARO)),
        ),
        img(
            "P/F/4.jpg",
            Some(meta("2024-07-16", "09:00:00", "Jane Smith", HARO)),
        ),
        img("P/F/5.jpg", Some(meta("", "", "Jane Smith", HARO))),
    ];
    let drafts = run(&images, Strategy::Folder { depth: 1 });
    let sets: Vec<Vec<usize>> = drafts.iter().map(|d| d.images.clone()).collect();
    assert_eq!(sets, [vec![4], vec![2], vec![0, 1], vec![3]]);
    for d in &drafts {
        assert!(
            d.reasons
                .iter()
                .any(|r| r.text.contains("which had 2 days and 2 photographers")),
            "{:?}",
            d.reasons
        );
    }
    assert_eq!(drafts[0].confidence, Confidence::Red);
    assert!(drafts[0]
        .reasons
        .iter()
        .any(|r| r.text == "no date, in a group spanning several days"));
    // Case and spacing variants are one name.
    assert_eq!(drafts[2].label, "P/F (2024-07-15, Jane Smith)");
    assert_eq!(drafts[2].confidence, Confidence::Yellow);
    // Aliases that the manifest resolved to one user do not split either.
    let mut opts = GroupOptions::default();
    opts.photographer_keys
        .insert("Bo Ek".into(), "user:1".into());
    opts.photographer_keys
        .insert("Jane Smith".into(), "user:1".into());
    opts.photographer_keys
        .insert("jane  smith".into(), "user:1".into());
    let rules = FieldRules::default().compile().expect("rules");
    let g = group(&images[..3], &rules, &Strategy::Folder { depth: 1 }, &opts).expect("group");
    assert_eq!(g.drafts.len(), 1);
    let texts: Vec<&str> = g.drafts[0]
        .reasons
        .iter()
        .map(|r| r.text.as_str())
        .collect();
    assert_eq!(
        texts,
        ["mixed photographer spellings: Jane Smith (2), Bo Ek (1)"]
    );
    assert_eq!(
        g.drafts[0].photographer.as_ref().map(|p| p.value.as_str()),
        Some("Jane Smith")
    );
}

#[test]
fn file_name_pattern_groups_across_folders() {
    let images = vec![
        img(
            "P/a/E12_001.jpg",
            Some(meta("2024-07-15", "10:00:00", "A", HARO)),
        ),
        img(
            "P/b/E12_002.jpg",
            Some(meta("2024-07-15", "10:01:00", "A", HARO)),
        ),
        img(
            "P/a/E13_001.jpg",
            Some(meta("2024-07-15", "12:00:00", "A", HARO)),
        ),
        img(
            "P/a/misc.jpg",
            Some(meta("2024-07-15", "12:00:00", "A", HARO)),
        ),
    ];
    let drafts = run(
        &images,
        Strategy::FileNamePattern {
            regex: r"^(E\d+)_".into(),
        },
    );
    let got: Vec<(&str, Vec<usize>, Confidence)> = drafts
        .iter()
        .map(|d| (d.label.as_str(), d.images.clone(), d.confidence))
        .collect();
    assert_eq!(
        got,
        [
            (
                "file names not matching the pattern",
                vec![3],
                Confidence::Red
            ),
            ("E12", vec![0, 1], Confidence::Green),
            ("E13", vec![2], Confidence::Green),
        ]
    );
    let rules = FieldRules::default().compile().expect("rules");
    let bad = group(
        &images,
        &rules,
        &Strategy::FileNamePattern {
            regex: "E\\d+".into(),
        },
        &GroupOptions::default(),
    );
    assert!(matches!(bad, Err(GroupingError::NoCaptureGroup { .. })));
    let bad = group(
        &images,
        &rules,
        &Strategy::FileNamePattern { regex: "(".into() },
        &GroupOptions::default(),
    );
    assert!(matches!(bad, Err(GroupingError::InvalidRegex { .. })));
    let bad = Strategy::TimeProximity {
        window_minutes: 1,
        radius_km: f64::NAN,
    }
    .validate();
    assert!(matches!(bad, Err(GroupingError::InvalidParameter(_))));
}

#[test]
fn time_proximity_breaks_on_gap_distance_day_and_photographer() {
    let far = Some((49.5, -123.15)); // ~111 km north
    let images = vec![
        img("P/1.jpg", Some(meta("2024-07-15", "10:00:00", "A", HARO))),
        img("P/2.jpg", Some(meta("2024-07-15", "10:30:00", "A", None))),
        img("P/3.jpg", Some(meta("2024-07-15", "11:20:00", "A", HARO))), // 50 min gap: new
        img("P/4.jpg", Some(meta("2024-07-15", "11:25:00", "A", far))),  // far: new
        img("P/5.jpg", Some(meta("2024-07-15", "10:10:00", "B", HARO))), // other photographer
        img("P/6.jpg", Some(meta("2024-07-16", "00:01:00", "A", far))),  // next day: new
        img("P/7.jpg", Some(meta("2024-07-15", "", "A", HARO))),         // no time: undated
        img("P/8.jpg", None),                                            // nothing: undated
    ];
    let drafts = run(
        &images,
        Strategy::TimeProximity {
            window_minutes: 45,
            radius_km: 5.0,
        },
    );
    let sets: Vec<Vec<usize>> = drafts.iter().map(|d| d.images.clone()).collect();
    assert_eq!(
        sets,
        [vec![0, 1], vec![2], vec![3], vec![5], vec![4], vec![6, 7]]
    );
    assert_eq!(drafts[0].label, "2024-07-15 10:00, A");
    assert_eq!(
        drafts[0].confidence,
        Confidence::Green,
        "{:?}",
        drafts[0].reasons
    );
    for d in &drafts[5..] {
        assert_eq!(d.confidence, Confidence::Red);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.text.starts_with("no capture time")),
            "{:?}",
            d.reasons
        );
    }
}

#[test]
fn fusion_splits_folders_that_span_days_or_distance() {
    let far = Some((49.5, -123.15));
    let images = vec![
        // Folder A: two days.
        img("P/A/1.jpg", Some(meta("2024-07-15", "10:00:00", "A", HARO))),
        img("P/A/2.jpg", Some(meta("2024-07-16", "10:00:00", "A", HARO))),
        // Folder B: one morning, far-apart GPS.
        img("P/B/1.jpg", Some(meta("2024-07-15", "10:00:00", "A", HARO))),
        img("P/B/2.jpg", Some(meta("2024-07-15", "10:10:00", "A", far))),
        // Folder C: consistent, plus an image without time (kept by folder).
        img("P/C/1.jpg", Some(meta("2024-07-15", "10:00:00", "A", HARO))),
        img("P/C/2.jpg", Some(meta("2024-07-15", "10:10:00", "A", HARO))),
        img("P/C/3.jpg", Some(meta("2024-07-15", "", "A", HARO))),
        // Folder D: split, with an image without any date.
        img("P/D/1.jpg", Some(meta("2024-07-15", "08:00:00", "A", HARO))),
        img("P/D/2.jpg", Some(meta("2024-07-15", "18:00:00", "A", HARO))),
        img("P/D/3.jpg", Some(meta("", "", "A", HARO))),
    ];
    let drafts = run(
        &images,
        Strategy::Fusion {
            depth: 1,
            window_minutes: 120,
            radius_km: 10.0,
        },
    );
    let got: Vec<(Vec<usize>, Confidence)> = drafts
        .iter()
        .map(|d| (d.images.clone(), d.confidence))
        .collect();
    assert_eq!(
        got,
        [
            (vec![0], Confidence::Yellow),
            (vec![1], Confidence::Yellow),
            (vec![2], Confidence::Yellow),
            (vec![3], Confidence::Yellow),
            (vec![4, 5, 6], Confidence::Yellow),
            (vec![7], Confidence::Yellow),
            (vec![8], Confidence::Yellow),
            (vec![9], Confidence::Red),
        ]
    );
    let text = |i: usize| {
        drafts[i]
            .reasons
            .iter()
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        text(0).contains("folder “P/A” spans several days; split"),
        "{}",
        text(0)
    );
    assert!(
        text(2).contains("GPS positions over 10 km apart"),
        "{}",
        text(2)
    );
    assert!(
        text(4).contains("1 image(s) without capture time, kept by folder"),
        "{}",
        text(4)
    );
    assert!(text(6).contains("time gap over 120 min"), "{}", text(6));
    assert!(
        text(7).contains("no capture time, in a folder that was split"),
        "{}",
        text(7)
    );
}

#[test]
fn twenty_thousand_images() {
    // 200 folders of 100 images: each folder one photographer, one day, one site, a photo every
    // 30 s. Every 10th folder has a 3-hour pause halfway. Folders k and k+1 (k even) are shot
    // at the same time by different photographers.
    let mut images = Vec::with_capacity(20_000);
    for f in 0..200usize {
        let day = crate::calendar::Day::from_days_since_epoch(19_700 + (f / 2) as i64).to_string();
        let phot = format!("Photographer {}", f % 7 + (f % 2) * 10);
        let site = (48.0 + (f / 2) as f64 * 0.5 % 40.0, -123.0);
        for k in 0..100usize {
            let mut secs = 8 * 3600 + k * 30;
            if f % 10 == 0 && k >= 50 {
                secs += 3 * 3600;
            }
            let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
            images.push(img(
                &format!("Root/folder{f:03}/IMG_{k:04}.jpg"),
                Some(meta(&day, &time, &phot, Some(site))),
            ));
        }
    }
    let check = |drafts: &[EncounterDraft], expected: usize| {
        assert_eq!(drafts.len(), expected);
        let mut seen = vec![false; images.len()];
        for d in drafts {
            assert!(!d.images.is_empty());
            let days: BTreeSet<String> = d
                .images
                .iter()
                .map(|&i| {
                    images[i]
                        .meta
                        .as_ref()
                        .and_then(|m| m.taken.clone())
                        .map(|t| t.date)
                        .unwrap_or_default()
                })
                .collect();
            let phots: BTreeSet<&str> = d
                .images
                .iter()
                .map(|&i| {
                    images[i]
                        .meta
                        .as_ref()
                        .and_then(|m| m.photographers.first())
                        .map_or("", |p| p.name.as_str())
                })
                .collect();
            assert_eq!((days.len(), phots.len()), (1, 1), "{}", d.key);
            let folders: BTreeSet<&str> = d
                .images
                .iter()
                .map(|&i| &images[i].relative_path[..15])
                .collect();
            assert_eq!(folders.len(), 1, "{}: one folder", d.key);
            for &i in &d.images {
                assert!(!std::mem::replace(&mut seen[i], true), "image {i} twice");
            }
            if d.images.len() == 100 {
                assert_eq!(d.confidence, Confidence::Green, "{:?}", d.reasons);
            } else {
                assert_eq!(d.images.len(), 50);
                assert_ne!(d.confidence, Confidence::Red);
            }
        }
        assert!(seen.iter().all(|&s| s));
    };
    check(&run(&images, Strategy::Folder { depth: 1 }), 200);
    check(
        &run(
            &images,
            Strategy::TimeProximity {
                window_minutes: 60,
                radius_km: 1.0,
            },
        ),
        220,
    );
    check(
        &run(
            &images,
            Strategy::Fusion {
                depth: 1,
                window_minutes: 60,
                radius_km: 1.0,
            },
        ),
        220,
    );
    let g = run(&images, Strategy::Folder { depth: 1 });
    let c = coverage(&g);
    assert_eq!(
        (c.encounters, c.date, c.gps, c.photographer),
        (200, 1.0, 1.0, 1.0)
    );
}

#[test]
fn drafts_serialise() {
    let images = vec![img("P/2024-07-15/a.jpg", None)];
    let rules = FieldRules {
        location_name: vec![Source::Manual {
            value: "Haro".into(),
        }],
        ..FieldRules::default()
    }
    .compile()
    .expect("rules");
    let g = group(
        &images,
        &rules,
        &Strategy::Folder { depth: -1 },
        &GroupOptions::default(),
    )
    .expect("group");
    let v = serde_json::to_value(&g).expect("json");
    assert_eq!(v["drafts"][0]["locationName"]["source"], "manual");
    assert_eq!(
        v["drafts"][0]["missing"],
        serde_json::json!(["gps", "photographer"])
    );
    let s = serde_json::to_string(&Strategy::TimeProximity {
        window_minutes: 120,
        radius_km: 2.0,
    })
    .expect("json");
    assert_eq!(
        s,
        r#"{"kind":"timeProximity","windowMinutes":120,"radiusKm":2.0}"#
    );
}

#[test]
fn odd_paths_and_values_never_panic_and_keep_every_image_once() {
    let mut rng = crate::metadata::testdata::Rng(42);
    let pieces = [
        "",
        "/",
        "a",
        "2024-07-15",
        "ü🐋",
        "..",
        "T002B",
        "20240715",
        " ",
        "_x_",
    ];
    let mut images = Vec::new();
    for i in 0..600 {
        let path: String = (0..rng.below(6))
            .map(|_| pieces[rng.below(pieces.len())])
            .collect::<Vec<_>>()
            .join("/");
        let m = match rng.below(3) {
            0 => None,
            1 => Some(meta(
                "2024-07-15",
                ["", "00:00:00", "23:59:59"][rng.below(3)],
                ["", "A", "B"][rng.below(3)],
                [None, HARO, Some((-90.0, 180.0))][rng.below(3)],
            )),
            _ => Some(meta(
                ["", "1900-01-01", "2024-02-29"][rng.below(3)],
                "12:00:00",
                "A",
                None,
            )),
        };
        images.push(img(&format!("{path}/{i}"), m));
    }
    let mut rules = FieldRules {
        id_verifier: Some(r"T\d{3}[A-Z]?".into()),
        ..FieldRules::default()
    };
    rules.location_name.push(Source::FolderName {
        depth: -2,
        regex: Some("(.*)".into()),
        date_format: None,
    });
    let rules = rules.compile().expect("rules");
    for strategy in [
        Strategy::Folder { depth: 0 },
        Strategy::Folder { depth: -3 },
        Strategy::FileNamePattern {
            regex: r"^(\d)".into(),
        },
        Strategy::TimeProximity {
            window_minutes: 0,
            radius_km: 0.0,
        },
        Strategy::Fusion {
            depth: 2,
            window_minutes: 5,
            radius_km: 1000.0,
        },
    ] {
        let g = group(&images, &rules, &strategy, &GroupOptions::default()).expect("groups");
        let mut all: Vec<usize> = g
            .drafts
            .iter()
            .flat_map(|d| d.images.iter().copied())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..images.len()).collect::<Vec<_>>(), "{strategy}");
        let keys: BTreeSet<&str> = g.drafts.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys.len(), g.drafts.len(), "{strategy}: unique keys");
    }
}
