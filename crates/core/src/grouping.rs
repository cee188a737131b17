//! Images → encounter drafts (spec decision 4, §2.4–2.6): a grouping [`Strategy`], the domain
//! rule "one photographer, one day per encounter", field values with their sources, a
//! confidence colour with reasons, and completeness.
//!
//! # Strategies
//!
//! * [`Strategy::Folder`] — every folder at `depth` (as in [`crate::rules`]: 0 = the picked
//!   folder, -1 = the image's own folder) with everything below it is one group. An image
//!   shallower than `depth` is grouped by its own folder (yellow reason).
//! * [`Strategy::FileNamePattern`] — the regex's first capture group, applied to the file name,
//!   is the encounter key (across folders). Names that do not match form one red
//!   "unmatched" group.
//! * [`Strategy::TimeProximity`] — per photographer, images sorted by capture time; a new
//!   encounter starts when the gap to the previous image exceeds the window, the day changes,
//!   or the image's GPS is farther than the radius from the group's first GPS position. Images
//!   without a capture *time* (EXIF/IPTC/manual with time) go to "undated" groups, red.
//!   Times are local wall-clock times; UTC offsets are ignored (mixing offset-aware and
//!   offset-less cameras would otherwise shift groups).
//! * [`Strategy::Fusion`] — folders at `depth`, each cross-checked and **split** by the same
//!   time/GPS rule. Every part of a split folder is yellow, saying why (several days, a time gap
//!   over the window, GPS farther apart than the radius, several photographers). Images of a
//!   split folder that have no capture time form their own red part; in an unsplit folder they
//!   simply stay.
//!
//! # One photographer, one day
//!
//! Every group is then split by (day, photographer) when it holds more than one known day or
//! more than one known photographer. Photographers compare by identity key — the resolved user
//! when the manifest knows one ([`GroupOptions::photographer_keys`]), else the normalised name —
//! so "J Smith" and "j  smith" never split. An image with no value in a dimension that splits
//! goes to its own part, red ("no date in a group spanning several days"); in a dimension that
//! does not split it stays with the others. Split parts are yellow with the reason.
//!
//! # Values of a draft
//!
//! Images of a draft are ordered by capture time, then path. Date: the draft's day, the
//! earliest time of that day, and the most common source. Location name, photographer and
//! extra fields: the most common value (ties: the earliest image's), with a yellow reason when
//! values differ. GPS: the earliest image's position. Individual IDs: the union, in order of
//! first appearance.
//!
//! # Confidence
//!
//! Green when every required value (date, location name, GPS, photographer) comes from
//! structured data (EXIF, IPTC, manual); yellow for a value matched in a folder or file name
//! (e.g. "date only from folder name") and for split or mixed groups; red for a missing value
//! ("missing GPS") or an undated/unmatched group. The colour is the worst reason's.

use crate::order::btree_set;
use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::api::Gps;
use crate::calendar::{local_seconds, Day};
use crate::metadata::ImageMeta;
use crate::normalize::{distance_km, normalize_text};
use crate::rules::{split_path, CompiledRules, DateValue, ImageFields, SourceKind, Sourced};

/// One scanned image, as the app keeps it after discovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScannedImage {
    /// `/`-separated, starting with the picked folder's name.
    pub relative_path: String,
    pub size: u64,
    pub last_modified_ms: f64,
    /// `None` when metadata could not be read (the error is the scan's business).
    pub meta: Option<ImageMeta>,
    /// Where the bytes are: a picked folder (default, and for rows stored before issue 8) or
    /// a blob in a storage connection's container.
    #[serde(default)]
    pub source: crate::cloud::ImageSource,
}

/// How images become encounters. JSON: `{"kind":"timeProximity","windowMinutes":120,"radiusKm":2}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Strategy {
    Folder {
        depth: i32,
    },
    FileNamePattern {
        regex: String,
    },
    TimeProximity {
        window_minutes: u32,
        radius_km: f64,
    },
    Fusion {
        depth: i32,
        window_minutes: u32,
        radius_km: f64,
    },
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Folder { depth } => write!(f, "folder at depth {depth}"),
            Strategy::FileNamePattern { regex } => write!(f, "file-name pattern /{regex}/"),
            Strategy::TimeProximity {
                window_minutes,
                radius_km,
            } => write!(f, "time proximity ({window_minutes} min, {radius_km} km)"),
            Strategy::Fusion {
                depth,
                window_minutes,
                radius_km,
            } => write!(
                f,
                "fusion (folder at depth {depth}, {window_minutes} min, {radius_km} km)"
            ),
        }
    }
}

/// Traffic-light confidence; ordered, so the worst of several is the `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Confidence {
    Green,
    Yellow,
    Red,
}

/// A human-readable reason for a colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub level: Confidence,
    pub text: String,
}

/// A required value an encounter lacks (spec §2.6); `Display` gives finwave's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Missing {
    Date,
    LocationName,
    Gps,
    Photographer,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Missing::Date => "missing date",
            Missing::LocationName => "missing location name",
            Missing::Gps => "missing GPS",
            Missing::Photographer => "photographer not resolved",
        })
    }
}

/// A proposed encounter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterDraft {
    /// Stable within one grouping of the same inputs; unique among the drafts.
    pub key: String,
    pub label: String,
    /// Indices into the input images, by capture time then path.
    pub images: Vec<usize>,
    pub date: Option<Sourced<DateValue>>,
    pub location_name: Option<Sourced<String>>,
    pub gps: Option<Sourced<Gps>>,
    /// The raw name (resolution is the manifest's business).
    pub photographer: Option<Sourced<String>>,
    pub individuals: Option<Sourced<Vec<String>>>,
    pub extra: BTreeMap<String, Sourced<String>>,
    pub confidence: Confidence,
    pub reasons: Vec<Reason>,
    /// Completeness before photographer resolution: a draft with a raw name is not
    /// `Missing::Photographer` here; [`crate::manifest::materialize`] decides that.
    pub missing: Vec<Missing>,
}

/// Options of [`group`].
#[derive(Debug, Clone, Default)]
pub struct GroupOptions {
    /// Raw photographer name → identity key (e.g. `user:42` for a resolved name). Names not in
    /// the map compare by their normalised text.
    pub photographer_keys: HashMap<String, String>,
}

/// The result: drafts and, per input image, its evaluated fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grouping {
    pub drafts: Vec<EncounterDraft>,
    pub fields: Vec<ImageFields>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    #[error("grouping pattern `{pattern}` is not a valid regex: {message}")]
    InvalidRegex { pattern: String, message: String },
    #[error("grouping pattern `{pattern}` has no capture group for the encounter key")]
    NoCaptureGroup { pattern: String },
    #[error("grouping: {0}")]
    InvalidParameter(String),
}

impl Strategy {
    /// Checks the pattern and parameters.
    pub fn validate(&self) -> Result<(), GroupingError> {
        self.compile().map(|_| ())
    }

    fn compile(&self) -> Result<Option<Regex>, GroupingError> {
        match self {
            Strategy::FileNamePattern { regex } => {
                let re = Regex::new(regex).map_err(|e| GroupingError::InvalidRegex {
                    pattern: regex.clone(),
                    message: e.to_string(),
                })?;
                if re.captures_len() < 2 {
                    return Err(GroupingError::NoCaptureGroup {
                        pattern: regex.clone(),
                    });
                }
                Ok(Some(re))
            }
            Strategy::TimeProximity { radius_km, .. } | Strategy::Fusion { radius_km, .. }
                if !(radius_km.is_finite() && *radius_km >= 0.0) =>
            {
                Err(GroupingError::InvalidParameter(format!(
                    "radius {radius_km} km must be a number ≥ 0"
                )))
            }
            _ => Ok(None),
        }
    }
}

/// What grouping needs of each image, computed once.
struct Facts {
    day: Option<Day>,
    /// Local wall-clock seconds, when the date has a time.
    secs: Option<i64>,
    /// Identity key of the photographer (see [`GroupOptions`]).
    photographer: Option<String>,
    /// The raw name, for labels.
    name: Option<String>,
    gps: Option<Gps>,
}

/// A group on its way to becoming a draft.
struct Part {
    key: String,
    label: String,
    members: Vec<usize>,
    reasons: Vec<Reason>,
}

fn reason(level: Confidence, text: impl Into<String>) -> Reason {
    Reason {
        level,
        text: text.into(),
    }
}

/// Groups `images` into drafts. O(n log n); 20,000 images take well under a second natively.
pub fn group(
    images: &[ScannedImage],
    rules: &CompiledRules,
    strategy: &Strategy,
    opts: &GroupOptions,
) -> Result<Grouping, GroupingError> {
    let pattern = strategy.compile()?;
    let fields: Vec<ImageFields> = images
        .iter()
        .map(|img| rules.evaluate(&img.relative_path, img.meta.as_ref()))
        .collect();
    let facts: Vec<Facts> = fields
        .iter()
        .map(|f| {
            let day = f.date.as_ref().and_then(|d| d.value.day());
            let secs = match (day, f.date.as_ref().and_then(|d| d.value.time_of_day())) {
                (Some(d), Some(t)) => Some(local_seconds(d, t)),
                _ => None,
            };
            let photographer = f.photographer.as_ref().map(|p| {
                opts.photographer_keys
                    .get(&p.value)
                    .cloned()
                    .unwrap_or_else(|| normalize_text(&p.value))
            });
            Facts {
                day,
                secs,
                photographer,
                name: f.photographer.as_ref().map(|p| p.value.clone()),
                gps: f.gps.as_ref().map(|g| g.value),
            }
        })
        .collect();

    let all: Vec<usize> = (0..images.len()).collect();
    let mut parts: Vec<Part> = Vec::new();
    match strategy {
        Strategy::Folder { depth } => {
            for p in folder_groups(images, &all, *depth) {
                parts.extend(domain_split(p, &facts));
            }
        }
        Strategy::FileNamePattern { .. } => {
            let mut by_key: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
            for &i in &all {
                let (_, file) = split_path(&images[i].relative_path);
                let key = pattern
                    .as_ref()
                    .and_then(|re| re.captures(file))
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
                    .filter(|k| !k.is_empty());
                by_key.entry(key).or_default().push(i);
            }
            for (key, members) in by_key {
                let part = match key {
                    Some(k) => Part {
                        key: format!("name:{k}"),
                        label: k,
                        members,
                        reasons: vec![],
                    },
                    None => Part {
                        key: "name:(unmatched)".into(),
                        label: "file names not matching the pattern".into(),
                        members,
                        reasons: vec![reason(
                            Confidence::Red,
                            "file name does not match the grouping pattern",
                        )],
                    },
                };
                parts.extend(domain_split(part, &facts));
            }
        }
        Strategy::TimeProximity {
            window_minutes,
            radius_km,
        } => {
            let root = Part {
                key: "time".into(),
                label: "time".into(),
                members: all,
                reasons: vec![],
            };
            parts.extend(proximity_split(
                root,
                &facts,
                *window_minutes,
                *radius_km,
                false,
            ));
        }
        Strategy::Fusion {
            depth,
            window_minutes,
            radius_km,
        } => {
            for p in folder_groups(images, &all, *depth) {
                parts.extend(proximity_split(
                    p,
                    &facts,
                    *window_minutes,
                    *radius_km,
                    true,
                ));
            }
        }
    }

    let mut seen = BTreeSet::new();
    let drafts = parts
        .into_iter()
        .map(|mut p| {
            // Keys are unique by construction; make sure anyway.
            let base = p.key.clone();
            let mut n = 1;
            while !seen.insert(p.key.clone()) {
                n += 1;
                p.key = format!("{base}#{n}");
            }
            build_draft(p, images, &fields, &facts)
        })
        .collect();
    Ok(Grouping { drafts, fields })
}

/// The folder key of an image at `depth`, and whether the image sits above that depth.
fn folder_key(path: &str, depth: i32) -> (String, bool) {
    let (dirs, _) = split_path(path);
    let idx = if depth >= 0 {
        Some(depth as usize)
    } else {
        dirs.len().checked_sub(depth.unsigned_abs() as usize)
    };
    match idx.filter(|&i| i < dirs.len()) {
        Some(i) => (dirs[..=i].join("/"), false),
        None => (dirs.join("/"), true),
    }
}

fn folder_groups(images: &[ScannedImage], members: &[usize], depth: i32) -> Vec<Part> {
    let mut by: BTreeMap<String, (Vec<usize>, usize)> = BTreeMap::new();
    for &i in members {
        let (key, shallow) = folder_key(&images[i].relative_path, depth);
        let e = by.entry(key).or_default();
        e.0.push(i);
        e.1 += usize::from(shallow);
    }
    by.into_iter()
        .map(|(key, (members, shallow))| {
            let mut reasons = vec![];
            if shallow > 0 {
                reasons.push(reason(
                    Confidence::Yellow,
                    format!(
                        "{shallow} image(s) above the grouping depth, grouped by their own folder"
                    ),
                ));
            }
            let label = if key.is_empty() {
                "(top folder)".into()
            } else {
                key.clone()
            };
            Part {
                key: format!("folder:{key}"),
                label,
                members,
                reasons,
            }
        })
        .collect()
}

/// Splits a group by (day, photographer) when it holds several known values of either.
fn domain_split(part: Part, facts: &[Facts]) -> Vec<Part> {
    let days: BTreeSet<Day> = btree_set(part.members.iter().filter_map(|&i| facts[i].day));
    let phots: BTreeSet<&str> = btree_set(
        part.members
            .iter()
            .filter_map(|&i| facts[i].photographer.as_deref()),
    );
    let (split_days, split_phots) = (days.len() > 1, phots.len() > 1);
    if !split_days && !split_phots {
        return vec![part];
    }
    let mut why = Vec::new();
    if split_days {
        why.push(format!("{} days", days.len()));
    }
    if split_phots {
        why.push(format!("{} photographers", phots.len()));
    }
    let why = why.join(" and ");
    let mut by: BTreeMap<(Option<Day>, Option<&str>), Vec<usize>> = BTreeMap::new();
    for &i in &part.members {
        let d = if split_days { facts[i].day } else { None };
        let p = if split_phots {
            facts[i].photographer.as_deref()
        } else {
            None
        };
        by.entry((d, p)).or_default().push(i);
    }
    by.into_iter()
        .map(|((d, p), members)| {
            let mut reasons = part.reasons.clone();
            reasons.push(reason(
                Confidence::Yellow,
                format!("split from “{}”, which had {why}", part.label),
            ));
            if split_days && d.is_none() {
                reasons.push(reason(
                    Confidence::Red,
                    "no date, in a group spanning several days",
                ));
            }
            if split_phots && p.is_none() {
                reasons.push(reason(
                    Confidence::Red,
                    "no photographer, in a group with several photographers",
                ));
            }
            let d_s = d.map(|d| d.to_string()).unwrap_or_default();
            let p_s = p.unwrap_or_default();
            let name = p
                .and(members.first().and_then(|&i| facts[i].name.as_deref()))
                .unwrap_or_default();
            let suffix: Vec<&str> = [d_s.as_str(), name]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            Part {
                key: format!("{}|{}|{}", part.key, d_s, p_s),
                label: format!("{} ({})", part.label, suffix.join(", ")),
                members,
                reasons,
            }
        })
        .collect()
}

/// Time proximity within `part`: per photographer (see [`domain_split`] for how unknown
/// photographers are treated), sorted by time; breaks on day change, gap > window, or GPS
/// farther than the radius from the run's first position. `in_folder`: fusion's wording and
/// handling of images without time.
fn proximity_split(
    part: Part,
    facts: &[Facts],
    window_min: u32,
    radius_km: f64,
    in_folder: bool,
) -> Vec<Part> {
    let window = window_min as i64 * 60;
    let (mut dated, undated): (Vec<usize>, Vec<usize>) =
        part.members.iter().partition(|&&i| facts[i].secs.is_some());
    let phots: BTreeSet<&str> = btree_set(
        dated
            .iter()
            .filter_map(|&i| facts[i].photographer.as_deref()),
    );
    let split_phots = phots.len() > 1;
    let pkey = |i: usize| {
        if split_phots {
            facts[i].photographer.as_deref()
        } else {
            None
        }
    };
    crate::order::sort_by_key(&mut dated, |&i| (pkey(i), facts[i].secs, i));

    // Runs of `dated`, and which kinds of break made them.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let (mut by_day, mut by_gap, mut by_gps, mut by_phot) = (false, false, false, false);
    let mut anchor: Option<Gps> = None;
    for &i in &dated {
        let f = &facts[i];
        let brk = match runs.last().and_then(|r| r.last()) {
            None => true,
            Some(&prev) => {
                let p = &facts[prev];
                let phot = pkey(prev) != pkey(i);
                let day = p.day != f.day;
                let gap = f.secs.unwrap_or(0) - p.secs.unwrap_or(0) > window;
                let far = match (anchor, f.gps) {
                    (Some(a), Some(g)) => distance_km(a.lat, a.lon, g.lat, g.lon) > radius_km,
                    _ => false,
                };
                by_phot |= phot;
                by_day |= day && !phot;
                by_gap |= gap && !day && !phot;
                by_gps |= far && !gap && !day && !phot;
                phot || day || gap || far
            }
        };
        if brk {
            runs.push(vec![i]);
            anchor = f.gps;
        } else if let Some(r) = runs.last_mut() {
            r.push(i);
            if anchor.is_none() {
                anchor = f.gps;
            }
        }
    }

    let mut why = Vec::new();
    if by_day {
        why.push("spans several days".to_string());
    }
    if by_phot {
        why.push("has several photographers".to_string());
    }
    if by_gap {
        why.push(format!("has a time gap over {window_min} min"));
    }
    if by_gps {
        why.push(format!("has GPS positions over {radius_km} km apart"));
    }
    let split = runs.len() > 1;
    let mut out = Vec::new();
    let n_runs = runs.len();
    for run in runs {
        let first = run[0];
        let f = &facts[first];
        let stamp = match (f.day, f.secs) {
            (Some(d), Some(s)) => format!(
                "{d} {:02}:{:02}",
                s.rem_euclid(86_400) / 3600,
                s.rem_euclid(3600) / 60
            ),
            _ => String::new(),
        };
        let phot = f.photographer.clone().unwrap_or_default();
        let name = f.name.clone().unwrap_or_default();
        let mut reasons = part.reasons.clone();
        if in_folder && split {
            reasons.push(reason(
                Confidence::Yellow,
                format!("folder “{}” {}; split", part.label, why.join(", ")),
            ));
        }
        let label = if in_folder {
            if split {
                format!("{} ({stamp})", part.label)
            } else {
                part.label.clone()
            }
        } else if name.is_empty() {
            stamp.clone()
        } else {
            format!("{stamp}, {name}")
        };
        out.push(Part {
            key: format!("{}|{}|{}", part.key, phot, stamp),
            label,
            members: run,
            reasons,
        });
    }

    if !undated.is_empty() {
        let n = undated.len();
        if in_folder && n_runs == 1 {
            if let Some(mut only) = out.pop() {
                only.members.extend(undated);
                only.reasons.push(reason(
                    Confidence::Yellow,
                    format!("{n} image(s) without capture time, kept by folder"),
                ));
                // They may still carry another day (from a name) or photographer.
                out.extend(domain_split(only, facts));
            }
        } else {
            let (label, mut reasons) = if in_folder && n_runs == 0 {
                (part.label.clone(), part.reasons.clone())
            } else {
                (
                    if in_folder {
                        format!("{} (undated)", part.label)
                    } else {
                        "undated".into()
                    },
                    vec![reason(
                        Confidence::Red,
                        if in_folder {
                            "no capture time, in a folder that was split"
                        } else {
                            "no capture time: cannot be grouped by time"
                        },
                    )],
                )
            };
            if in_folder && n_runs == 0 {
                reasons.push(reason(
                    Confidence::Yellow,
                    "no capture times to cross-check the folder",
                ));
            }
            let undated_part = Part {
                key: format!("{}|undated", part.key),
                label,
                members: undated,
                reasons,
            };
            // Days from folder names and photographers still apply.
            out.extend(domain_split(undated_part, facts));
        }
    }
    out
}

/// Values with their counts, most common first.
type Tally = Vec<(String, usize)>;

/// The most common value by normalised text (ties: the earliest) and the [`Tally`].
fn majority<'a>(
    items: impl Iterator<Item = &'a Sourced<String>>,
) -> Option<(&'a Sourced<String>, Tally)> {
    let mut counts: Vec<(usize, &'a Sourced<String>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for it in items {
        let k = normalize_text(&it.value);
        match index.get(&k) {
            Some(&j) => counts[j].0 += 1,
            None => {
                index.insert(k, counts.len());
                counts.push((1, it));
            }
        }
    }
    let (_, &(_, best)) = counts
        .iter()
        .enumerate()
        .max_by_key(|(j, c)| (c.0, std::cmp::Reverse(*j)))?;
    let mut tally: Tally = counts.iter().map(|c| (c.1.value.clone(), c.0)).collect();
    crate::order::sort_by_key(&mut tally, |t| std::cmp::Reverse(t.1));
    Some((best, tally))
}

fn mixed_reason(what: &str, summary: &[(String, usize)]) -> Option<Reason> {
    if summary.len() < 2 {
        return None;
    }
    let list: Vec<String> = summary
        .iter()
        .take(3)
        .map(|(v, n)| format!("{v} ({n})"))
        .collect();
    let more = if summary.len() > 3 { ", …" } else { "" };
    Some(reason(
        Confidence::Yellow,
        format!("mixed {what}: {}{more}", list.join(", ")),
    ))
}

fn source_reason(what: &str, source: SourceKind) -> Option<Reason> {
    match source {
        SourceKind::FolderName | SourceKind::FileName => Some(reason(
            Confidence::Yellow,
            format!("{what} only from {source}"),
        )),
        _ => None,
    }
}

fn build_draft(
    part: Part,
    images: &[ScannedImage],
    fields: &[ImageFields],
    facts: &[Facts],
) -> EncounterDraft {
    let mut members = part.members;
    crate::order::sort_by(&mut members, |&a, &b| {
        (
            facts[a].secs.is_none(),
            facts[a].secs,
            &images[a].relative_path,
        )
            .cmp(&(
                facts[b].secs.is_none(),
                facts[b].secs,
                &images[b].relative_path,
            ))
    });
    let mut reasons = part.reasons;
    let mut missing = Vec::new();

    // Date: the day, earliest time of it, most common source.
    let day = members.iter().find_map(|&i| facts[i].day);
    let date = day.and_then(|day| {
        let with_day: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| facts[i].day == Some(day))
            .collect();
        let first_timed = with_day.iter().copied().find(|&i| facts[i].secs.is_some());
        let mut by_source: BTreeMap<SourceKind, usize> = BTreeMap::new();
        for &i in &with_day {
            if let Some(d) = &fields[i].date {
                *by_source.entry(d.source).or_default() += 1;
            }
        }
        let source = by_source
            .iter()
            .max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k)))?
            .0;
        let template = first_timed.or(with_day.first().copied())?;
        let d = fields[template].date.as_ref()?;
        Some(Sourced {
            value: DateValue {
                date: day.to_string(),
                time: first_timed.and_then(|_| d.value.time.clone()),
                utc_offset: first_timed.and_then(|_| d.value.utc_offset.clone()),
            },
            source: *source,
            matched: d.matched.clone(),
        })
    });
    match &date {
        None => {
            reasons.push(reason(Confidence::Red, "missing date"));
            missing.push(Missing::Date);
        }
        Some(d) => reasons.extend(source_reason("date", d.source)),
    }

    let location_name = majority(
        members
            .iter()
            .filter_map(|&i| fields[i].location_name.as_ref()),
    );
    let location_name = match location_name {
        None => {
            reasons.push(reason(Confidence::Red, "missing location name"));
            missing.push(Missing::LocationName);
            None
        }
        Some((best, summary)) => {
            reasons.extend(source_reason("location name", best.source));
            reasons.extend(mixed_reason("location names", &summary));
            Some(best.clone())
        }
    };

    let gps = members.iter().find_map(|&i| fields[i].gps.clone());
    match &gps {
        None => {
            reasons.push(reason(Confidence::Red, "missing GPS"));
            missing.push(Missing::Gps);
        }
        Some(g) => reasons.extend(source_reason("GPS", g.source)),
    }

    let photographer = majority(
        members
            .iter()
            .filter_map(|&i| fields[i].photographer.as_ref()),
    );
    let photographer = match photographer {
        None => {
            reasons.push(reason(Confidence::Red, "missing photographer"));
            missing.push(Missing::Photographer);
            None
        }
        Some((best, summary)) => {
            reasons.extend(source_reason("photographer", best.source));
            reasons.extend(mixed_reason("photographer spellings", &summary));
            Some(best.clone())
        }
    };

    let mut individuals: Option<Sourced<Vec<String>>> = None;
    for &i in &members {
        if let Some(ids) = &fields[i].individuals {
            let acc = individuals.get_or_insert_with(|| Sourced {
                value: Vec::new(),
                source: ids.source,
                matched: ids.matched.clone(),
            });
            for id in &ids.value {
                if !acc.value.contains(id) {
                    acc.value.push(id.clone());
                }
            }
        }
    }
    if let Some(ids) = &individuals {
        reasons.extend(source_reason("individual IDs", ids.source));
    }

    let names: BTreeSet<&String> = btree_set(members.iter().flat_map(|&i| fields[i].extra.keys()));
    let mut extra = BTreeMap::new();
    for name in names {
        if let Some((best, summary)) =
            majority(members.iter().filter_map(|&i| fields[i].extra.get(name)))
        {
            reasons.extend(mixed_reason(&format!("values of “{name}”"), &summary));
            extra.insert(name.clone(), best.clone());
        }
    }

    let mut seen = BTreeSet::new();
    reasons.retain(|r| seen.insert((r.level, r.text.clone())));
    let confidence = reasons
        .iter()
        .map(|r| r.level)
        .max()
        .unwrap_or(Confidence::Green);
    EncounterDraft {
        key: part.key,
        label: part.label,
        images: members,
        date,
        location_name,
        gps,
        photographer,
        individuals,
        extra,
        confidence,
        reasons,
        missing,
    }
}

/// Share of drafts with each required value, for the preview's field-coverage statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    pub encounters: usize,
    pub date: f64,
    pub location_name: f64,
    pub gps: f64,
    pub photographer: f64,
    pub individuals: f64,
}

pub fn coverage(drafts: &[EncounterDraft]) -> Coverage {
    let n = drafts.len();
    let share = |f: &dyn Fn(&EncounterDraft) -> bool| {
        if n == 0 {
            0.0
        } else {
            drafts.iter().filter(|d| f(d)).count() as f64 / n as f64
        }
    };
    Coverage {
        encounters: n,
        date: share(&|d| d.date.is_some()),
        location_name: share(&|d| d.location_name.is_some()),
        gps: share(&|d| d.gps.is_some()),
        photographer: share(&|d| d.photographer.is_some()),
        individuals: share(&|d| d.individuals.is_some()),
    }
}

#[cfg(test)]
mod tests;
