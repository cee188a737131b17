//! Manifests (spec §2.5–2.6): versioned rules + grouping strategy + photographer resolutions,
//! approval, and materialisation into the encounter records the app keeps in IndexedDB.
//!
//! # Versions
//!
//! A [`ManifestHistory`] holds every version of one manifest. Saving edits or reverting always
//! appends a new version (`max + 1`, status Draft) whose rules, strategy and resolutions never
//! change afterwards; reverting v3 to v1 creates v4 with v1's rules. Only a version's *status*
//! changes: [`ManifestHistory::approve`] records who and when (the time is passed in), and
//! [`ManifestHistory::to_draft`] takes an approval back. Several versions may be approved; the
//! active one is the newest approved ([`ManifestHistory::active`]). Each new version carries a
//! [`diff`] from the version it was made from as its change summary.
//!
//! # Photographers
//!
//! Raw names (as the field rules find them) map to a [`PhotographerResolution`]. Approval fails
//! while any raw name of the scanned images is unresolved or unknown to the manifest, listing
//! them ([`ApproveError::UnresolvedPhotographers`]). The default photographer applies only to
//! encounters where no name was found at all; a rejected name keeps its encounters Incomplete.
//!
//! # Materialisation
//!
//! [`materialize`] groups the images with the approved version's rules and strategy (resolved
//! aliases of one user never split an encounter) and gives one [`EncounterRecord`] per draft,
//! id `"{manifest id}/{draft key}"`. Review status: Incomplete with spec §2.6's reasons when a
//! required value is missing, else Pending. Approving a record also needs a license
//! ([`ReviewError::MissingLicense`]). [`EncounterRecord::refresh`] re-derives Incomplete ↔
//! Pending after an inline edit or a new resolution ([`EncounterRecord::apply_resolutions`]), so
//! fixing the last blocker promotes a record without re-materialising.

use crate::order::{btree_map, btree_set};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::api::Gps;
use crate::grouping::{
    group, Confidence, GroupOptions, GroupingError, Missing, Reason, ScannedImage, Strategy,
};
use crate::normalize::normalize_text;
use crate::rules::{FieldRules, RuleError, Source, SourceKind};

/// A server user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    pub user_id: String,
    pub display: String,
}

/// What a raw photographer name stands for. JSON: `{"status":"resolved","userId":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum PhotographerResolution {
    /// Linked to an existing user.
    Resolved {
        user_id: String,
        display: String,
    },
    /// A user is created during sync.
    CreateOnSync {
        first_name: String,
        last_name: String,
        #[serde(default)]
        email: Option<String>,
    },
    /// Junk or test name: its encounters stay Incomplete.
    Rejected,
    Unresolved,
}

impl PhotographerResolution {
    /// "Create on sync" pre-filled from a raw name: the last word is the last name.
    pub fn create_from(raw: &str) -> PhotographerResolution {
        let words: Vec<&str> = raw.split_whitespace().collect();
        let (first, last) = match words.split_last() {
            Some((last, rest)) if !rest.is_empty() => (rest.join(" "), last.to_string()),
            Some((only, _)) => (only.to_string(), String::new()),
            None => (String::new(), String::new()),
        };
        PhotographerResolution::CreateOnSync {
            first_name: first,
            last_name: last,
            email: None,
        }
    }

    /// The identity grouping compares photographers by (public so a preview groups exactly as
    /// [`materialize`] will).
    pub fn identity(&self) -> Option<String> {
        match self {
            PhotographerResolution::Resolved { user_id, .. } => Some(format!("user:{user_id}")),
            PhotographerResolution::CreateOnSync {
                first_name,
                last_name,
                ..
            } => Some(format!(
                "new:{}",
                normalize_text(&format!("{first_name} {last_name}"))
            )),
            _ => None,
        }
    }
}

impl fmt::Display for PhotographerResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhotographerResolution::Resolved { display, .. } => write!(f, "resolved ({display})"),
            PhotographerResolution::CreateOnSync {
                first_name,
                last_name,
                ..
            } => write!(f, "create on sync ({first_name} {last_name})"),
            PhotographerResolution::Rejected => f.write_str("rejected"),
            PhotographerResolution::Unresolved => f.write_str("unresolved"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ManifestStatus {
    Draft,
    /// `at` is whatever the caller passes (ISO-8601 by convention).
    Approved {
        by: String,
        at: String,
    },
}

/// One version of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Shared by all versions.
    pub id: String,
    pub population_id: i64,
    pub scan_job_id: String,
    /// 1, 2, 3, …
    pub version: u32,
    pub created_at: String,
    /// The version this one was made from (by an edit or a revert).
    pub based_on: Option<u32>,
    /// What changed against `based_on`.
    pub changes: Vec<Change>,
    pub rules: FieldRules,
    pub strategy: Strategy,
    /// Raw name → resolution.
    pub photographers: BTreeMap<String, PhotographerResolution>,
    pub default_photographer: Option<UserRef>,
    pub status: ManifestStatus,
}

/// Edits for a new version; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct ManifestEdits {
    pub rules: Option<FieldRules>,
    pub strategy: Option<Strategy>,
    /// Entries set (added or replaced); names not listed keep their resolution.
    pub photographers: BTreeMap<String, PhotographerResolution>,
    pub default_photographer: Option<Option<UserRef>>,
}

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// E.g. `date`, `grouping`, `photographer “J Smith”`.
    pub what: String,
    pub before: String,
    pub after: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} → {}", self.what, self.before, self.after)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Grouping(#[from] GroupingError),
    #[error("manifest version {0} does not exist")]
    NoSuchVersion(u32),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApproveError {
    #[error("{} photographer name(s) must be resolved, created or rejected first: {}", names.len(), names.join(", "))]
    UnresolvedPhotographers { names: Vec<String> },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MaterializeError {
    #[error("manifest version {0} is not approved")]
    NotApproved(u32),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl Manifest {
    /// Version 1, a draft.
    pub fn new(
        id: impl Into<String>,
        population_id: i64,
        scan_job_id: impl Into<String>,
        rules: FieldRules,
        strategy: Strategy,
        created_at: impl Into<String>,
    ) -> Result<Manifest, ManifestError> {
        rules.compile()?;
        strategy.validate()?;
        Ok(Manifest {
            id: id.into(),
            population_id,
            scan_job_id: scan_job_id.into(),
            version: 1,
            created_at: created_at.into(),
            based_on: None,
            changes: Vec::new(),
            rules,
            strategy,
            photographers: BTreeMap::new(),
            default_photographer: None,
            status: ManifestStatus::Draft,
        })
    }

    pub fn is_approved(&self) -> bool {
        matches!(self.status, ManifestStatus::Approved { .. })
    }

    /// Every raw photographer name the rules find in `images`, sorted.
    pub fn photographer_names(
        &self,
        images: &[ScannedImage],
    ) -> Result<BTreeSet<String>, ManifestError> {
        let rules = self.rules.compile()?;
        Ok(images
            .iter()
            .filter_map(|img| {
                rules
                    .evaluate(&img.relative_path, img.meta.as_ref())
                    .photographer
            })
            .map(|p| p.value)
            .collect())
    }

    /// Names of `images` that block approval: unknown to the manifest or unresolved.
    pub fn unresolved_photographers(
        &self,
        images: &[ScannedImage],
    ) -> Result<Vec<String>, ManifestError> {
        Ok(self
            .photographer_names(images)?
            .into_iter()
            .filter(|n| {
                matches!(
                    self.photographers.get(n),
                    None | Some(PhotographerResolution::Unresolved)
                )
            })
            .collect())
    }

    fn resolution(&self, raw: &str) -> Option<&PhotographerResolution> {
        self.photographers.get(raw)
    }
}

/// All versions of one manifest (never empty; JSON `{"versions":[…]}` with at least one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "HistoryJson")]
pub struct ManifestHistory {
    versions: Vec<Manifest>,
}

#[derive(Deserialize)]
struct HistoryJson {
    versions: Vec<Manifest>,
}

impl TryFrom<HistoryJson> for ManifestHistory {
    type Error = &'static str;
    fn try_from(h: HistoryJson) -> Result<Self, Self::Error> {
        if h.versions.is_empty() {
            return Err("a manifest history needs at least one version");
        }
        Ok(ManifestHistory {
            versions: h.versions,
        })
    }
}

impl ManifestHistory {
    pub fn new(first: Manifest) -> ManifestHistory {
        ManifestHistory {
            versions: vec![first],
        }
    }

    pub fn versions(&self) -> &[Manifest] {
        &self.versions
    }

    pub fn latest(&self) -> &Manifest {
        // Never empty: `new` takes the first version, deserialising rejects an empty list and
        // nothing removes one.
        &self.versions[self.versions.len() - 1]
    }

    pub fn get(&self, version: u32) -> Option<&Manifest> {
        self.versions.iter().find(|m| m.version == version)
    }

    /// The newest approved version.
    pub fn active(&self) -> Option<&Manifest> {
        self.versions.iter().rev().find(|m| m.is_approved())
    }

    fn get_mut(&mut self, version: u32) -> Result<&mut Manifest, ManifestError> {
        self.versions
            .iter_mut()
            .find(|m| m.version == version)
            .ok_or(ManifestError::NoSuchVersion(version))
    }

    fn push(
        &mut self,
        from: &Manifest,
        mut next: Manifest,
        at: &str,
        mut changes: Vec<Change>,
    ) -> &Manifest {
        next.version = self.versions.iter().map(|m| m.version).max().unwrap_or(0) + 1;
        next.based_on = Some(from.version);
        next.created_at = at.to_string();
        next.status = ManifestStatus::Draft;
        changes.extend(diff(from, &next));
        next.changes = changes;
        self.versions.push(next);
        self.latest()
    }

    /// Saves `edits` on top of version `from` as a new draft version.
    pub fn save(
        &mut self,
        from: u32,
        edits: ManifestEdits,
        at: &str,
    ) -> Result<&Manifest, ManifestError> {
        let base = self
            .get(from)
            .ok_or(ManifestError::NoSuchVersion(from))?
            .clone();
        let mut next = base.clone();
        if let Some(r) = edits.rules {
            r.compile()?;
            next.rules = r;
        }
        if let Some(s) = edits.strategy {
            s.validate()?;
            next.strategy = s;
        }
        next.photographers.extend(edits.photographers);
        if let Some(d) = edits.default_photographer {
            next.default_photographer = d;
        }
        Ok(self.push(&base, next, at, Vec::new()))
    }

    /// A new version with the rules, strategy and resolutions of `to`.
    pub fn revert(&mut self, to: u32, at: &str) -> Result<&Manifest, ManifestError> {
        let target = self
            .get(to)
            .ok_or(ManifestError::NoSuchVersion(to))?
            .clone();
        let latest = self.latest().clone();
        let change = Change {
            what: "version".into(),
            before: format!("v{}", latest.version),
            after: format!("rules of v{to}"),
        };
        let mut next = target;
        next.id = latest.id.clone();
        Ok(self.push(&latest, next, at, vec![change]))
    }

    /// Approves `version` as `by` at `at`. Fails if the rules do not compile or any raw
    /// photographer name of `images` is unresolved.
    pub fn approve(
        &mut self,
        version: u32,
        by: &str,
        at: &str,
        images: &[ScannedImage],
    ) -> Result<&Manifest, ApproveError> {
        let m = self.get_mut(version)?;
        m.strategy.validate().map_err(ManifestError::from)?;
        let names = m.unresolved_photographers(images)?;
        if !names.is_empty() {
            return Err(ApproveError::UnresolvedPhotographers { names });
        }
        m.status = ManifestStatus::Approved {
            by: by.to_string(),
            at: at.to_string(),
        };
        Ok(m)
    }

    /// Takes an approval back.
    pub fn to_draft(&mut self, version: u32) -> Result<&Manifest, ManifestError> {
        let m = self.get_mut(version)?;
        m.status = ManifestStatus::Draft;
        Ok(m)
    }
}

fn chain(sources: &[Source]) -> String {
    if sources.is_empty() {
        return "(none)".into();
    }
    sources
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// What differs from `a` to `b`: each field's chain, the ID verifier, extra fields, the
/// grouping strategy, photographer resolutions and the default photographer.
pub fn diff(a: &Manifest, b: &Manifest) -> Vec<Change> {
    let mut out = Vec::new();
    let mut change = |what: String, before: String, after: String| {
        if before != after {
            out.push(Change {
                what,
                before,
                after,
            });
        }
    };
    let (ra, rb) = (&a.rules, &b.rules);
    for (what, x, y) in [
        ("date", &ra.date, &rb.date),
        ("location name", &ra.location_name, &rb.location_name),
        ("GPS", &ra.gps, &rb.gps),
        ("photographer", &ra.photographer, &rb.photographer),
        ("individual IDs", &ra.individuals, &rb.individuals),
    ] {
        change(what.into(), chain(x), chain(y));
    }
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "(none)".into());
    change(
        "ID verifier".into(),
        opt(&ra.id_verifier),
        opt(&rb.id_verifier),
    );
    let extras = |r: &FieldRules| -> BTreeMap<String, String> {
        btree_map(r.extra.iter().map(|x| (x.name.clone(), chain(&x.sources))))
    };
    let (xa, xb) = (extras(ra), extras(rb));
    for name in btree_set(xa.keys().chain(xb.keys())) {
        let get = |m: &BTreeMap<String, String>| {
            m.get(name).cloned().unwrap_or_else(|| "(absent)".into())
        };
        change(format!("field “{name}”"), get(&xa), get(&xb));
    }
    change(
        "grouping".into(),
        a.strategy.to_string(),
        b.strategy.to_string(),
    );
    for name in btree_set(a.photographers.keys().chain(b.photographers.keys())) {
        let get = |m: &BTreeMap<String, PhotographerResolution>| {
            m.get(name)
                .map_or_else(|| "(absent)".into(), |r| r.to_string())
        };
        change(
            format!("photographer “{name}”"),
            get(&a.photographers),
            get(&b.photographers),
        );
    }
    let user = |u: &Option<UserRef>| {
        u.as_ref()
            .map_or_else(|| "(none)".into(), |u| u.display.clone())
    };
    change(
        "default photographer".into(),
        user(&a.default_photographer),
        user(&b.default_photographer),
    );
    out
}

/// The photographer of a record after resolution. JSON: `{"kind":"user",…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum PhotographerAssignment {
    User {
        user_id: String,
        display: String,
    },
    /// The manifest's default photographer (no name was found).
    Default {
        user_id: String,
        display: String,
    },
    CreateOnSync {
        first_name: String,
        last_name: String,
        email: Option<String>,
    },
    Rejected,
    Unresolved,
    /// No name and no default photographer.
    None,
}

impl PhotographerAssignment {
    fn of(
        raw: Option<&str>,
        photographers: &BTreeMap<String, PhotographerResolution>,
        default: Option<&UserRef>,
    ) -> Self {
        match raw {
            Some(raw) => match photographers.get(raw) {
                Some(PhotographerResolution::Resolved { user_id, display }) => {
                    PhotographerAssignment::User {
                        user_id: user_id.clone(),
                        display: display.clone(),
                    }
                }
                Some(PhotographerResolution::CreateOnSync {
                    first_name,
                    last_name,
                    email,
                }) => PhotographerAssignment::CreateOnSync {
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    email: email.clone(),
                },
                Some(PhotographerResolution::Rejected) => PhotographerAssignment::Rejected,
                Some(PhotographerResolution::Unresolved) | None => {
                    PhotographerAssignment::Unresolved
                }
            },
            None => match default {
                Some(u) => PhotographerAssignment::Default {
                    user_id: u.user_id.clone(),
                    display: u.display.clone(),
                },
                None => PhotographerAssignment::None,
            },
        }
    }

    pub fn is_resolved(&self) -> bool {
        matches!(
            self,
            PhotographerAssignment::User { .. }
                | PhotographerAssignment::Default { .. }
                | PhotographerAssignment::CreateOnSync { .. }
        )
    }
}

/// Review status of a record (Pre-Sync Review). JSON: `{"status":"incomplete","reasons":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Denied,
    Incomplete { reasons: Vec<Missing> },
}

/// Licence of a record: the API's type, so what review chose is what find-or-create sends.
pub use crate::api::License;

/// One image of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordImage {
    pub relative_path: String,
    pub size: u64,
    pub last_modified_ms: f64,
    /// Where the bytes are (a manifest can mix folders and containers); records stored
    /// before issue 8 read back as local.
    #[serde(default)]
    pub source: crate::cloud::ImageSource,
}

/// A concrete local encounter, as IndexedDB stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterRecord {
    /// `"{manifest id}/{draft key}"`: stable across re-materialisations of the same inputs.
    pub id: String,
    pub manifest_id: String,
    pub manifest_version: u32,
    pub population_id: i64,
    pub label: String,
    pub images: Vec<RecordImage>,
    /// `YYYY-MM-DD`
    pub date: Option<String>,
    /// `HH:MM:SS` of the first image.
    pub time: Option<String>,
    pub utc_offset: Option<String>,
    pub location_name: Option<String>,
    pub gps: Option<Gps>,
    pub photographer_raw: Option<String>,
    pub photographer: PhotographerAssignment,
    pub known_individuals: Vec<String>,
    pub extra: BTreeMap<String, String>,
    /// Field → source of its value (`date`, `locationName`, `gps`, `photographer`,
    /// `individuals`, extra field names).
    pub sources: BTreeMap<String, SourceKind>,
    pub confidence: Confidence,
    pub reasons: Vec<Reason>,
    pub review: ReviewStatus,
    pub license: Option<License>,
    pub notes: String,
    /// Organisation ids the encounter belongs to (sent with find-or-create; records stored
    /// before this field read back with none).
    #[serde(default)]
    pub organisations: Vec<i64>,
    /// Fields a person changed in review ([`EncounterRecord::mark_edited`]): a
    /// re-materialisation keeps their values ([`carry_over`]).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub edited: BTreeSet<EditedField>,
}

/// A value of a record that review can edit inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EditedField {
    Date,
    Time,
    LocationName,
    Gps,
    Photographer,
    KnownIndividuals,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("cannot approve an incomplete encounter: {}", reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", "))]
    Incomplete { reasons: Vec<Missing> },
    #[error("choose a license before approving")]
    MissingLicense,
    #[error("{count} pending encounter(s) have no license")]
    PendingWithoutLicense { count: usize },
}

impl EncounterRecord {
    /// Required values that are missing (spec §2.6), in the spec's order.
    pub fn missing(&self) -> Vec<Missing> {
        let mut m = Vec::new();
        if self.date.is_none() {
            m.push(Missing::Date);
        }
        if self
            .location_name
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            m.push(Missing::LocationName);
        }
        if self.gps.is_none() {
            m.push(Missing::Gps);
        }
        if !self.photographer.is_resolved() {
            m.push(Missing::Photographer);
        }
        m
    }

    /// Re-derives Incomplete ↔ Pending after an edit: a record with a missing value becomes
    /// Incomplete (unless Denied); an Incomplete record with nothing missing becomes Pending.
    pub fn refresh(&mut self) {
        let missing = self.missing();
        self.review = match (&self.review, missing.is_empty()) {
            (ReviewStatus::Denied, _) => ReviewStatus::Denied,
            (_, false) => ReviewStatus::Incomplete { reasons: missing },
            (ReviewStatus::Incomplete { .. }, true) => ReviewStatus::Pending,
            (other, true) => other.clone(),
        };
    }

    /// Applies (new) photographer resolutions and refreshes the status.
    pub fn apply_resolutions(
        &mut self,
        photographers: &BTreeMap<String, PhotographerResolution>,
        default: Option<&UserRef>,
    ) {
        self.photographer =
            PhotographerAssignment::of(self.photographer_raw.as_deref(), photographers, default);
        self.refresh();
    }

    /// Pending → Approved; needs every required value and a license.
    pub fn approve(&mut self) -> Result<(), ReviewError> {
        let reasons = self.missing();
        if !reasons.is_empty() {
            return Err(ReviewError::Incomplete { reasons });
        }
        if self.license.is_none() {
            return Err(ReviewError::MissingLicense);
        }
        self.review = ReviewStatus::Approved;
        Ok(())
    }

    /// Records that a person set `field` (an inline edit in review): its source becomes
    /// Manual, and a re-materialisation keeps the value ([`carry_over`]).
    pub fn mark_edited(&mut self, field: EditedField) {
        self.edited.insert(field);
        self.sources
            .insert(field.source_key().into(), SourceKind::Manual);
    }

    pub fn deny(&mut self) {
        self.review = ReviewStatus::Denied;
    }

    /// Back to Pending (or Incomplete).
    pub fn reset(&mut self) {
        self.review = ReviewStatus::Pending;
        self.refresh();
    }
}

/// Re-materialising (a new approved version, or the same one again) keeps what review did
/// to records that still exist (same id in `old`): the license, notes, organisations and
/// every inline-edited field ([`EncounterRecord::edited`]) are taken from the old record;
/// other values come from the new rules. An Approved or Denied decision is kept only when
/// the record's images did not change (new images need a new look); an approval that no
/// longer holds (a value went missing) falls back to Pending/Incomplete.
pub fn carry_over(new: &mut [EncounterRecord], old: &[EncounterRecord]) {
    let by_id: BTreeMap<&str, &EncounterRecord> = btree_map(old.iter().map(|r| (r.id.as_str(), r)));
    for r in new {
        let Some(o) = by_id.get(r.id.as_str()) else {
            continue;
        };
        r.license = o.license;
        r.notes = o.notes.clone();
        r.organisations = o.organisations.clone();
        for field in &o.edited {
            match field {
                EditedField::Date => r.date = o.date.clone(),
                EditedField::Time => r.time = o.time.clone(),
                EditedField::LocationName => r.location_name = o.location_name.clone(),
                EditedField::Gps => r.gps = o.gps,
                EditedField::Photographer => {
                    r.photographer_raw = o.photographer_raw.clone();
                    r.photographer = o.photographer.clone();
                }
                EditedField::KnownIndividuals => r.known_individuals = o.known_individuals.clone(),
            }
            r.mark_edited(*field);
        }
        if o.images == r.images && matches!(o.review, ReviewStatus::Approved | ReviewStatus::Denied)
        {
            r.review = o.review.clone();
        }
        r.refresh();
        if r.review == ReviewStatus::Approved && r.approve().is_err() {
            r.review = ReviewStatus::Pending;
            r.refresh();
        }
    }
}

impl EditedField {
    /// The key of [`EncounterRecord::sources`] this field's value is listed under.
    fn source_key(self) -> &'static str {
        match self {
            EditedField::Date | EditedField::Time => "date",
            EditedField::LocationName => "locationName",
            EditedField::Gps => "gps",
            EditedField::Photographer => "photographer",
            EditedField::KnownIndividuals => "individuals",
        }
    }
}

/// "Approve All": approves every Pending record; fails, changing nothing, if any Pending
/// record lacks a license. Returns how many were approved.
pub fn approve_all(records: &mut [EncounterRecord]) -> Result<usize, ReviewError> {
    let pending = || records.iter().filter(|r| r.review == ReviewStatus::Pending);
    let count = pending().filter(|r| r.license.is_none()).count();
    if count > 0 {
        return Err(ReviewError::PendingWithoutLicense { count });
    }
    let mut n = 0;
    for r in records
        .iter_mut()
        .filter(|r| r.review == ReviewStatus::Pending)
    {
        if r.approve().is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// The encounter records of an approved manifest version.
pub fn materialize(
    manifest: &Manifest,
    images: &[ScannedImage],
) -> Result<Vec<EncounterRecord>, MaterializeError> {
    if !manifest.is_approved() {
        return Err(MaterializeError::NotApproved(manifest.version));
    }
    let rules = manifest.rules.compile().map_err(ManifestError::from)?;
    let opts = GroupOptions {
        photographer_keys: manifest
            .photographers
            .iter()
            .filter_map(|(raw, r)| Some((raw.clone(), r.identity()?)))
            .collect(),
    };
    let grouping = group(images, &rules, &manifest.strategy, &opts).map_err(ManifestError::from)?;
    let records = grouping
        .drafts
        .into_iter()
        .map(|d| {
            let mut sources = BTreeMap::new();
            let mut note = |k: &str, s: Option<SourceKind>| {
                if let Some(s) = s {
                    sources.insert(k.to_string(), s);
                }
            };
            note("date", d.date.as_ref().map(|x| x.source));
            note("locationName", d.location_name.as_ref().map(|x| x.source));
            note("gps", d.gps.as_ref().map(|x| x.source));
            note("photographer", d.photographer.as_ref().map(|x| x.source));
            note("individuals", d.individuals.as_ref().map(|x| x.source));
            for (k, v) in &d.extra {
                sources.insert(k.clone(), v.source);
            }
            let raw = d.photographer.as_ref().map(|p| p.value.clone());
            let photographer = PhotographerAssignment::of(
                raw.as_deref(),
                &manifest.photographers,
                manifest.default_photographer.as_ref(),
            );
            let mut reasons = d.reasons;
            if let Some(PhotographerResolution::Rejected) =
                raw.as_deref().and_then(|r| manifest.resolution(r))
            {
                reasons.push(Reason {
                    level: Confidence::Red,
                    text: "photographer name was rejected".into(),
                });
            }
            if let (None, PhotographerAssignment::Default { display, .. }) = (&raw, &photographer) {
                // The draft said "missing photographer"; the default fills it.
                reasons.retain(|r| r.text != "missing photographer");
                reasons.push(Reason {
                    level: Confidence::Yellow,
                    text: format!("default photographer ({display})"),
                });
            }
            let confidence = reasons
                .iter()
                .map(|r| r.level)
                .max()
                .unwrap_or(Confidence::Green);
            let mut rec = EncounterRecord {
                id: format!("{}/{}", manifest.id, d.key),
                manifest_id: manifest.id.clone(),
                manifest_version: manifest.version,
                population_id: manifest.population_id,
                label: d.label,
                images: d
                    .images
                    .iter()
                    .map(|&i| RecordImage {
                        relative_path: images[i].relative_path.clone(),
                        size: images[i].size,
                        last_modified_ms: images[i].last_modified_ms,
                        source: images[i].source.clone(),
                    })
                    .collect(),
                date: d.date.as_ref().map(|x| x.value.date.clone()),
                time: d.date.as_ref().and_then(|x| x.value.time.clone()),
                utc_offset: d.date.as_ref().and_then(|x| x.value.utc_offset.clone()),
                location_name: d.location_name.map(|x| x.value),
                gps: d.gps.map(|x| x.value),
                photographer_raw: raw,
                photographer,
                known_individuals: d.individuals.map(|x| x.value).unwrap_or_default(),
                extra: btree_map(d.extra.into_iter().map(|(k, v)| (k, v.value))),
                sources,
                confidence,
                reasons,
                review: ReviewStatus::Pending,
                license: None,
                notes: String::new(),
                organisations: Vec::new(),
                edited: BTreeSet::new(),
            };
            rec.refresh();
            rec
        })
        .collect();
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{parse_prefix, testdata::field_photo};

    fn images() -> Vec<ScannedImage> {
        let m = parse_prefix(&field_photo(false), "a.jpg").expect("meta");
        let mut no_artist = m.clone();
        no_artist.photographers.clear();
        let mut other = m.clone();
        other
            .photographers
            .retain(|c| c.source != crate::metadata::PhotographerSource::IptcByline);
        other.photographers[0].name = "JS".into();
        let img = |p: &str, meta: &crate::metadata::ImageMeta| ScannedImage {
            relative_path: p.into(),
            size: 10,
            last_modified_ms: 1.0,
            meta: Some(meta.clone()),
            source: Default::default(),
        };
        vec![
            img("Pick/A/1.jpg", &m),
            img("Pick/A/2.jpg", &other),
            img("Pick/B/1.jpg", &no_artist),
            img("Pick/C/1.jpg", &m),
        ]
    }

    fn history() -> ManifestHistory {
        let m = Manifest::new(
            "m1",
            7,
            "scan1",
            FieldRules::default(),
            Strategy::Folder { depth: 1 },
            "t0",
        )
        .expect("manifest");
        ManifestHistory::new(m)
    }

    fn jane() -> PhotographerResolution {
        PhotographerResolution::Resolved {
            user_id: "42".into(),
            display: "Jane Smith".into(),
        }
    }

    #[test]
    fn versions_are_appended_and_revert_makes_a_new_one() {
        let mut h = history();
        let v2 = h
            .save(
                1,
                ManifestEdits {
                    strategy: Some(Strategy::TimeProximity {
                        window_minutes: 60,
                        radius_km: 1.0,
                    }),
                    ..ManifestEdits::default()
                },
                "t1",
            )
            .expect("v2");
        assert_eq!((v2.version, v2.based_on), (2, Some(1)));
        assert_eq!(
            v2.changes[0].to_string(),
            "grouping: folder at depth 1 → time proximity (60 min, 1 km)"
        );
        let mut rules = FieldRules::default();
        rules.date.truncate(1);
        h.save(
            2,
            ManifestEdits {
                rules: Some(rules),
                ..ManifestEdits::default()
            },
            "t2",
        )
        .expect("v3");
        let v4 = h.revert(1, "t3").expect("v4");
        assert_eq!(v4.version, 4);
        assert_eq!(v4.rules, FieldRules::default());
        assert_eq!(v4.strategy, Strategy::Folder { depth: 1 });
        let what: Vec<&str> = v4.changes.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(what, ["version", "date", "grouping"]);
        assert_eq!(h.versions().len(), 4);
        assert_eq!(
            h.get(1).map(|m| m.strategy.clone()),
            Some(Strategy::Folder { depth: 1 })
        );
        // Invalid rules are not saved.
        let mut bad = FieldRules::default();
        bad.photographer.push(Source::FileName {
            regex: Some("(".into()),
            date_format: None,
        });
        let e = h.save(
            4,
            ManifestEdits {
                rules: Some(bad),
                ..ManifestEdits::default()
            },
            "t4",
        );
        assert!(matches!(
            e,
            Err(ManifestError::Rules(RuleError::InvalidRegex { .. }))
        ));
        assert!(matches!(
            h.revert(9, "t"),
            Err(ManifestError::NoSuchVersion(9))
        ));
        assert_eq!(h.versions().len(), 4);
    }

    #[test]
    fn approval_lists_unresolved_photographers() {
        let imgs = images();
        let mut h = history();
        let e = h.approve(1, "ann", "t1", &imgs).expect_err("unresolved");
        assert_eq!(
            e,
            ApproveError::UnresolvedPhotographers {
                names: vec!["JS".into(), "Jane Smith".into()]
            }
        );
        assert_eq!(
            e.to_string(),
            "2 photographer name(s) must be resolved, created or rejected first: JS, Jane Smith"
        );
        let edits = ManifestEdits {
            photographers: [
                ("Jane Smith".to_string(), jane()),
                ("JS".to_string(), PhotographerResolution::Unresolved),
            ]
            .into(),
            ..ManifestEdits::default()
        };
        h.save(1, edits, "t2").expect("v2");
        assert!(h.approve(2, "ann", "t3", &imgs).is_err());
        let v3 = h
            .save(
                2,
                ManifestEdits {
                    photographers: [("JS".to_string(), jane())].into(),
                    ..ManifestEdits::default()
                },
                "t4",
            )
            .expect("v3");
        assert_eq!(
            v3.changes[0].to_string(),
            "photographer “JS”: unresolved → resolved (Jane Smith)"
        );
        let v3 = h.approve(3, "ann", "t5", &imgs).expect("approved");
        assert_eq!(
            v3.status,
            ManifestStatus::Approved {
                by: "ann".into(),
                at: "t5".into()
            }
        );
        assert_eq!(h.active().map(|m| m.version), Some(3));
        h.to_draft(3).expect("draft");
        assert!(h.active().is_none());
        let json = serde_json::to_value(&h).expect("json");
        assert_eq!(
            json["versions"][1]["photographers"]["Jane Smith"]["status"],
            "resolved"
        );
        let back: ManifestHistory = serde_json::from_value(json).expect("back");
        assert_eq!(back, h);
        assert!(serde_json::from_str::<ManifestHistory>(r#"{"versions":[]}"#).is_err());
    }

    #[test]
    fn materialize_resolves_and_reports_completeness() {
        let imgs = images();
        let mut h = history();
        assert!(matches!(
            materialize(h.latest(), &imgs),
            Err(MaterializeError::NotApproved(1))
        ));
        let edits = ManifestEdits {
            photographers: [
                ("Jane Smith".to_string(), jane()),
                ("JS".to_string(), jane()),
            ]
            .into(),
            ..ManifestEdits::default()
        };
        h.save(1, edits, "t1").expect("v2");
        let m = h.approve(2, "ann", "t2", &imgs).expect("approve").clone();
        let mut recs = materialize(&m, &imgs).expect("records");
        assert_eq!(recs.len(), 3);
        // Folder A: "Jane Smith" and "JS" are one user: not split.
        let a = &recs[0];
        assert_eq!(a.id, "m1/folder:Pick/A");
        assert_eq!(a.images.len(), 2);
        assert_eq!(
            a.photographer,
            PhotographerAssignment::User {
                user_id: "42".into(),
                display: "Jane Smith".into()
            }
        );
        assert_eq!(a.review, ReviewStatus::Pending);
        assert_eq!(a.sources["date"], SourceKind::Exif);
        assert_eq!(a.known_individuals, ["T002B", "T036A"]);
        // Folder B: no name, no default photographer.
        let b = &recs[1];
        assert_eq!(
            b.review,
            ReviewStatus::Incomplete {
                reasons: vec![Missing::Photographer]
            }
        );
        // Review actions.
        assert_eq!(recs[0].clone().approve(), Err(ReviewError::MissingLicense));
        assert!(matches!(
            approve_all(&mut recs),
            Err(ReviewError::PendingWithoutLicense { count: 2 })
        ));
        recs[0].license = Some(License::PublicAttribution);
        recs[2].license = Some(License::Public);
        assert_eq!(approve_all(&mut recs), Ok(2));
        assert_eq!(recs[0].review, ReviewStatus::Approved);
        // A default photographer promotes B without re-materialising.
        let default = UserRef {
            user_id: "1".into(),
            display: "Field Team".into(),
        };
        recs[1].apply_resolutions(&m.photographers, Some(&default));
        assert_eq!(recs[1].review, ReviewStatus::Pending);
        // Clearing a field makes it Incomplete; fixing it promotes it back.
        recs[1].gps = None;
        recs[1].refresh();
        assert_eq!(
            recs[1].review,
            ReviewStatus::Incomplete {
                reasons: vec![Missing::Gps]
            }
        );
        recs[1].gps = Some(Gps {
            lat: 48.5,
            lon: -123.1,
        });
        recs[1].refresh();
        assert_eq!(recs[1].review, ReviewStatus::Pending);
        recs[1].deny();
        recs[1].location_name = None;
        recs[1].refresh();
        assert_eq!(recs[1].review, ReviewStatus::Denied);
        let v = serde_json::to_value(&recs[1]).expect("json");
        assert_eq!(v["review"], serde_json::json!({"status": "denied"}));
        assert_eq!(v["photographer"]["kind"], "default");
        let back: EncounterRecord = serde_json::from_value(v).expect("back");
        assert_eq!(back, recs[1]);
    }

    #[test]
    fn records_keep_each_image_source_so_a_manifest_can_mix_them() {
        let mut imgs = images();
        let blob = crate::cloud::ImageSource::Azure(crate::cloud::BlobRef {
            connection_id: "conn-1".into(),
            container: "Pick".into(),
            blob: "A/2.jpg".into(),
        });
        imgs[1].source = blob.clone();
        let mut h = history();
        let edits = ManifestEdits {
            photographers: [
                ("Jane Smith".to_string(), jane()),
                ("JS".to_string(), jane()),
            ]
            .into(),
            ..ManifestEdits::default()
        };
        h.save(1, edits, "t1").expect("v2");
        let m = h.approve(2, "ann", "t2", &imgs).expect("approve").clone();
        let recs = materialize(&m, &imgs).expect("records");
        let a = &recs[0];
        let sources: Vec<_> = a.images.iter().map(|i| i.source.clone()).collect();
        assert_eq!(sources, vec![crate::cloud::ImageSource::Local, blob]);
        // Records stored before issue 8 (no `source`) read back as local.
        let mut json = serde_json::to_value(a).expect("json");
        json["images"][1]
            .as_object_mut()
            .expect("image")
            .remove("source");
        let old: EncounterRecord = serde_json::from_value(json).expect("old record");
        assert_eq!(old.images[1].source, crate::cloud::ImageSource::Local);
    }

    #[test]
    fn rejected_names_stay_incomplete_and_create_on_sync_prefills() {
        let imgs = images();
        let mut h = history();
        let edits = ManifestEdits {
            photographers: [
                (
                    "Jane Smith".to_string(),
                    PhotographerResolution::create_from("Jane  van Smith"),
                ),
                ("JS".to_string(), PhotographerResolution::Rejected),
            ]
            .into(),
            default_photographer: Some(Some(UserRef {
                user_id: "1".into(),
                display: "Team".into(),
            })),
            ..ManifestEdits::default()
        };
        h.save(1, edits, "t1").expect("v2");
        let m = h.approve(2, "ann", "t2", &imgs).expect("approve").clone();
        assert_eq!(
            m.photographers["Jane Smith"],
            PhotographerResolution::CreateOnSync {
                first_name: "Jane van".into(),
                last_name: "Smith".into(),
                email: None
            }
        );
        let recs = materialize(&m, &imgs).expect("records");
        // Folder A now splits: a created user and a rejected name are different people.
        assert_eq!(recs.len(), 4);
        let rejected = recs
            .iter()
            .find(|r| r.photographer == PhotographerAssignment::Rejected)
            .expect("rejected");
        assert_eq!(
            rejected.review,
            ReviewStatus::Incomplete {
                reasons: vec![Missing::Photographer]
            }
        );
        let b = recs.iter().find(|r| r.id == "m1/folder:Pick/B").expect("B");
        assert!(matches!(
            b.photographer,
            PhotographerAssignment::Default { .. }
        ));
        assert_eq!(b.review, ReviewStatus::Pending);
        assert_eq!(b.confidence, Confidence::Yellow, "{:?}", b.reasons);
    }

    #[test]
    fn rematerialising_keeps_inline_edits_of_records_that_still_exist() {
        let mut imgs = images();
        let mut h = history();
        let edits = ManifestEdits {
            photographers: [
                ("Jane Smith".to_string(), jane()),
                ("JS".to_string(), jane()),
            ]
            .into(),
            ..ManifestEdits::default()
        };
        h.save(1, edits, "t1").expect("v2");
        let v2 = h.approve(2, "ann", "t2", &imgs).expect("approve").clone();
        let mut old = materialize(&v2, &imgs).expect("records");
        // Review: folder A gets every inline edit and is approved; C is only approved.
        let a = &mut old[0];
        assert_eq!(a.id, "m1/folder:Pick/A");
        a.date = Some("2024-08-01".into());
        a.mark_edited(EditedField::Date);
        a.location_name = Some("Lime Kiln".into());
        a.mark_edited(EditedField::LocationName);
        a.gps = Some(Gps {
            lat: 48.516,
            lon: -123.152,
        });
        a.mark_edited(EditedField::Gps);
        a.known_individuals = vec!["T100".into()];
        a.mark_edited(EditedField::KnownIndividuals);
        a.notes = "two calves".into();
        a.license = Some(License::Public);
        a.organisations = vec![3];
        a.approve().expect("approve A");
        old[2].license = Some(License::PublicAttribution);
        old[2].approve().expect("approve C");
        let json = serde_json::to_value(&old[0]).expect("json");
        assert_eq!(
            json["edited"],
            serde_json::json!(["date", "locationName", "gps", "knownIndividuals"])
        );
        assert_eq!(
            serde_json::from_value::<EncounterRecord>(json).expect("back"),
            old[0]
        );

        // v3 takes GPS from a typed value instead of EXIF; a new photo lands in folder C.
        let rules = FieldRules {
            gps: vec![Source::Manual {
                value: "48.6, -123.2".into(),
            }],
            ..FieldRules::default()
        };
        h.save(
            2,
            ManifestEdits {
                rules: Some(rules),
                ..ManifestEdits::default()
            },
            "t3",
        )
        .expect("v3");
        imgs.push(ScannedImage {
            relative_path: "Pick/C/2.jpg".into(),
            ..imgs[3].clone()
        });
        let v3 = h
            .approve(3, "ann", "t4", &imgs)
            .expect("approve v3")
            .clone();
        let mut new = materialize(&v3, &imgs).expect("records");
        let fresh = new.clone();
        carry_over(&mut new, &old);
        let a = &new[0];
        assert_eq!(a.manifest_version, 3);
        assert_eq!(a.date.as_deref(), Some("2024-08-01"));
        assert_eq!(a.location_name.as_deref(), Some("Lime Kiln"));
        assert_eq!(
            a.gps,
            Some(Gps {
                lat: 48.516,
                lon: -123.152
            }),
            "the edit beats the new rule"
        );
        assert_eq!(a.known_individuals, ["T100"]);
        assert_eq!(
            (a.notes.as_str(), a.license, a.organisations.as_slice()),
            ("two calves", Some(License::Public), &[3][..])
        );
        assert_eq!(a.sources["gps"], SourceKind::Manual);
        assert_eq!(
            a.review,
            ReviewStatus::Approved,
            "same images: the decision stays"
        );
        // Values nobody edited follow the new rules.
        assert_eq!(a.time, fresh[0].time);
        let c = new.iter().find(|r| r.id == "m1/folder:Pick/C").expect("C");
        assert_eq!(
            c.gps,
            Some(Gps {
                lat: 48.6,
                lon: -123.2
            })
        );
        assert_eq!(c.license, Some(License::PublicAttribution));
        assert_eq!(c.images.len(), 2);
        assert_eq!(
            c.review,
            ReviewStatus::Pending,
            "new images need a new look"
        );
        // Without the old records nothing is carried.
        let mut again = fresh.clone();
        carry_over(&mut again, &[]);
        assert_eq!(again, fresh);
    }
}
