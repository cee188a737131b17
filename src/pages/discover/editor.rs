//! Manifests on the Discover page (spec §2.3–2.6): create one for a scan and the server's
//! population, edit field rules and the grouping strategy, preview up to 20 sample encounters
//! with thumbnails and coverage, resolve photographers, save versions, revert, approve and
//! materialise. The logic is `finsync_core::manifest`'s; this file holds the editor's state and
//! carries out its components' intents.

use std::collections::BTreeMap;

use finsync_core::grouping::{
    coverage, group, Confidence, EncounterDraft, GroupOptions, ScannedImage, Strategy,
};
use finsync_core::manifest::{
    carry_over, materialize, ApproveError, EncounterRecord, Manifest, ManifestEdits,
    ManifestHistory, ManifestStatus, PhotographerResolution, UserRef,
};
use finsync_core::rules::{FieldRules, Source, Sourced};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::DiscoverState;
use crate::app::AppState;
use crate::discovery::db;
use crate::discovery::model::{new_id, now_iso, ReviewRow, ScanJob, StoredManifest};
use crate::discovery::thumbs::Thumbs;
use crate::store::{Store, StoreError};
use crate::ui::discovery::manifest_list::{ManifestList, ManifestRow};
use crate::ui::discovery::photographers::{PhotographerRow, Photographers, UserHit};
use crate::ui::discovery::preview::{Preview, PreviewCard, PreviewData, PreviewField};
use crate::ui::discovery::source_chain::{RuleField, SourceChain};
use crate::ui::discovery::strategy::StrategyEditor;
use crate::ui::discovery::versions::{VersionRow, Versions};

/// Who approves, as recorded in a version (the browser has no signed-in user of its own).
const APPROVER: &str = "this browser";
/// Sample encounters in the preview.
const SAMPLES: usize = 20;
/// Thumbnails per sample.
const THUMBS_PER_CARD: usize = 4;

/// After a re-scan of a folder: manifests on the previous scan move to the new one.
pub async fn follow_rescan(store: &Store, previous: &str, next: &str) -> Result<(), StoreError> {
    for mut m in db::manifests(store).await? {
        if m.scan_job_id == previous {
            m.scan_job_id = next.to_string();
            db::put_manifest(store, &m).await?;
        }
    }
    Ok(())
}

/// "New manifest" on a scan: the manifest section creates it.
pub fn new_manifest(s: DiscoverState, job: ScanJob) {
    s.manifest_request.set(Some(job));
}

/// The images a manifest can group: the scan's usable files.
async fn usable_images(store: &Store, job_id: &str) -> Result<Vec<ScannedImage>, StoreError> {
    Ok(db::job_files(store, job_id)
        .await?
        .iter()
        .filter(|f| f.usable())
        .map(|f| f.scanned_image())
        .collect())
}

fn chain_mut(rules: &mut FieldRules, field: RuleField) -> &mut Vec<Source> {
    match field {
        RuleField::Date => &mut rules.date,
        RuleField::Location => &mut rules.location_name,
        RuleField::Gps => &mut rules.gps,
        RuleField::Photographer => &mut rules.photographer,
        RuleField::Individuals => &mut rules.individuals,
    }
}

fn chain_of(rules: &FieldRules, field: RuleField) -> Vec<Source> {
    match field {
        RuleField::Date => rules.date.clone(),
        RuleField::Location => rules.location_name.clone(),
        RuleField::Gps => rules.gps.clone(),
        RuleField::Photographer => rules.photographer.clone(),
        RuleField::Individuals => rules.individuals.clone(),
    }
}

fn source_text<T>(s: &Sourced<T>) -> String {
    match &s.matched {
        Some(m) => format!("{} “{m}”", s.source),
        None => s.source.to_string(),
    }
}

fn card(d: &EncounterDraft, images: &[ScannedImage]) -> PreviewCard {
    let field = |name, v: Option<(String, String)>| PreviewField {
        name,
        required: name != "Individuals",
        source: v.as_ref().map(|x| x.1.clone()),
        value: v.map(|x| x.0),
    };
    PreviewCard {
        key: d.key.clone(),
        label: d.label.clone(),
        confidence: d.confidence,
        reasons: d.reasons.clone(),
        fields: vec![
            field(
                "Date",
                d.date.as_ref().map(|x| {
                    let v = match &x.value.time {
                        Some(t) => format!("{} {t}", x.value.date),
                        None => x.value.date.clone(),
                    };
                    (v, source_text(x))
                }),
            ),
            field(
                "Location",
                d.location_name
                    .as_ref()
                    .map(|x| (x.value.clone(), source_text(x))),
            ),
            field(
                "GPS",
                d.gps.as_ref().map(|x| {
                    (
                        format!("{:.5}, {:.5}", x.value.lat, x.value.lon),
                        source_text(x),
                    )
                }),
            ),
            field(
                "Photographer",
                d.photographer
                    .as_ref()
                    .map(|x| (x.value.clone(), source_text(x))),
            ),
            field(
                "Individuals",
                d.individuals
                    .as_ref()
                    .map(|x| (x.value.join(", "), source_text(x))),
            ),
        ],
        image_count: d.images.len(),
        thumbs: d
            .images
            .iter()
            .take(THUMBS_PER_CARD)
            .filter_map(|&i| images.get(i).map(|m| m.relative_path.clone()))
            .collect(),
    }
}

/// The preview of `images` under the editor's rules, and every raw photographer name with its
/// image count. Groups exactly as materialisation will (resolved aliases never split).
fn compute_preview(
    images: &[ScannedImage],
    rules: &FieldRules,
    strategy: &Strategy,
    resolutions: &BTreeMap<String, PhotographerResolution>,
) -> Result<(PreviewData, Vec<(String, usize)>), String> {
    let compiled = rules.compile().map_err(|e| e.to_string())?;
    let opts = GroupOptions {
        photographer_keys: resolutions
            .iter()
            .filter_map(|(raw, r)| Some((raw.clone(), r.identity()?)))
            .collect(),
    };
    let g = group(images, &compiled, strategy, &opts).map_err(|e| e.to_string())?;
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for f in &g.fields {
        if let Some(p) = &f.photographer {
            *names.entry(p.value.clone()).or_default() += 1;
        }
    }
    let n = g.drafts.len();
    let picks: Vec<usize> = if n <= SAMPLES {
        (0..n).collect()
    } else {
        (0..SAMPLES).map(|i| i * n / SAMPLES).collect()
    };
    let mut colours = [0; 3];
    for d in &g.drafts {
        colours[match d.confidence {
            Confidence::Green => 0,
            Confidence::Yellow => 1,
            Confidence::Red => 2,
        }] += 1;
    }
    Ok((
        PreviewData {
            images: images.len(),
            coverage: coverage(&g.drafts),
            colours,
            cards: picks.iter().map(|&i| card(&g.drafts[i], images)).collect(),
        },
        names.into_iter().collect(),
    ))
}

fn status_text(s: &ManifestStatus) -> String {
    match s {
        ManifestStatus::Draft => "Draft".into(),
        ManifestStatus::Approved { by, at } => format!(
            "Approved by {by} at {}",
            at.replace('T', " ").chars().take(16).collect::<String>()
        ),
    }
}

/// The editor's state (signals only, so `Copy`).
#[derive(Clone, Copy)]
struct Editor {
    store: RwSignal<Option<Store>, LocalStorage>,
    app: AppState,
    manifests: RwSignal<Vec<StoredManifest>>,
    current: RwSignal<Option<StoredManifest>>,
    images: StoredValue<Vec<ScannedImage>>,
    image_count: RwSignal<usize>,
    rules: RwSignal<FieldRules>,
    strategy: RwSignal<Strategy>,
    resolutions: RwSignal<BTreeMap<String, PhotographerResolution>>,
    default_photographer: RwSignal<Option<UserRef>>,
    names: RwSignal<Vec<(String, usize)>>,
    preview: RwSignal<Option<PreviewData>>,
    problem: RwSignal<Option<String>>,
    message: RwSignal<Option<String>>,
    hits: RwSignal<(String, Vec<UserHit>)>,
    search_error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    thumbs: Thumbs,
}

impl Editor {
    fn reload(self) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match db::manifests(&st).await {
                Ok(m) => self.manifests.set(m),
                Err(e) => self.app.error.set(Some(e.to_string())),
            }
        });
    }

    /// Loads the latest version of `m` into the editor.
    fn load_version(self, m: &StoredManifest) {
        let latest = m.history.latest();
        self.rules.set(latest.rules.clone());
        self.strategy.set(latest.strategy.clone());
        self.resolutions.set(latest.photographers.clone());
        self.default_photographer
            .set(latest.default_photographer.clone());
        self.current.set(Some(m.clone()));
    }

    fn dirty(self) -> bool {
        self.current.with(|c| {
            c.as_ref().is_some_and(|m| {
                let l = m.history.latest();
                self.rules.with(|r| *r != l.rules)
                    || self.strategy.with(|s| *s != l.strategy)
                    || self.resolutions.with(|r| *r != l.photographers)
                    || self
                        .default_photographer
                        .with(|d| *d != l.default_photographer)
            })
        })
    }

    fn open(self, id: String) {
        let Some(m) = self
            .manifests
            .with_untracked(|ms| ms.iter().find(|m| m.id == id).cloned())
        else {
            return;
        };
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        self.thumbs.clear();
        self.preview.set(None);
        self.names.set(Vec::new());
        self.problem.set(None);
        self.message.set(None);
        self.load_version(&m);
        self.busy.set(true);
        spawn_local(async move {
            match usable_images(&st, &m.scan_job_id).await {
                Ok(images) => {
                    self.image_count.set(images.len());
                    self.images.set_value(images);
                    self.run_preview();
                }
                Err(e) => self.app.error.set(Some(e.to_string())),
            }
            self.busy.set(false);
        });
    }

    fn create(self, job: ScanJob) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        // The status bar's population (the only one when this browser has one ready key).
        let Some(pop) = self.app.upload_population() else {
            self.app.error.set(Some(
                "A manifest belongs to a population: this browser has no ready API key. Sign in under Settings and open the Sync page, or paste a key in Settings."
                    .into(),
            ));
            return;
        };
        let id = new_id("manifest");
        let first = match Manifest::new(
            id.clone(),
            pop.id,
            job.id.clone(),
            FieldRules::default(),
            Strategy::Folder { depth: 1 },
            now_iso(),
        ) {
            Ok(m) => m,
            Err(e) => {
                self.app.error.set(Some(e.to_string()));
                return;
            }
        };
        let n = self
            .manifests
            .with_untracked(|ms| ms.iter().filter(|m| m.folder == job.folder).count())
            + 1;
        let m = StoredManifest {
            id: id.clone(),
            name: if n == 1 {
                format!("{} manifest", job.folder)
            } else {
                format!("{} manifest {n}", job.folder)
            },
            population_id: pop.id,
            population_name: pop.name,
            scan_job_id: job.id,
            folder: job.folder,
            created_at: now_iso(),
            history: ManifestHistory::new(first),
            materialized_version: None,
            materialized_job_id: None,
            materialized_at: None,
        };
        spawn_local(async move {
            if let Err(e) = db::put_manifest(&st, &m).await {
                self.app.error.set(Some(e.to_string()));
                return;
            }
            self.manifests.update(|ms| ms.insert(0, m));
            self.open(id);
        });
    }

    fn run_preview(self) {
        let result = self.images.with_value(|images| {
            compute_preview(
                images,
                &self.rules.get_untracked(),
                &self.strategy.get_untracked(),
                &self.resolutions.get_untracked(),
            )
        });
        self.thumbs.clear();
        match result {
            Ok((data, names)) => {
                self.problem.set(None);
                self.preview.set(Some(data));
                self.names.set(names);
            }
            Err(e) => {
                self.preview.set(None);
                self.problem.set(Some(e));
            }
        }
    }

    /// Writes `m` and shows it.
    fn persist(self, m: StoredManifest, message: String) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match db::put_manifest(&st, &m).await {
                Ok(()) => {
                    self.manifests.update(|ms| {
                        if let Some(x) = ms.iter_mut().find(|x| x.id == m.id) {
                            *x = m.clone();
                        }
                    });
                    self.current.set(Some(m));
                    self.message.set(Some(message));
                }
                Err(e) => self.app.error.set(Some(e.to_string())),
            }
        });
    }

    fn save(self) {
        let Some(mut m) = self.current.get_untracked() else {
            return;
        };
        if !self.dirty() {
            self.message
                .set(Some("Nothing changed since the latest version.".into()));
            return;
        }
        let from = m.history.latest().version;
        let edits = ManifestEdits {
            rules: Some(self.rules.get_untracked()),
            strategy: Some(self.strategy.get_untracked()),
            photographers: self.resolutions.get_untracked(),
            default_photographer: Some(self.default_photographer.get_untracked()),
        };
        match m.history.save(from, edits, &now_iso()) {
            Ok(v) => {
                let text = format!(
                    "Saved as v{}: {}.",
                    v.version,
                    if v.changes.is_empty() {
                        "no changes".to_string()
                    } else {
                        v.changes
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                );
                self.problem.set(None);
                self.persist(m, text);
            }
            Err(e) => self.problem.set(Some(e.to_string())),
        }
    }

    fn revert(self, to: u32) {
        let Some(mut m) = self.current.get_untracked() else {
            return;
        };
        match m.history.revert(to, &now_iso()) {
            Ok(v) => {
                let text = format!("v{} holds the rules of v{to}.", v.version);
                self.load_version(&m);
                self.persist(m, text);
                self.run_preview();
            }
            Err(e) => self.problem.set(Some(e.to_string())),
        }
    }

    fn approve(self, v: u32) {
        let Some(mut m) = self.current.get_untracked() else {
            return;
        };
        if self.dirty() && v == m.history.latest().version {
            self.problem.set(Some(
                "Save your changes first: approval applies to a saved version.".into(),
            ));
            return;
        }
        let result = self.images.with_value(|images| {
            m.history
                .approve(v, APPROVER, &now_iso(), images)
                .map(|_| ())
        });
        match result {
            Ok(()) => {
                self.problem.set(None);
                self.persist(m, format!("v{v} approved. Materialise it to review its encounters."));
            }
            Err(ApproveError::UnresolvedPhotographers { names }) => self.problem.set(Some(format!(
                "v{v} cannot be approved: {} photographer name(s) are unresolved: {}. Resolve, create or reject each below, save, then approve.",
                names.len(),
                names.join(", ")
            ))),
            Err(e) => self.problem.set(Some(e.to_string())),
        }
    }

    fn to_draft(self, v: u32) {
        let Some(mut m) = self.current.get_untracked() else {
            return;
        };
        match m.history.to_draft(v) {
            Ok(_) => self.persist(m, format!("v{v} is a draft again.")),
            Err(e) => self.problem.set(Some(e.to_string())),
        }
    }

    fn materialize(self, v: u32) {
        let (Some(mut m), Some(st)) = (self.current.get_untracked(), self.store.get_untracked())
        else {
            return;
        };
        let Some(version) = m.history.get(v).cloned() else {
            return;
        };
        let result = self
            .images
            .with_value(|images| materialize(&version, images));
        let mut records = match result {
            Ok(r) => r,
            Err(e) => {
                self.problem.set(Some(e.to_string()));
                return;
            }
        };
        self.busy.set(true);
        spawn_local(async move {
            let outcome = async {
                let old: Vec<EncounterRecord> = db::records(&st, &m.id)
                    .await?
                    .into_iter()
                    .map(|r| r.record)
                    .collect();
                carry_over(&mut records, &old);
                let rows: Vec<ReviewRow> = records.into_iter().map(ReviewRow::new).collect();
                m.materialized_version = Some(v);
                m.materialized_job_id = Some(m.scan_job_id.clone());
                m.materialized_at = Some(now_iso());
                db::replace_records(&st, &m, &rows).await?;
                Ok::<usize, StoreError>(rows.len())
            }
            .await;
            self.busy.set(false);
            match outcome {
                Ok(n) => {
                    let id = m.id.clone();
                    self.manifests.update(|ms| {
                        if let Some(x) = ms.iter_mut().find(|x| x.id == m.id) {
                            *x = m.clone();
                        }
                    });
                    self.current.set(Some(m));
                    self.message.set(Some(format!(
                        "v{v} materialised: {n} encounter records to review."
                    )));
                    open_review(&id);
                }
                Err(e) => self.app.error.set(Some(e.to_string())),
            }
        });
    }

    fn search(self, key: String, query: String) {
        let s = self.app.settings.get_untracked();
        if s.server_url.is_empty() {
            self.search_error.set(Some(
                "No server configured: type the name and use “Use typed name”.".into(),
            ));
            self.hits.set((key, Vec::new()));
            return;
        }
        // The manifest's population's key: users are those of its organisation.
        let population = self
            .current
            .with_untracked(|m| m.as_ref().map(|m| m.population_id))
            .or_else(|| self.app.upload_population().map(|p| p.id));
        let client = match population.map(|p| self.app.client_for(p)) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                self.search_error.set(Some(format!(
                    "{e} Meanwhile type the name and use “Use typed name”."
                )));
                self.hits.set((key, Vec::new()));
                return;
            }
            None => {
                self.search_error.set(Some(
                    "No API key is ready: type the name and use “Use typed name”.".into(),
                ));
                self.hits.set((key, Vec::new()));
                return;
            }
        };
        spawn_local(async move {
            match client.search_users(&query, 10).await {
                Ok(list) => {
                    self.search_error.set(None);
                    self.hits.set((
                        key,
                        list.users
                            .into_iter()
                            .map(|u| UserHit {
                                user_id: u.id.to_string(),
                                display: format!("{} {}", u.first_name, u.last_name)
                                    .trim()
                                    .to_string(),
                                detail: if u.placeholder_email {
                                    "(no email yet)".into()
                                } else {
                                    u.email
                                },
                            })
                            .collect(),
                    ));
                }
                Err(e) => {
                    self.search_error.set(Some(format!(
                        "User search failed ({e}); type the name and use “Use typed name”."
                    )));
                    self.hits.set((key, Vec::new()));
                }
            }
        });
    }
}

/// Shows the review of a manifest.
pub fn open_review(manifest_id: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_hash(&format!("/review/{manifest_id}"));
    }
}

#[component]
pub fn ManifestSection() -> impl IntoView {
    let d = expect_context::<DiscoverState>();
    let app = expect_context::<AppState>();
    let e = Editor {
        store: d.store,
        app,
        manifests: RwSignal::new(Vec::new()),
        current: RwSignal::new(None),
        images: StoredValue::new(Vec::new()),
        image_count: RwSignal::new(0),
        rules: RwSignal::new(FieldRules::default()),
        strategy: RwSignal::new(Strategy::Folder { depth: 1 }),
        resolutions: RwSignal::new(BTreeMap::new()),
        default_photographer: RwSignal::new(None),
        names: RwSignal::new(Vec::new()),
        preview: RwSignal::new(None),
        problem: RwSignal::new(None),
        message: RwSignal::new(None),
        hits: RwSignal::new(("\u{0}".into(), Vec::new())),
        search_error: RwSignal::new(None),
        busy: RwSignal::new(false),
        thumbs: Thumbs::new(),
    };
    // Manifests once the database is open and after every scan (a re-scan moves them).
    Effect::new(move |_| {
        d.scans_changed.track();
        if d.store.with(Option::is_some) {
            e.reload();
        }
    });
    // The manifest's review page may have changed what is materialised: reload on return.
    Effect::new(move |_| {
        if app.page.get() == crate::pages::Page::Discover {
            e.reload();
        }
    });
    Effect::new(move |_| {
        if let Some(job) = d.manifest_request.get() {
            d.manifest_request.set(None);
            e.create(job);
        }
    });
    on_cleanup(move || e.thumbs.clear());

    let rows = Signal::derive(move || {
        let jobs = d.jobs.get();
        e.manifests.with(|ms| {
            ms.iter()
                .map(|m| ManifestRow {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    folder: m.folder.clone(),
                    scan: jobs
                        .iter()
                        .find(|j| j.id == m.scan_job_id)
                        .map(|j| j.name.clone())
                        .unwrap_or_else(|| "scan deleted".into()),
                    population: m.population_name.clone(),
                    latest: m.history.latest().version,
                    active: m.history.active().map(|v| v.version),
                    materialized: m.materialized_version,
                })
                .collect()
        })
    });
    let selected = Signal::derive(move || e.current.with(|c| c.as_ref().map(|m| m.id.clone())));
    let versions = Signal::derive(move || {
        e.current.with(|c| {
            let Some(m) = c else { return Vec::new() };
            let latest = m.history.latest().version;
            m.history
                .versions()
                .iter()
                .map(|v| VersionRow {
                    version: v.version,
                    created_at: v.created_at.clone(),
                    based_on: v.based_on,
                    status: status_text(&v.status),
                    approved: v.is_approved(),
                    changes: v.changes.iter().map(|c| c.to_string()).collect(),
                    latest: v.version == latest,
                    materialized: m.materialized_version == Some(v.version),
                })
                .collect()
        })
    });
    let phot_rows = Signal::derive(move || {
        let res = e.resolutions.get();
        e.names.with(|names| {
            names
                .iter()
                .map(|(raw, n)| PhotographerRow {
                    raw: raw.clone(),
                    images: *n,
                    resolution: res
                        .get(raw)
                        .cloned()
                        .unwrap_or(PhotographerResolution::Unresolved),
                })
                .collect()
        })
    });
    let dirty = Signal::derive(move || e.dirty());
    let chain = move |field: RuleField| {
        view! {
            <SourceChain
                field=field
                chain=Signal::derive(move || e.rules.with(|r| chain_of(r, field)))
                on_change=Callback::new(move |c: Vec<Source>| {
                    e.rules.update(|r| *chain_mut(r, field) = c)
                })
            />
        }
    };

    view! {
        <ManifestList
            rows=rows
            selected=selected
            on_edit=Callback::new(move |id: String| e.open(id))
            on_review=Callback::new(move |id: String| open_review(&id))
        />
        {move || {
            e.current.get().map(|m| {
                view! {
                    <section class="card" data-testid="manifest-editor" aria-labelledby="editor-heading">
                        <div class="row spread">
                            <h2 id="editor-heading" class="inline">{m.name.clone()}</h2>
                            <button type="button" on:click=move |_| {
                                e.thumbs.clear();
                                e.preview.set(None);
                                e.current.set(None);
                            }>"Close"</button>
                        </div>
                        <p class="muted small">
                            {format!("Population {} · scan {} · ", m.population_name, m.scan_job_id)}
                            {move || format!("{} usable images", e.image_count.get())}
                        </p>
                        <div class="editor-grid">
                            {RuleField::ALL.into_iter().map(chain).collect_view()}
                            <StrategyEditor
                                strategy=e.strategy.into()
                                on_change=Callback::new(move |s: Strategy| e.strategy.set(s))
                            />
                            <div class="chain">
                                <h3>"ID verifier"</h3>
                                <input
                                    type="text"
                                    placeholder="e.g. [TGJ]\\d{3}[A-Z]?"
                                    data-testid="id-verifier"
                                    prop:value=move || e.rules.with(|r| r.id_verifier.clone().unwrap_or_default())
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        e.rules.update(|r| r.id_verifier = Some(v).filter(|v| !v.trim().is_empty()));
                                    }
                                />
                                <p class="muted small">"The population's identifier format; IDs from names must match it."</p>
                            </div>
                        </div>
                        <div class="row">
                            <button type="button" data-testid="preview-button" disabled=move || e.busy.get() on:click=move |_| e.run_preview()>
                                "Preview"
                            </button>
                            <button
                                type="button"
                                class="primary"
                                data-testid="save-manifest"
                                disabled=move || e.busy.get() || !dirty.get()
                                on:click=move |_| e.save()
                            >
                                "Save as new version"
                            </button>
                            {move || dirty.get().then(|| view! { <span class="small reason-yellow" data-testid="unsaved">"unsaved changes"</span> })}
                        </div>
                        {move || e.problem.get().map(|p| view! { <p class="error" role="alert" data-testid="manifest-problem">{p}</p> })}
                        {move || e.message.get().map(|p| view! { <p class="notice" role="status" data-testid="manifest-message">{p}</p> })}
                        <Photographers
                            rows=phot_rows
                            hits=e.hits.into()
                            search_error=e.search_error.into()
                            default_photographer=e.default_photographer.into()
                            on_set=Callback::new(move |(raw, r): (String, PhotographerResolution)| {
                                e.resolutions.update(|m| {
                                    m.insert(raw, r);
                                })
                            })
                            on_search=Callback::new(move |(k, q): (String, String)| e.search(k, q))
                            on_default=Callback::new(move |u: Option<UserRef>| e.default_photographer.set(u))
                        />
                        <Versions
                            rows=versions
                            busy=e.busy.into()
                            on_revert=Callback::new(move |v| e.revert(v))
                            on_approve=Callback::new(move |v| e.approve(v))
                            on_draft=Callback::new(move |v| e.to_draft(v))
                            on_materialize=Callback::new(move |v| e.materialize(v))
                        />
                    </section>
                }
            })
        }}
        <Preview
            data=e.preview.into()
            thumb_url=Callback::new(move |p: String| e.thumbs.url(&p))
            thumb_problem=Callback::new(move |p: String| e.thumbs.problem(&p))
            on_thumb_visible=Callback::new(move |p: String| e.thumbs.show(p))
            on_thumb_hidden=Callback::new(move |p: String| e.thumbs.hide(p))
        />
    }
}
