//! Field rules of a manifest (spec decision 5, §2.3): for each encounter field an ordered
//! fallback chain of [`Source`]s. Evaluating a field for one image gives the value **and**
//! the source that supplied it, so the preview can say "2024-07-15 — from folder name".
//!
//! # Usage
//!
//! ```
//! use finsync_core::rules::{DateFormat, FieldRules, Source, SourceKind};
//! let mut rules = FieldRules::default();
//! rules.location_name.push(Source::FolderName {
//!     depth: -1,
//!     regex: Some(r"^\d{4}-\d{2}-\d{2}_([^_]+)".into()),
//!     date_format: None,
//! });
//! let rules = rules.compile().expect("valid rules");
//! let f = rules.evaluate("Trips/2024-07-15_Haro_Strait/IMG_1.jpg", None);
//! let date = f.date.expect("from the folder name");
//! assert_eq!((date.value.date.as_str(), date.source), ("2024-07-15", SourceKind::FolderName));
//! assert_eq!(f.location_name.expect("from the folder").value, "Haro");
//! ```
//!
//! # Sources and what each supplies
//!
//! | field | `Exif` | `Iptc` | `FolderName` / `FileName` | `Manual` |
//! |---|---|---|---|---|
//! | date | DateTimeOriginal, else DateTimeDigitized (date, time, offset) | Date/Time Created | a date in the [`DateFormat`] | `YYYY-MM-DD[ HH:MM:SS]` |
//! | location name | — | Sub-location, else City | captured text | text |
//! | GPS | GPS lat/lon | — | captured `lat, lon` (decimal) | `lat, lon` |
//! | photographer | Artist, else XPAuthor, else CameraOwnerName | By-line | captured text | text |
//! | individual IDs | — | Keywords + ID-verifier matches in the caption | captured IDs | list |
//! | extra fields | — | — | captured text | text |
//!
//! A source that cannot supply a field ("—") is rejected by [`FieldRules::compile`]. EXIF
//! Copyright is never used automatically (it often names an organisation); it is shown among
//! the photographer candidates of [`crate::metadata::ImageMeta`].
//!
//! **Path patterns.** A path is the image's `relative_path` (`/`-separated, starting with the
//! picked folder's name). `FolderName { depth }` selects one directory segment: `0` is the
//! picked folder, `1` its child, …; negative counts from the end, `-1` being the folder the
//! image is in. A segment that does not exist gives no value (the chain goes on). `FileName`
//! looks at the file name with its extension. `regex` must have a capture group; the first
//! group is the value. Without a regex the whole segment/name is the value, except for dates
//! (the first valid date in the format anywhere in it, delimited by non-digits) and individual
//! IDs (every match of the population's ID verifier). Captured text for names has `_` turned
//! into spaces and whitespace collapsed.
//!
//! **Individual IDs.** A captured value may hold several IDs separated by commas, semicolons or
//! whitespace; a regex matching several times yields all of them. With an ID verifier, IDs
//! that do not match it *entirely* are dropped with a warning (IPTC keywords that do not match
//! are dropped silently: keywords are mostly not IDs). Without a verifier every token counts.
//! The first source yielding at least one ID wins.
//!
//! # Regex crate: `regex-lite`
//!
//! Patterns come from users and from the server (the population's ID verifier), are tiny and
//! run on short strings (path segments, file names). `regex-lite` builds for wasm32 with no
//! Unicode tables; measured on a wasm32 cdylib (`opt-level = "z"`, LTO) that compiles and runs
//! one pattern, it adds ~80 KB raw / ~32 KB gzip, where `regex` adds ~980 KB / ~314 KB — five
//! times today's whole app bundle (~67 KB gzip). It keeps `regex`'s syntax for everything these
//! patterns need and matches in linear time (no catastrophic backtracking from a user pattern).
//! What is lost: Unicode classes (`\p{L}`; `\w`/`\d` are ASCII) and speed on large inputs —
//! neither matters here.

use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use crate::api::Gps;
use crate::calendar::{Day, TimeOfDay};
use crate::grouping::Confidence;
use crate::metadata::{ImageMeta, PhotographerSource, TakenAt};

/// Where a field's value may come from; one link of a fallback chain. JSON:
/// `{"kind":"folderName","depth":-1,"regex":"…","dateFormat":"YYYY-MM-DD"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Source {
    Exif,
    Iptc,
    FolderName {
        depth: i32,
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        date_format: Option<DateFormat>,
    },
    FileName {
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        date_format: Option<DateFormat>,
    },
    Manual {
        value: String,
    },
}

impl Source {
    pub fn kind(&self) -> SourceKind {
        match self {
            Source::Exif => SourceKind::Exif,
            Source::Iptc => SourceKind::Iptc,
            Source::FolderName { .. } => SourceKind::FolderName,
            Source::FileName { .. } => SourceKind::FileName,
            Source::Manual { .. } => SourceKind::Manual,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern =
            |f: &mut fmt::Formatter<'_>, regex: &Option<String>, df: &Option<DateFormat>| {
                if let Some(r) = regex {
                    write!(f, " /{r}/")?;
                }
                if let Some(d) = df {
                    write!(f, " {d}")?;
                }
                Ok(())
            };
        match self {
            Source::Exif => f.write_str("EXIF"),
            Source::Iptc => f.write_str("IPTC"),
            Source::FolderName {
                depth,
                regex,
                date_format,
            } => {
                write!(f, "folder name [{depth}]")?;
                pattern(f, regex, date_format)
            }
            Source::FileName { regex, date_format } => {
                f.write_str("file name")?;
                pattern(f, regex, date_format)
            }
            Source::Manual { value } => write!(f, "manual “{value}”"),
        }
    }
}

/// Which kind of source supplied a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceKind {
    Exif,
    Iptc,
    FolderName,
    FileName,
    Manual,
}

impl SourceKind {
    /// G1's colour rule: structured data (and the user's own value) is green, a pattern
    /// matched in a name is yellow.
    pub fn confidence(self) -> Confidence {
        match self {
            SourceKind::Exif | SourceKind::Iptc | SourceKind::Manual => Confidence::Green,
            SourceKind::FolderName | SourceKind::FileName => Confidence::Yellow,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Exif => "EXIF",
            SourceKind::Iptc => "IPTC",
            SourceKind::FolderName => "folder name",
            SourceKind::FileName => "file name",
            SourceKind::Manual => "manual value",
        })
    }
}

/// A date layout in folder and file names: `YYYY-MM-DD`, `YYYYMMDD`, `DD-MM-YYYY`,
/// `MM-DD-YYYY`, and the `_` / `.` variants of the separated ones (`YYYY_MM_DD`, `DD.MM.YYYY`,
/// …). JSON: that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DateFormat {
    order: DateOrder,
    /// `None`: `YYYYMMDD`.
    sep: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateOrder {
    Ymd,
    Dmy,
    Mdy,
}

impl DateFormat {
    pub const YYYY_MM_DD: DateFormat = DateFormat {
        order: DateOrder::Ymd,
        sep: Some(b'-'),
    };
    pub const YYYYMMDD: DateFormat = DateFormat {
        order: DateOrder::Ymd,
        sep: None,
    };

    /// Every supported layout, for the editor's dropdown.
    pub fn all() -> Vec<DateFormat> {
        let mut v = vec![DateFormat::YYYYMMDD];
        for order in [DateOrder::Ymd, DateOrder::Dmy, DateOrder::Mdy] {
            for sep in [b'-', b'_', b'.'] {
                v.push(DateFormat {
                    order,
                    sep: Some(sep),
                });
            }
        }
        v
    }

    fn len(self) -> usize {
        if self.sep.is_some() {
            10
        } else {
            8
        }
    }

    /// Parses `s` if it is exactly a date in this layout.
    pub fn parse(self, s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != self.len() {
            return None;
        }
        let num = |r: std::ops::Range<usize>| b.get(r).and_then(crate::calendar::digits);
        let (y, m, d) = match (self.order, self.sep) {
            (DateOrder::Ymd, None) => (num(0..4)?, num(4..6)?, num(6..8)?),
            (order, Some(sep)) => {
                let seps = match order {
                    DateOrder::Ymd => [4, 7],
                    _ => [2, 5],
                };
                if seps.iter().any(|&i| b[i] != sep) {
                    return None;
                }
                match order {
                    DateOrder::Ymd => (num(0..4)?, num(5..7)?, num(8..10)?),
                    DateOrder::Dmy => (num(6..10)?, num(3..5)?, num(0..2)?),
                    DateOrder::Mdy => (num(6..10)?, num(0..2)?, num(3..5)?),
                }
            }
            _ => return None,
        };
        Day::new(y as i32, m, d).filter(|d| d.year >= crate::metadata::ParseOptions::EARLIEST_YEAR)
    }

    /// The first valid date in this layout inside `s`, not directly preceded or followed by a
    /// digit.
    pub fn find(self, s: &str) -> Option<Day> {
        let b = s.as_bytes();
        let n = self.len();
        (0..=b.len().saturating_sub(n)).find_map(|i| {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            let after = b.get(i + n);
            if before.is_some_and(u8::is_ascii_digit) || after.is_some_and(u8::is_ascii_digit) {
                return None;
            }
            s.get(i..i + n).and_then(|t| self.parse(t))
        })
    }
}

impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(sep) = self.sep.map(char::from) else {
            return f.write_str("YYYYMMDD");
        };
        match self.order {
            DateOrder::Ymd => write!(f, "YYYY{sep}MM{sep}DD"),
            DateOrder::Dmy => write!(f, "DD{sep}MM{sep}YYYY"),
            DateOrder::Mdy => write!(f, "MM{sep}DD{sep}YYYY"),
        }
    }
}

impl From<DateFormat> for String {
    fn from(d: DateFormat) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for DateFormat {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        DateFormat::all()
            .into_iter()
            .find(|d| d.to_string() == s)
            .ok_or_else(|| {
                format!("unknown date format `{s}` (e.g. YYYY-MM-DD, YYYYMMDD, DD.MM.YYYY)")
            })
    }
}

/// The rules of every field. `Default` is spec §2.3's default source priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldRules {
    pub date: Vec<Source>,
    pub location_name: Vec<Source>,
    pub gps: Vec<Source>,
    pub photographer: Vec<Source>,
    pub individuals: Vec<Source>,
    /// The population's identifier verifier (a regex such as `[TGJ]\d{3}[A-Z]?`).
    #[serde(default)]
    pub id_verifier: Option<String>,
    /// Free fields (e.g. "vessel", "survey"), each with its own chain.
    #[serde(default)]
    pub extra: Vec<ExtraField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraField {
    pub name: String,
    pub sources: Vec<Source>,
}

impl Default for FieldRules {
    /// Date: EXIF → `YYYY-MM-DD` in the image's folder → `YYYYMMDD` in the file name (phones
    /// write `IMG_20240715_…`). Location name: IPTC. GPS: EXIF. Photographer: IPTC → EXIF.
    /// Individuals: verifier matches in the folder → in the file name → IPTC.
    fn default() -> Self {
        FieldRules {
            date: vec![
                Source::Exif,
                Source::FolderName {
                    depth: -1,
                    regex: None,
                    date_format: Some(DateFormat::YYYY_MM_DD),
                },
                Source::FileName {
                    regex: None,
                    date_format: Some(DateFormat::YYYYMMDD),
                },
            ],
            location_name: vec![Source::Iptc],
            gps: vec![Source::Exif],
            photographer: vec![Source::Iptc, Source::Exif],
            individuals: vec![
                Source::FolderName {
                    depth: -1,
                    regex: None,
                    date_format: None,
                },
                Source::FileName {
                    regex: None,
                    date_format: None,
                },
                Source::Iptc,
            ],
            id_verifier: None,
            extra: Vec::new(),
        }
    }
}

/// A field of the encounter, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldName {
    Date,
    LocationName,
    Gps,
    Photographer,
    Individuals,
    Extra(String),
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldName::Date => f.write_str("date"),
            FieldName::LocationName => f.write_str("location name"),
            FieldName::Gps => f.write_str("GPS"),
            FieldName::Photographer => f.write_str("photographer"),
            FieldName::Individuals => f.write_str("individual IDs"),
            FieldName::Extra(n) => write!(f, "field “{n}”"),
        }
    }
}

/// Why rules cannot be used; each names the field (and the link of its chain, from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{field}, source {link}: the pattern `{pattern}` is not a valid regex: {message}")]
    InvalidRegex {
        field: FieldName,
        link: usize,
        pattern: String,
        message: String,
    },
    #[error("{field}, source {link}: the pattern `{pattern}` has no capture group; put the part to extract in ( )")]
    NoCaptureGroup {
        field: FieldName,
        link: usize,
        pattern: String,
    },
    #[error("{field}, source {link}: {kind} cannot supply the {field}")]
    UnsupportedSource {
        field: FieldName,
        link: usize,
        kind: SourceKind,
    },
    #[error("{field}, source {link}: a date from a name needs a date format")]
    MissingDateFormat { field: FieldName, link: usize },
    #[error("{field}, source {link}: a date format only applies to the date")]
    DateFormatNotApplicable { field: FieldName, link: usize },
    #[error("{field}, source {link}: `{value}` is not a valid {expected}")]
    InvalidManualValue {
        field: FieldName,
        link: usize,
        value: String,
        expected: &'static str,
    },
    #[error("the population's ID verifier `{pattern}` is not a valid regex: {message}")]
    InvalidIdVerifier { pattern: String, message: String },
    #[error("extra field name `{name}` is empty or used twice")]
    BadExtraFieldName { name: String },
}

/// A local date, optionally with a wall-clock time and UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateValue {
    /// `YYYY-MM-DD`
    pub date: String,
    /// `HH:MM:SS`, when the source has a time (EXIF, IPTC, a manual value with a time).
    pub time: Option<String>,
    pub utc_offset: Option<String>,
}

impl DateValue {
    pub fn day(&self) -> Option<Day> {
        Day::parse_iso(&self.date)
    }
    pub fn time_of_day(&self) -> Option<TimeOfDay> {
        self.time.as_deref().and_then(TimeOfDay::parse)
    }
    fn from_taken(t: &TakenAt) -> Option<DateValue> {
        Day::parse_iso(&t.date)?;
        Some(DateValue {
            date: t.date.clone(),
            time: t.time.clone().filter(|s| TimeOfDay::parse(s).is_some()),
            utc_offset: t.utc_offset.clone(),
        })
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sourced<T> {
    pub value: T,
    pub source: SourceKind,
    /// The folder segment or file name a pattern was applied to (`None` for metadata and
    /// manual values), for "2024-07-15 — from folder name `2024-07-15_Haro`".
    pub matched: Option<String>,
}

/// Every field of one image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFields {
    pub date: Option<Sourced<DateValue>>,
    pub location_name: Option<Sourced<String>>,
    pub gps: Option<Sourced<Gps>>,
    pub photographer: Option<Sourced<String>>,
    pub individuals: Option<Sourced<Vec<String>>>,
    pub extra: BTreeMap<String, Sourced<String>>,
    /// E.g. IDs rejected by the verifier.
    pub warnings: Vec<String>,
}

/// [`FieldRules`] with every pattern compiled and every manual value parsed.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    date: Vec<Compiled>,
    location_name: Vec<Compiled>,
    gps: Vec<Compiled>,
    photographer: Vec<Compiled>,
    individuals: Vec<Compiled>,
    extra: Vec<(String, Vec<Compiled>)>,
    verifier: Option<Verifier>,
}

#[derive(Debug, Clone)]
struct Verifier {
    find: Regex,
    whole: Regex,
}

#[derive(Debug, Clone)]
enum Compiled {
    Exif,
    Iptc,
    Folder { depth: i32, pattern: Pattern },
    File { pattern: Pattern },
    Manual(Manual),
}

#[derive(Debug, Clone)]
struct Pattern {
    regex: Option<Regex>,
    date_format: Option<DateFormat>,
}

#[derive(Debug, Clone)]
enum Manual {
    Date(DateValue),
    Gps(Gps),
    Text(String),
    Ids(Vec<String>),
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Date,
    Location,
    Gps,
    Photographer,
    Individuals,
    Extra,
}

impl FieldRules {
    /// Checks and compiles every chain; the first problem is returned.
    pub fn compile(&self) -> Result<CompiledRules, RuleError> {
        let verifier = match &self.id_verifier {
            Some(p) if !p.trim().is_empty() => {
                let bad = |e: regex_lite::Error| RuleError::InvalidIdVerifier {
                    pattern: p.clone(),
                    message: e.to_string(),
                };
                Some(Verifier {
                    find: Regex::new(p).map_err(bad)?,
                    whole: Regex::new(&format!("^(?:{p})$")).map_err(bad)?,
                })
            }
            _ => None,
        };
        let mut names = std::collections::BTreeSet::new();
        let mut extra = Vec::new();
        for x in &self.extra {
            let name = x.name.trim().to_string();
            if name.is_empty() || !names.insert(name.clone()) {
                return Err(RuleError::BadExtraFieldName {
                    name: x.name.clone(),
                });
            }
            let chain = compile_chain(&x.sources, FieldName::Extra(name.clone()), Kind::Extra)?;
            extra.push((name, chain));
        }
        Ok(CompiledRules {
            date: compile_chain(&self.date, FieldName::Date, Kind::Date)?,
            location_name: compile_chain(
                &self.location_name,
                FieldName::LocationName,
                Kind::Location,
            )?,
            gps: compile_chain(&self.gps, FieldName::Gps, Kind::Gps)?,
            photographer: compile_chain(
                &self.photographer,
                FieldName::Photographer,
                Kind::Photographer,
            )?,
            individuals: compile_chain(
                &self.individuals,
                FieldName::Individuals,
                Kind::Individuals,
            )?,
            extra,
            verifier,
        })
    }
}

fn compile_chain(
    chain: &[Source],
    field: FieldName,
    kind: Kind,
) -> Result<Vec<Compiled>, RuleError> {
    chain
        .iter()
        .enumerate()
        .map(|(i, s)| compile_source(s, &field, kind, i + 1))
        .collect()
}

fn compile_source(
    s: &Source,
    field: &FieldName,
    kind: Kind,
    link: usize,
) -> Result<Compiled, RuleError> {
    let unsupported = || RuleError::UnsupportedSource {
        field: field.clone(),
        link,
        kind: s.kind(),
    };
    let pattern = |regex: &Option<String>, df: &Option<DateFormat>| -> Result<Pattern, RuleError> {
        match (kind == Kind::Date, df.is_some()) {
            (true, false) => {
                return Err(RuleError::MissingDateFormat {
                    field: field.clone(),
                    link,
                })
            }
            (false, true) => {
                return Err(RuleError::DateFormatNotApplicable {
                    field: field.clone(),
                    link,
                })
            }
            _ => {}
        }
        let regex = match regex.as_deref().filter(|r| !r.is_empty()) {
            None => None,
            Some(p) => {
                let re = Regex::new(p).map_err(|e| RuleError::InvalidRegex {
                    field: field.clone(),
                    link,
                    pattern: p.to_string(),
                    message: e.to_string(),
                })?;
                if re.captures_len() < 2 {
                    return Err(RuleError::NoCaptureGroup {
                        field: field.clone(),
                        link,
                        pattern: p.to_string(),
                    });
                }
                Some(re)
            }
        };
        Ok(Pattern {
            regex,
            date_format: *df,
        })
    };
    Ok(match s {
        Source::Exif => match kind {
            Kind::Date | Kind::Gps | Kind::Photographer => Compiled::Exif,
            _ => return Err(unsupported()),
        },
        Source::Iptc => match kind {
            Kind::Date | Kind::Location | Kind::Photographer | Kind::Individuals => Compiled::Iptc,
            _ => return Err(unsupported()),
        },
        Source::FolderName {
            depth,
            regex,
            date_format,
        } => Compiled::Folder {
            depth: *depth,
            pattern: pattern(regex, date_format)?,
        },
        Source::FileName { regex, date_format } => Compiled::File {
            pattern: pattern(regex, date_format)?,
        },
        Source::Manual { value } => {
            let bad = |expected| RuleError::InvalidManualValue {
                field: field.clone(),
                link,
                value: value.clone(),
                expected,
            };
            Compiled::Manual(match kind {
                Kind::Date => Manual::Date(
                    parse_manual_date(value)
                        .ok_or_else(|| bad("date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"))?,
                ),
                Kind::Gps => {
                    Manual::Gps(parse_gps(value).ok_or_else(|| bad("GPS position (lat, lon)"))?)
                }
                Kind::Individuals => {
                    let ids = split_ids(value);
                    if ids.is_empty() {
                        return Err(bad("list of IDs"));
                    }
                    Manual::Ids(ids)
                }
                _ => {
                    let t = clean_text(value);
                    if t.is_empty() {
                        return Err(bad("text"));
                    }
                    Manual::Text(t)
                }
            })
        }
    })
}

fn parse_manual_date(s: &str) -> Option<DateValue> {
    let s = s.trim();
    let (d, t) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(TimeOfDay::parse(t.trim())?)),
        None => (s, None),
    };
    let day = Day::parse_iso(d)?;
    Some(DateValue {
        date: day.to_string(),
        time: t.map(|t| t.to_string()),
        utc_offset: None,
    })
}

/// `lat, lon` / `lat lon` / `lat;lon` in decimal degrees, within range.
pub fn parse_gps(s: &str) -> Option<Gps> {
    let parts: Vec<&str> = s
        .split([',', ';', ' ', '\t'])
        .filter(|p| !p.is_empty())
        .collect();
    let [lat, lon] = parts.as_slice() else {
        return None;
    };
    let (lat, lon) = (lat.parse::<f64>().ok()?, lon.parse::<f64>().ok()?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some(Gps { lat, lon })
}

fn clean_text(s: &str) -> String {
    s.replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn split_ids(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in s.split(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// The directory segments and the file name of a relative path.
pub(crate) fn split_path(path: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let file = parts.pop().unwrap_or("");
    (parts, file)
}

/// The directory segment at `depth` (see the module docs).
pub(crate) fn segment<'a>(dirs: &[&'a str], depth: i32) -> Option<&'a str> {
    let i = if depth >= 0 {
        depth as usize
    } else {
        dirs.len().checked_sub(depth.unsigned_abs() as usize)?
    };
    dirs.get(i).copied()
}

impl CompiledRules {
    /// Evaluates every field for the image at `relative_path` with metadata `meta`.
    pub fn evaluate(&self, relative_path: &str, meta: Option<&ImageMeta>) -> ImageFields {
        let (dirs, file) = split_path(relative_path);
        let ctx = Ctx { dirs, file, meta };
        let mut warnings = Vec::new();
        let date = first(&self.date, &ctx, |c, text| {
            self.date_from(c, text, ctx.meta)
        });
        let location_name = first(&self.location_name, &ctx, |c, text| match c {
            Compiled::Iptc => ctx
                .meta
                .and_then(|m| m.sub_location.clone().or_else(|| m.city.clone())),
            Compiled::Manual(Manual::Text(t)) => Some(t.clone()),
            _ => text_from(c, text?),
        });
        let gps = first(&self.gps, &ctx, |c, text| match c {
            Compiled::Exif => ctx.meta.and_then(|m| m.gps),
            Compiled::Manual(Manual::Gps(g)) => Some(*g),
            _ => text_from(c, text?).and_then(|t| parse_gps(&t)),
        });
        let photographer = first(&self.photographer, &ctx, |c, text| match c {
            Compiled::Iptc => ctx
                .meta
                .and_then(|m| m.photographer_from(PhotographerSource::IptcByline))
                .map(str::to_string),
            Compiled::Exif => ctx.meta.and_then(|m| {
                [
                    PhotographerSource::ExifArtist,
                    PhotographerSource::ExifXpAuthor,
                    PhotographerSource::CameraOwner,
                ]
                .into_iter()
                .find_map(|s| m.photographer_from(s))
                .map(str::to_string)
            }),
            Compiled::Manual(Manual::Text(t)) => Some(t.clone()),
            _ => text_from(c, text?),
        });
        let individuals = first(&self.individuals, &ctx, |c, text| {
            let ids = self.ids_from(c, text, ctx.meta, &mut warnings);
            (!ids.is_empty()).then_some(ids)
        });
        let extra = crate::order::btree_map(self.extra.iter().filter_map(|(name, chain)| {
            let v = first(chain, &ctx, |c, text| match c {
                Compiled::Manual(Manual::Text(t)) => Some(t.clone()),
                _ => text_from(c, text?),
            })?;
            Some((name.clone(), v))
        }));
        ImageFields {
            date,
            location_name,
            gps,
            photographer,
            individuals,
            extra,
            warnings,
        }
    }

    fn date_from(
        &self,
        c: &Compiled,
        text: Option<&str>,
        meta: Option<&ImageMeta>,
    ) -> Option<DateValue> {
        match c {
            Compiled::Exif => meta?.taken.as_ref().and_then(DateValue::from_taken),
            Compiled::Iptc => meta?.iptc_created.as_ref().and_then(DateValue::from_taken),
            Compiled::Manual(Manual::Date(d)) => Some(d.clone()),
            Compiled::Folder { pattern, .. } | Compiled::File { pattern } => {
                let text = text?;
                let df = pattern.date_format?;
                let day = match &pattern.regex {
                    Some(re) => re
                        .captures_iter(text)
                        .filter_map(|c| c.get(1))
                        .find_map(|m| df.parse(m.as_str()).or_else(|| df.find(m.as_str())))?,
                    None => df.find(text)?,
                };
                Some(DateValue {
                    date: day.to_string(),
                    time: None,
                    utc_offset: None,
                })
            }
            Compiled::Manual(_) => None,
        }
    }

    fn ids_from(
        &self,
        c: &Compiled,
        text: Option<&str>,
        meta: Option<&ImageMeta>,
        warnings: &mut Vec<String>,
    ) -> Vec<String> {
        let mut tokens: Vec<String> = Vec::new();
        let mut strict = true;
        match c {
            Compiled::Iptc => {
                let Some(m) = meta else { return Vec::new() };
                strict = false;
                tokens.extend(m.keywords.iter().flat_map(|k| split_ids(k)));
                if let (Some(v), Some(caption)) = (&self.verifier, &m.caption) {
                    tokens.extend(v.find.find_iter(caption).map(|x| x.as_str().to_string()));
                }
            }
            Compiled::Manual(Manual::Ids(ids)) => tokens.extend(ids.iter().cloned()),
            Compiled::Folder { pattern, .. } | Compiled::File { pattern } => {
                let Some(text) = text else { return Vec::new() };
                match (&pattern.regex, &self.verifier) {
                    (Some(re), _) => {
                        for cap in re.captures_iter(text) {
                            if let Some(m) = cap.get(1) {
                                tokens.extend(split_ids(m.as_str()));
                            }
                        }
                    }
                    (None, Some(v)) => {
                        tokens.extend(v.find.find_iter(text).map(|x| x.as_str().to_string()))
                    }
                    (None, None) => {}
                }
            }
            Compiled::Exif | Compiled::Manual(_) => {}
        }
        let mut out: Vec<String> = Vec::new();
        for t in tokens {
            if let Some(v) = &self.verifier {
                if !v.whole.is_match(&t) {
                    if strict {
                        warnings.push(format!("`{t}` does not match the population's ID format"));
                    }
                    continue;
                }
            }
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// `true` when `id` matches the population's ID verifier entirely (or there is none).
    pub fn is_valid_id(&self, id: &str) -> bool {
        self.verifier.as_ref().is_none_or(|v| v.whole.is_match(id))
    }
}

struct Ctx<'a> {
    dirs: Vec<&'a str>,
    file: &'a str,
    meta: Option<&'a ImageMeta>,
}

/// The first link of `chain` that yields a value. `f` gets the link and, for name patterns,
/// the segment or file name it applies to.
fn first<T>(
    chain: &[Compiled],
    ctx: &Ctx<'_>,
    mut f: impl FnMut(&Compiled, Option<&str>) -> Option<T>,
) -> Option<Sourced<T>> {
    chain.iter().find_map(|c| {
        let (kind, text) = match c {
            Compiled::Exif => (SourceKind::Exif, None),
            Compiled::Iptc => (SourceKind::Iptc, None),
            Compiled::Manual(_) => (SourceKind::Manual, None),
            Compiled::Folder { depth, .. } => {
                (SourceKind::FolderName, Some(segment(&ctx.dirs, *depth)?))
            }
            Compiled::File { .. } => (
                SourceKind::FileName,
                Some(ctx.file).filter(|f| !f.is_empty()),
            ),
        };
        let value = f(c, text)?;
        Some(Sourced {
            value,
            source: kind,
            matched: text.map(str::to_string),
        })
    })
}

/// Text from a name pattern: the first group of the first match, or the whole text.
fn text_from(c: &Compiled, text: &str) -> Option<String> {
    let (Compiled::Folder { pattern, .. } | Compiled::File { pattern }) = c else {
        return None;
    };
    let raw = match &pattern.regex {
        Some(re) => re.captures(text)?.get(1)?.as_str(),
        None => text,
    };
    let t = clean_text(raw);
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{parse_prefix, testdata::field_photo};

    fn folder(depth: i32, regex: Option<&str>, df: Option<&str>) -> Source {
        Source::FolderName {
            depth,
            regex: regex.map(Into::into),
            date_format: df.map(|d| DateFormat::try_from(d.to_string()).expect("format")),
        }
    }
    fn file(regex: Option<&str>, df: Option<&str>) -> Source {
        Source::FileName {
            regex: regex.map(Into::into),
            date_format: df.map(|d| DateFormat::try_from(d.to_string()).expect("format")),
        }
    }
    fn rules(f: impl FnOnce(&mut FieldRules)) -> CompiledRules {
        let mut r = FieldRules::default();
        f(&mut r);
        r.compile().expect("compiles")
    }

    #[test]
    fn date_formats_parse_and_find() {
        let d = |f: &str, s: &str| {
            DateFormat::try_from(f.to_string())
                .expect("format")
                .find(s)
                .map(|d| d.to_string())
        };
        assert_eq!(
            d("YYYY-MM-DD", "2024-07-15_Haro").as_deref(),
            Some("2024-07-15")
        );
        assert_eq!(
            d("YYYYMMDD", "IMG_20240715_102030.jpg").as_deref(),
            Some("2024-07-15")
        );
        assert_eq!(
            d("DD.MM.YYYY", "Trip 15.07.2024").as_deref(),
            Some("2024-07-15")
        );
        assert_eq!(d("MM_DD_YYYY", "07_15_2024").as_deref(), Some("2024-07-15"));
        assert_eq!(d("DD-MM-YYYY", "31-02-2024"), None);
        // Digits around the date: not a date.
        assert_eq!(d("YYYYMMDD", "DSC120240715"), None);
        // First valid one wins.
        assert_eq!(
            d("YYYYMMDD", "x_99999999_20230101").as_deref(),
            Some("2023-01-01")
        );
        assert_eq!(DateFormat::all().len(), 10);
        for f in DateFormat::all() {
            let json = serde_json::to_string(&f).expect("json");
            assert_eq!(serde_json::from_str::<DateFormat>(&json).expect("back"), f);
        }
        assert!(serde_json::from_str::<DateFormat>("\"YYYY/MM/DD\"").is_err());
    }

    #[test]
    fn fallback_chain_reports_the_source() {
        let meta = parse_prefix(&field_photo(false), "IMG_1.jpg").expect("meta");
        let r = rules(|r| {
            r.location_name
                .push(folder(-1, Some(r"_([A-Za-z]+)$"), None));
        });
        let f = r.evaluate("Pick/2023-08-20_Boundary/IMG_1.jpg", Some(&meta));
        let d = f.date.expect("date");
        assert_eq!(
            (d.value.date.as_str(), d.source),
            ("2024-07-15", SourceKind::Exif)
        );
        assert_eq!(d.value.time.as_deref(), Some("10:20:30"));
        assert_eq!(
            f.location_name.as_ref().map(|l| l.source),
            Some(SourceKind::Iptc)
        );
        assert_eq!(
            f.photographer.as_ref().map(|p| p.value.as_str()),
            Some("Jane Smith")
        );
        assert_eq!(f.gps.map(|g| g.source), Some(SourceKind::Exif));

        // Without metadata the chain falls back to the names.
        let f = r.evaluate("Pick/2023-08-20_Boundary/IMG_20230821.jpg", None);
        let d = f.date.expect("date");
        assert_eq!(d.source, SourceKind::FolderName);
        assert_eq!(d.value.date, "2023-08-20");
        assert_eq!(d.matched.as_deref(), Some("2023-08-20_Boundary"));
        assert_eq!(
            f.location_name.map(|l| l.value).as_deref(),
            Some("Boundary")
        );
        assert!(f.photographer.is_none() && f.gps.is_none());
        let f = r.evaluate("Pick/nodate/IMG_20230821.jpg", None);
        assert_eq!(
            f.date.map(|d| (d.source, d.value.date)),
            Some((SourceKind::FileName, "2023-08-21".into()))
        );
    }

    #[test]
    fn depths_count_from_both_ends() {
        let (dirs, name) = split_path("Root/2024/07-15/Haro/IMG.jpg");
        assert_eq!(name, "IMG.jpg");
        assert_eq!(segment(&dirs, 0), Some("Root"));
        assert_eq!(segment(&dirs, 2), Some("07-15"));
        assert_eq!(segment(&dirs, -1), Some("Haro"));
        assert_eq!(segment(&dirs, -4), Some("Root"));
        assert_eq!(segment(&dirs, -5), None);
        assert_eq!(segment(&dirs, 4), None);
        let r = rules(|r| {
            r.photographer = vec![
                folder(1, None, None),
                Source::Manual {
                    value: "Unknown_Observer".into(),
                },
            ];
            r.extra = vec![ExtraField {
                name: "vessel".into(),
                sources: vec![file(Some(r"^([A-Z]+)-"), None)],
            }];
        });
        let f = r.evaluate("Root/J_Smith/x/MV-001.jpg", None);
        assert_eq!(
            f.photographer.map(|p| (p.value, p.source)),
            Some(("J Smith".into(), SourceKind::FolderName))
        );
        assert_eq!(f.extra["vessel"].value, "MV");
        let f = r.evaluate("Root/a.jpg", None);
        assert_eq!(
            f.photographer.map(|p| (p.value, p.source)),
            Some(("Unknown Observer".into(), SourceKind::Manual))
        );
        assert!(f.extra.is_empty());
    }

    #[test]
    fn individual_ids_with_separators_and_verifier() {
        let r = rules(|r| {
            r.id_verifier = Some(r"[TGJ]\d{3}[A-Z]?".into());
            r.individuals = vec![
                folder(-1, Some(r"IDs=([^/]+)"), None),
                folder(-1, None, None),
                Source::Iptc,
            ];
        });
        let f = r.evaluate("P/IDs=T002B, T036A;J001 X99/a.jpg", None);
        let ids = f.individuals.expect("ids");
        assert_eq!(ids.value, ["T002B", "T036A", "J001"]);
        assert_eq!(
            f.warnings,
            ["`X99` does not match the population's ID format"]
        );
        // No regex: every verifier match in the segment.
        let f = r.evaluate("P/Survey_2023-08-20_T002B_T036A/a.jpg", None);
        assert_eq!(f.individuals.expect("ids").value, ["T002B", "T036A"]);
        // IPTC: keywords that match, plus matches in the caption.
        let meta = parse_prefix(&field_photo(true), "a.jpg").expect("meta");
        let f = r.evaluate("P/none/a.jpg", Some(&meta));
        let ids = f.individuals.expect("ids");
        assert_eq!(
            (ids.value.as_slice(), ids.source),
            (&["T002B".to_string(), "T036A".into()][..], SourceKind::Iptc)
        );
        assert!(f.warnings.is_empty());
        assert!(r.is_valid_id("G123") && !r.is_valid_id("G12"));
    }

    #[test]
    fn gps_and_manual_values() {
        let r = rules(|r| {
            r.gps = vec![
                Source::Exif,
                folder(-1, Some(r"@(.+)$"), None),
                Source::Manual {
                    value: "48.5, -123.1".into(),
                },
            ];
            r.date = vec![Source::Manual {
                value: "2024-01-02 03:04:05".into(),
            }];
        });
        let f = r.evaluate("P/site@48.6;-123.2/a.jpg", None);
        let g = f.gps.expect("gps");
        assert_eq!(
            (g.value.lat, g.value.lon, g.source),
            (48.6, -123.2, SourceKind::FolderName)
        );
        let f = r.evaluate("P/site@999,0/a.jpg", None);
        assert_eq!(f.gps.map(|g| g.source), Some(SourceKind::Manual));
        assert_eq!(
            f.date.and_then(|d| d.value.time).as_deref(),
            Some("03:04:05")
        );
    }

    #[test]
    fn invalid_rules_are_typed_errors_naming_the_field() {
        let err = |f: fn(&mut FieldRules)| {
            let mut r = FieldRules::default();
            f(&mut r);
            r.compile().expect_err("invalid")
        };
        let e = err(|r| r.location_name.push(folder(0, Some("(unclosed"), None)));
        assert!(
            matches!(
                &e,
                RuleError::InvalidRegex {
                    field: FieldName::LocationName,
                    link: 2,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e
            .to_string()
            .starts_with("location name, source 2: the pattern `(unclosed` is not a valid regex"));
        let e = err(|r| r.photographer.push(file(Some("no group"), None)));
        assert!(matches!(
            e,
            RuleError::NoCaptureGroup {
                field: FieldName::Photographer,
                ..
            }
        ));
        let e = err(|r| r.location_name = vec![Source::Exif]);
        assert_eq!(
            e.to_string(),
            "location name, source 1: EXIF cannot supply the location name"
        );
        let e = err(|r| r.date = vec![folder(0, None, None)]);
        assert!(matches!(e, RuleError::MissingDateFormat { .. }));
        let e = err(|r| r.gps = vec![folder(0, Some("(.*)"), Some("YYYYMMDD"))]);
        assert!(matches!(
            e,
            RuleError::DateFormatNotApplicable {
                field: FieldName::Gps,
                ..
            }
        ));
        let e = err(|r| {
            r.date = vec![Source::Manual {
                value: "2024-02-30".into(),
            }]
        });
        assert!(matches!(e, RuleError::InvalidManualValue { .. }));
        let e = err(|r| r.id_verifier = Some("[".into()));
        assert!(matches!(e, RuleError::InvalidIdVerifier { .. }));
        let e = err(|r| {
            r.extra = vec![
                ExtraField {
                    name: "a".into(),
                    sources: vec![],
                },
                ExtraField {
                    name: "a".into(),
                    sources: vec![],
                },
            ]
        });
        assert!(matches!(e, RuleError::BadExtraFieldName { .. }));
        let e = err(|r| {
            r.extra = vec![ExtraField {
                name: "vessel".into(),
                sources: vec![file(Some("[x"), None)],
            }]
        });
        assert!(e.to_string().starts_with("field “vessel”, source 1"), "{e}");
    }

    #[test]
    fn rules_json_shape() {
        let r = FieldRules::default();
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(
            v["date"][1],
            serde_json::json!({"kind": "folderName", "depth": -1, "regex": null, "dateFormat": "YYYY-MM-DD"})
        );
        assert_eq!(v["photographer"][0], serde_json::json!({"kind": "iptc"}));
        let back: FieldRules = serde_json::from_value(v).expect("back");
        assert_eq!(back, r);
        let m: Source = serde_json::from_str(r#"{"kind":"manual","value":"x"}"#).expect("manual");
        assert_eq!(m, Source::Manual { value: "x".into() });
    }
}
