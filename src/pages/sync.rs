//! The Sync page: a card per population this browser has a key for (its key status, counts
//! and Reset; keys are provisioned when the page opens, [`crate::keys`]), the encounters that need
//! attention (Partial, Failed, Conflict), the expandable per-image statuses, the folder to
//! upload, the run's progress (images, bytes, throughput, ETA, current encounter) with
//! Pause/Resume/Cancel, errors grouped by encounter with Retry, Copy and CSV, and the banner
//! that resumes an interrupted sync. It carries out the intents its components emit through
//! the adapters and the sync driver.
//!
//! At start it reads only the stored aggregates (`populationCounts`, `encounterSummary`), so it
//! renders as fast with 100,000 images as with ten; an encounter's plan and image statuses are
//! loaded when a sync needs them, when it has errors to list, or when its images are opened.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use finsync_core::api::{KeyStatus, PopulationRef};
use finsync_core::engine::{
    Config, EncounterStatus, ImageStatus, Outcome, Persist, Plan, Progress, RunState, SkipReason,
    Step, SyncStore,
};
use futures::channel::mpsc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::activity::{self, Category};
use crate::api::Client;
use crate::app::AppState;
use crate::discovery::{self, ApprovedManifest};
use crate::files::{self, Picked};
use crate::store::{EncounterSummary, PopulationCounts, StoredEncounter};
use crate::sync::driver::FileSource;
use crate::sync::driver::{self, Control, Observer};
use crate::sync::lock;
use crate::sync::plan::{
    folder_date, legacy_folder_id, plan_folder, quick_upload_id, quick_upload_id_on, PickedFiles,
    ScanFiles,
};
use crate::sync::timer::now_ms;
use crate::ui::connection::Connection;
use crate::ui::encounter_state::{AttentionItem, EncounterAttention, EncounterState};
use crate::ui::error_list::{
    problems_csv, problems_text, Copied, EncounterProblems, ErrorList, ImageProblem,
};
use crate::ui::file_table::{status_detail, FileRow, FileTable};
use crate::ui::folder_picker::FolderPicker;
use crate::ui::image_status_list::{EncounterImages, ImageStatusList};
use crate::ui::manifest_rows::{ManifestRow, ManifestRows};
use crate::ui::population_card::{Counts, PopulationCard};
use crate::ui::resume_banner::{Interrupted, ResumeBanner};
use crate::ui::upload_panel::{RunProgress, RunSummary, UploadPanel};

/// Asks the browser to warn before the tab is closed, for as long as it lives.
struct LeaveGuard(Closure<dyn FnMut(web_sys::BeforeUnloadEvent)>);

impl LeaveGuard {
    fn new() -> Option<LeaveGuard> {
        let cb = Closure::<dyn FnMut(web_sys::BeforeUnloadEvent)>::new(
            |ev: web_sys::BeforeUnloadEvent| {
                ev.prevent_default();
                ev.set_return_value("A sync is running. It will resume when you come back.");
            },
        );
        web_sys::window()?
            .add_event_listener_with_callback("beforeunload", cb.as_ref().unchecked_ref())
            .ok()?;
        Some(LeaveGuard(cb))
    }
}

impl Drop for LeaveGuard {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            let _ = w.remove_event_listener_with_callback(
                "beforeunload",
                self.0.as_ref().unchecked_ref(),
            );
        }
    }
}

/// The Sync page's state. Every field is a signal, so handlers copy it freely.
#[derive(Clone, Copy)]
struct Page {
    app: AppState,
    picked: RwSignal<Option<Picked>, LocalStorage>,
    /// Per population: what the card counts (`None` until read).
    counts: RwSignal<Option<Vec<PopulationCounts>>>,
    /// Every planned encounter in brief.
    summaries: RwSignal<Vec<EncounterSummary>>,
    /// Aggregates are being re-read; `true` in the second field when another read is due.
    refreshing: StoredValue<(bool, bool)>,
    /// Plans loaded so far: the running sync's, those with errors to list, those opened.
    encounters: RwSignal<Vec<StoredEncounter>>,
    /// Image statuses of the loaded plans (live while syncing).
    sync: RwSignal<SyncStore>,
    busy: RwSignal<bool>,
    phase: RwSignal<String>,
    progress: RwSignal<RunProgress>,
    summary: RwSignal<Option<RunSummary>>,
    control: StoredValue<Option<mpsc::UnboundedSender<Control>>, LocalStorage>,
    /// Folders whose handle IndexedDB remembers (File System Access only).
    reopenable: RwSignal<HashSet<String>>,
    /// Approved manifests with their approved encounters (discovery).
    manifests: RwSignal<Vec<ApprovedManifest>>,
    /// Ensure Individuals progress or result per manifest id.
    ensure: RwSignal<HashMap<String, String>>,
    /// What the last "Copy errors" did.
    copied: RwSignal<Option<Copied>>,
}

/// What a sync run syncs.
enum Target {
    /// A picked folder, planned as one encounter.
    Folder(Picked),
    /// The approved encounters of an approved manifest.
    Manifest(ApprovedManifest),
    /// Planned encounters read back from IndexedDB whose images left to send are all in Azure
    /// storage (copied by the server), so no folder is needed: resuming or retrying a sync of
    /// a cloud manifest whose version is no longer the approved one.
    Stored {
        label: String,
        encounters: Vec<StoredEncounter>,
    },
}

/// Whether syncing `encounters` needs a local folder: some image not yet complete or skipped
/// (by `state`) is a local file. Azure-sourced images are copied by the server, so a cloud
/// manifest syncs without any folder open in this tab.
fn needs_local_files(encounters: &[StoredEncounter], state: &SyncStore) -> bool {
    encounters.iter().any(|e| {
        e.plan.images.iter().any(|i| {
            !i.source.is_azure()
                && !state
                    .encounters
                    .get(&e.local_id)
                    .and_then(|r| r.images.get(&i.local_id))
                    .is_some_and(ImageStatus::is_settled)
        })
    })
}

impl Page {
    fn send(self, c: Control) {
        self.control.with_value(|tx| {
            if let Some(tx) = tx {
                let _ = tx.unbounded_send(c);
            }
        });
    }

    /// Re-reads the aggregates, at most one read at a time (a change during a read asks for
    /// one more), then loads the plans of encounters that have errors to list.
    fn refresh(self) {
        let (busy, _) = self.refreshing.get_value();
        if busy {
            self.refreshing.set_value((true, true));
            return;
        }
        self.refreshing.set_value((true, false));
        spawn_local(async move {
            loop {
                self.read_aggregates().await;
                let (_, again) = self.refreshing.get_value();
                if !again {
                    break;
                }
                self.refreshing.set_value((true, false));
            }
            self.refreshing.set_value((false, false));
        });
    }

    async fn read_aggregates(self) {
        let Some(st) = self.app.store.get_untracked() else {
            return;
        };
        // The counts first, on their own: one record per population, so the card shows them
        // before the (longer) list of encounter summaries is read.
        match st.population_counts().await {
            Ok(c) => self.counts.set(Some(c)),
            Err(e) => return self.app.error.set(Some(e.to_string())),
        }
        match st.summaries().await {
            Ok(s) => {
                let with_errors: Vec<String> = s
                    .iter()
                    .filter(|s| s.failed > 0 || s.skipped > 0)
                    .map(|s| s.local_id.clone())
                    .collect();
                self.summaries.set(s);
                self.load(with_errors).await;
            }
            Err(e) => self.app.error.set(Some(e.to_string())),
        }
    }

    /// Loads the plans and stored statuses of the given encounters that are not loaded yet.
    async fn load(self, ids: Vec<String>) {
        let Some(st) = self.app.store.get_untracked() else {
            return;
        };
        let missing: Vec<String> = self.encounters.with_untracked(|encs| {
            ids.into_iter()
                .filter(|id| !encs.iter().any(|e| &e.local_id == id))
                .collect()
        });
        if missing.is_empty() {
            return;
        }
        let mut plans = Vec::new();
        for id in &missing {
            match st.encounter(id).await {
                Ok(Some(e)) => plans.push(e),
                Ok(None) => {}
                Err(e) => return self.app.error.set(Some(e.to_string())),
            }
        }
        match st.sync_state_of(&missing).await {
            Ok(state) => {
                self.sync.update(|s| {
                    for (id, record) in state.encounters {
                        s.encounters.entry(id).or_insert(record);
                    }
                });
                self.encounters.update(|encs| {
                    for p in plans {
                        if !encs.iter().any(|e| e.local_id == p.local_id) {
                            encs.push(p);
                        }
                    }
                });
            }
            Err(e) => self.app.error.set(Some(e.to_string())),
        }
    }

    fn status(self, encounter: &str, image: &str) -> Option<ImageStatus> {
        self.sync.with(|s| {
            s.encounters
                .get(encounter)
                .and_then(|e| e.images.get(image))
                .cloned()
        })
    }

    /// Starts a sync of the picked folder.
    fn start(self) {
        if let Some(picked) = self.picked.get_untracked() {
            self.start_target(Target::Folder(picked));
        }
    }

    /// The population a sync of `target` goes to: a manifest's own; a folder synced before
    /// stays in its population (its encounter is resumed), a new one goes to the status bar's
    /// population.
    fn population_of(self, target: &Target) -> Option<i64> {
        match target {
            Target::Manifest(m) => Some(m.population_id),
            Target::Stored { encounters, .. } => encounters.first().map(|e| e.population_id),
            Target::Folder(picked) => self.folder_target(picked).map(|(_, p)| p),
        }
    }

    /// The local id and population a quick upload of `picked` goes to: the status bar's
    /// population ([`quick_upload_id`]), except that an unfinished sync of this folder (same
    /// name and date) in another population resumes there, and an encounter an earlier build
    /// stored under the folder's name alone keeps its id and population.
    fn folder_target(self, picked: &Picked) -> Option<(String, i64)> {
        let legacy = legacy_folder_id(picked);
        let date = folder_date(picked);
        let stored = self.summaries.with_untracked(|ss| {
            ss.iter()
                .find(|s| s.local_id == legacy)
                .or_else(|| {
                    ss.iter().find(|s| {
                        s.left() > 0
                            && s.local_id
                                == quick_upload_id_on(&date, &picked.root, s.population_id)
                    })
                })
                .map(|s| (s.local_id.clone(), s.population_id))
        });
        match stored {
            Some(found) => Some(found),
            None => {
                let population = self.app.upload_population()?.id;
                Some((
                    quick_upload_id_on(&date, &picked.root, population),
                    population,
                ))
            }
        }
    }

    /// The local id of a quick upload of `picked` into `population_id` (see
    /// [`Self::folder_target`]).
    fn folder_id(self, picked: &Picked, population_id: i64) -> String {
        match self.folder_target(picked) {
            Some((id, p)) if p == population_id => id,
            _ => quick_upload_id(picked, population_id),
        }
    }

    /// Shows the stored state of the picked folder's encounter, if it has one.
    async fn load_picked(self) {
        let id = self
            .picked
            .with_untracked(|p| p.as_ref().and_then(|p| self.folder_target(p)))
            .map(|(id, _)| id);
        if let Some(id) = id {
            self.load(vec![id]).await;
        }
    }

    /// Starts a sync, if the population's key is ready and no other tab syncs.
    fn start_target(self, target: Target) {
        let app = self.app;
        let Some(store) = app.store.get_untracked() else {
            return;
        };
        let Some(population) = self.population_of(&target) else {
            app.error.set(Some(
                "No API key is ready: sign in under Settings and open the Sync page, or paste a key in Settings.".into(),
            ));
            return;
        };
        // Every call of the run carries this population's own key.
        let client = match app.client_for(population) {
            Ok(c) => c,
            Err(e) => {
                app.error.set(Some(e));
                return;
            }
        };
        ask_notification_permission();
        self.busy.set(true);
        app.error.set(None);
        self.summary.set(None);
        self.progress.set(RunProgress::default());
        spawn_local(async move {
            let Some(_lock) = lock::try_acquire().await else {
                app.error.set(Some(
                    "Another tab of finsync is syncing right now. Let it finish, or close it and try again here."
                        .into(),
                ));
                self.busy.set(false);
                return;
            };
            let _leave_guard = LeaveGuard::new();
            let started = now_ms();
            run(self, store, target, population, client).await;
            self.refresh();
            self.control.set_value(None);
            self.busy.set(false);
            if now_ms().saturating_sub(started) > 60_000 {
                notify_done(self.summary.get_untracked());
            }
        });
    }
}

fn ask_notification_permission() {
    if web_sys::Notification::permission() == web_sys::NotificationPermission::Default {
        let _ = web_sys::Notification::request_permission();
    }
}

fn notify_done(summary: Option<RunSummary>) {
    if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return;
    }
    let Some(s) = summary else { return };
    let opts = web_sys::NotificationOptions::new();
    opts.set_body(&format!(
        "{} uploaded, {} already on the server, {} failed.",
        s.uploaded, s.already_complete, s.failed
    ));
    let _ = web_sys::Notification::new_with_options("finsync: sync finished", &opts);
}

/// The approved manifest an encounter belongs to (`None` for a quick folder upload).
fn manifest_of(local_id: &str) -> Option<String> {
    (!local_id.starts_with("folder:"))
        .then(|| local_id.split('/').next().unwrap_or_default().to_string())
}

/// Puts `text` on the clipboard (`navigator.clipboard.writeText`, looked up at run time).
async fn write_clipboard(text: &str) -> bool {
    use js_sys::{Function, Promise, Reflect};
    let Some(w) = web_sys::window() else {
        return false;
    };
    let Ok(clipboard) = Reflect::get(&w.navigator(), &"clipboard".into()) else {
        return false;
    };
    let Ok(write) = Reflect::get(&clipboard, &"writeText".into()) else {
        return false;
    };
    let Some(write) = write.dyn_ref::<Function>() else {
        return false;
    };
    match write.call1(&clipboard, &text.into()) {
        Ok(p) => match p.dyn_into::<Promise>() {
            Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

#[component]
pub fn SyncPage() -> impl IntoView {
    let app = expect_context::<AppState>();
    let page = Page {
        app,
        picked: RwSignal::new_local(None),
        counts: RwSignal::new(None),
        summaries: RwSignal::new(Vec::new()),
        refreshing: StoredValue::new((false, false)),
        encounters: RwSignal::new(Vec::new()),
        sync: RwSignal::new(SyncStore::default()),
        busy: RwSignal::new(false),
        phase: RwSignal::new(String::new()),
        progress: RwSignal::new(RunProgress::default()),
        summary: RwSignal::new(None),
        control: StoredValue::new_local(None),
        reopenable: RwSignal::new(HashSet::new()),
        manifests: RwSignal::new(Vec::new()),
        ensure: RwSignal::new(HashMap::new()),
        copied: RwSignal::new(None),
    };
    // Approved manifests, whenever the page is shown (they are made on the Discover page).
    Effect::new(move |_| {
        let shown = app.page.get() == crate::pages::Page::Sync;
        if let (true, Some(st)) = (shown, app.store.get()) {
            spawn_local(async move {
                match discovery::approved_manifests(&st).await {
                    Ok(m) => page.manifests.set(m),
                    Err(e) => app.error.set(Some(e.to_string())),
                }
            });
        }
    });
    Effect::new(move |_| app.syncing.set(page.busy.get()));
    // Opening the page (spec §3.1, as finwave does): with a live sign-in, a key is provisioned
    // for each population the person may sync and this browser has none for. Runs again when
    // the server is reached or the person signs in while the page is open.
    Effect::new(move |_| {
        let shown = app.page.get() == crate::pages::Page::Sync;
        let reachable = matches!(app.connection.get(), Connection::Reachable { .. });
        let signed_in = app.current_session().is_some();
        if shown && reachable && signed_in && app.store.with(Option::is_some) {
            app.provision_missing();
        }
    });

    // Load this page's stored state once the database is open: the aggregates (counts and
    // encounter summaries, never every image), then which folders can be reopened without
    // asking.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(s) = app.store.get() else {
            return false;
        };
        spawn_local(async move {
            page.read_aggregates().await;
            if files::has_directory_picker() {
                let folders: HashSet<String> = page
                    .summaries
                    .with_untracked(|ss| ss.iter().map(|s| s.folder.clone()).collect());
                let mut known = HashSet::new();
                for root in folders {
                    if let Ok(Some(_)) = s.handle(&root).await {
                        known.insert(root);
                    }
                }
                page.reopenable.set(known);
            }
        });
        true
    });

    // A concurrency change in Settings applies to a running sync at once.
    Effect::new(move |_| {
        let n = app.settings.with(|s| s.concurrency);
        page.send(Control::Concurrency(n));
    });

    let interrupted = Signal::derive(move || {
        let reopen = page.reopenable.get();
        page.summaries.with(|ss| {
            ss.iter().find_map(|s| {
                let left = s.left() as usize;
                (left > 0).then(|| Interrupted {
                    can_reopen: reopen.contains(&s.folder),
                    folder: s.folder.clone(),
                    left,
                    total: s.images as usize,
                    manifest: manifest_of(&s.local_id),
                })
            })
        })
    });

    // Resume an interrupted sync by itself when the setting allows and the browser still
    // grants access to the folder (no prompt at page load).
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(i) = interrupted.get() else {
            return false;
        };
        let population = page.summaries.with_untracked(|ss| {
            ss.iter()
                .find(|s| s.folder == i.folder && s.left() > 0)
                .map(|s| s.population_id)
        });
        let ready = population.is_some_and(|p| app.ready_populations().iter().any(|r| r.id == p));
        if !ready
            || !i.can_reopen
            || i.manifest.is_some()
            || !app.settings.with_untracked(|s| s.auto_resume)
        {
            return false;
        }
        let Some(st) = app.store.get_untracked() else {
            return false;
        };
        spawn_local(async move {
            if let Ok(Some(h)) = st.handle(&i.folder).await {
                if let Some(p) = files::reopen_if_granted(h.unchecked_into()).await {
                    page.picked.set(Some(p));
                    page.phase.set("Resuming the interrupted sync…".into());
                    page.start();
                }
            }
        });
        true
    });

    // One card per population this browser has a key for; one card for everything stored
    // while there is none. A card's counts, manifests, encounters and errors are its
    // population's (`None`: all).
    let counts = move |population: Option<i64>| {
        Signal::derive(move || {
            page.counts.with(|rows| {
                rows.as_ref().map(|rows| {
                    let mut c = Counts::default();
                    for r in rows
                        .iter()
                        .filter(|r| population.is_none_or(|p| p == r.population_id))
                    {
                        c.encounters_pending += r.encounters_pending as usize;
                        c.encounters_synced += r.encounters_synced as usize;
                        c.images_pending += r.images_pending as usize;
                        c.images_synced += r.images_synced as usize;
                    }
                    c
                })
            })
        })
    };
    let state_of = |s: &EncounterSummary| EncounterState::of(&s.status, s.conflict, s.is_synced());
    let ours = |population: Option<i64>, of: i64| population.is_none_or(|p| p == of);
    let attention = move |population: Option<i64>| {
        Signal::derive(move || {
            page.summaries.with(|ss| {
                ss.iter()
                    .filter(|s| ours(population, s.population_id))
                    .filter_map(|s| {
                        let state = state_of(s);
                        state.advice().map(|_| AttentionItem {
                            local_id: s.local_id.clone(),
                            label: s.label.clone(),
                            state,
                            complete: s.complete,
                            images: s.images,
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    let image_lists = move |population: Option<i64>| {
        Signal::derive(move || {
            page.encounters.with(|encs| {
                page.summaries.with(|ss| {
                    ss.iter()
                        .filter(|s| ours(population, s.population_id))
                        .map(|s| EncounterImages {
                            local_id: s.local_id.clone(),
                            label: s.label.clone(),
                            state: state_of(s),
                            complete: s.complete,
                            images: s.images,
                            rows: encs.iter().find(|e| e.local_id == s.local_id).map(|e| {
                                e.plan
                                    .images
                                    .iter()
                                    .zip(&e.sources)
                                    .map(|(img, src)| FileRow {
                                        path: src.relative_path.clone(),
                                        size: img.size,
                                        status: page.status(&e.local_id, &img.local_id),
                                    })
                                    .collect()
                            }),
                        })
                        .collect::<Vec<_>>()
                })
            })
        })
    };
    let on_load_images = Callback::new(move |id: String| spawn_local(page.load(vec![id])));

    let problems = move |population: Option<i64>| {
        Signal::derive(move || {
            page.encounters.with(|encs| {
                encs.iter()
                    .filter(|e| ours(population, e.population_id))
                    .filter_map(|e| {
                        let mut g = EncounterProblems {
                            encounter: e.label(),
                            state: page.sync.with(|s| {
                                match s.encounters.get(&e.local_id).map(|r| &r.status) {
                                    Some(EncounterStatus::Partial) => "partial",
                                    Some(EncounterStatus::Failed { .. }) => "failed",
                                    _ => "",
                                }
                            }),
                            actionable: Vec::new(),
                            skipped: Vec::new(),
                        };
                        for (img, src) in e.plan.images.iter().zip(&e.sources) {
                            let status = page.status(&e.local_id, &img.local_id);
                            let problem = ImageProblem::new(
                                src.relative_path.clone(),
                                status_detail(&status).unwrap_or_default(),
                            );
                            match status {
                                Some(ImageStatus::Failed { .. }) => g.actionable.push(problem),
                                // Missing or changed files are worth acting on too: select the
                                // folder again.
                                Some(ImageStatus::Skipped {
                                    reason:
                                        SkipReason::SourceMissing { .. }
                                        | SkipReason::SourceChanged { .. },
                                }) => g.actionable.push(problem),
                                Some(ImageStatus::Skipped { .. }) => g.skipped.push(problem),
                                _ => {}
                            }
                        }
                        (!g.actionable.is_empty() || !g.skipped.is_empty()).then_some(g)
                    })
                    .collect::<Vec<_>>()
            })
        })
    };

    let on_choose = Callback::new(move |_| {
        spawn_local(async move {
            page.phase.set("Reading the folder…".into());
            match files::pick_directory().await {
                Ok((p, handle)) => {
                    page.phase.set(String::new());
                    if let Some(st) = app.store.get_untracked() {
                        if st.save_handle(&p.root, &handle).await.is_ok() {
                            page.reopenable.update(|r| {
                                r.insert(p.root.clone());
                            });
                        }
                    }
                    page.picked.set(Some(p));
                    page.load_picked().await;
                }
                Err(files::PickError::Cancelled) => page.phase.set(String::new()),
                Err(e) => {
                    page.phase.set(String::new());
                    app.error.set(Some(e.to_string()));
                }
            }
        });
    });
    let on_file_list = UnsyncCallback::new(move |list: web_sys::FileList| {
        page.picked.set(Some(files::from_file_list(&list)));
        spawn_local(page.load_picked());
    });
    let on_upload = Callback::new(move |_| page.start());
    let resume_manifest: StoredValue<Option<Callback<String>>> = StoredValue::new(None);
    let reopen_and_start = move |folder: String| {
        let Some(st) = app.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let handle = match st.handle(&folder).await {
                Ok(Some(h)) => h,
                _ => {
                    app.error.set(Some(format!(
                        "Select the folder “{folder}” again to continue."
                    )));
                    return;
                }
            };
            page.phase.set("Opening the folder again…".into());
            match files::reopen(handle.unchecked_into()).await {
                Ok(p) => {
                    page.phase.set(String::new());
                    page.picked.set(Some(p));
                    page.start();
                }
                Err(e) => {
                    page.phase.set(String::new());
                    app.error.set(Some(e.to_string()));
                }
            }
        });
    };
    let on_resume = Callback::new(move |_| match interrupted.get_untracked() {
        Some(Interrupted {
            manifest: Some(id), ..
        }) => {
            if let Some(sync) = resume_manifest.get_value() {
                sync.run(id);
            }
        }
        Some(i) => reopen_and_start(i.folder),
        None => {}
    });
    let on_retry = move |population: Option<i64>| {
        Callback::new(move |_: ()| {
            // Retry = sync again: the engine re-sends only what is not Complete. Encounters with
            // failed images first, then those with skipped ones (missing or changed files).
            let failed = page.summaries.with_untracked(|ss| {
                let mut ss = ss.iter().filter(|s| ours(population, s.population_id));
                ss.clone()
                    .find(|s| s.failed > 0)
                    .or_else(|| ss.find(|s| s.skipped > 0))
                    .map(|s| (s.folder.clone(), manifest_of(&s.local_id)))
            });
            let Some((folder, manifest)) = failed else {
                return;
            };
            if let Some(id) = manifest {
                if let Some(sync) = resume_manifest.get_value() {
                    sync.run(id);
                }
                return;
            }
            if page
                .picked
                .with_untracked(|p| p.as_ref().is_some_and(|p| p.root == folder))
            {
                page.start();
            } else if page.reopenable.with_untracked(|r| r.contains(&folder)) {
                reopen_and_start(folder);
            } else {
                app.error.set(Some(format!(
                    "Select the folder “{folder}” again below, then press Retry or Upload."
                )));
            }
        })
    };
    let on_reset = move |population: Option<i64>| {
        Callback::new(move |_: ()| {
            let Some(st) = app.store.get_untracked() else {
                return;
            };
            spawn_local(async move {
                match st.reset(population).await {
                    Ok(n) => {
                        activity::log(
                            &st,
                            Category::Sync,
                            "Reset",
                            &format!("{n} encounters back to pending"),
                            true,
                        )
                        .await;
                        // Loaded statuses are stale now: drop them; they load again when needed.
                        page.encounters.set(Vec::new());
                        page.sync.set(SyncStore::default());
                        page.copied.set(None);
                        page.summary.set(None);
                        page.refresh();
                        page.load_picked().await;
                    }
                    Err(e) => app.error.set(Some(e.to_string())),
                }
            });
        })
    };
    // Sync of an approved manifest: its folder must be readable in this tab (opened on the
    // Discover page, or reconnected here through its remembered handle).
    let on_sync_manifest = Callback::new(move |id: String| {
        let manifest = page
            .manifests
            .with_untracked(|ms| ms.iter().find(|m| m.manifest_id == id).cloned());
        let Some(st) = app.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let Some(m) = manifest else {
                // No approved version of it any more: what was planned from it can still be
                // finished when it needs no folder (Azure-sourced images only).
                let ids: Vec<String> = page.summaries.with_untracked(|ss| {
                    ss.iter()
                        .filter(|s| manifest_of(&s.local_id).as_deref() == Some(id.as_str()))
                        .map(|s| s.local_id.clone())
                        .collect()
                });
                let mut encounters = Vec::new();
                for local_id in &ids {
                    if let Ok(Some(e)) = st.encounter(local_id).await {
                        encounters.push(e);
                    }
                }
                let state = st.sync_state_of(&ids).await.unwrap_or_default();
                if encounters.is_empty() || needs_local_files(&encounters, &state) {
                    app.error.set(Some(format!(
                        "The manifest “{id}” has no approved version any more: approve it again on the Discover page, then press Sync."
                    )));
                    return;
                }
                page.start_target(Target::Stored {
                    label: id,
                    encounters,
                });
                return;
            };
            let ids: Vec<String> = m.encounters.iter().map(|e| e.local_id.clone()).collect();
            let state = st.sync_state_of(&ids).await.unwrap_or_default();
            let folder_needed = needs_local_files(&m.encounters, &state);
            if folder_needed && discovery::access::get(&m.folder).is_none() {
                let handle = match st.handle(&m.folder).await {
                    Ok(Some(h)) => h,
                    _ => {
                        app.error.set(Some(format!(
                            "The folder “{}” is not open in this tab: open it again on the Discover page (Reconnect), then press Sync.",
                            m.folder
                        )));
                        return;
                    }
                };
                let handle: web_sys::FileSystemDirectoryHandle = handle.unchecked_into();
                let descriptor = web_sys::FileSystemHandlePermissionDescriptor::new();
                descriptor.set_mode(web_sys::FileSystemPermissionMode::Read);
                let granted = wasm_bindgen_futures::JsFuture::from(
                    handle.request_permission_with_descriptor(&descriptor),
                )
                .await
                .ok()
                .and_then(|v| v.as_string())
                .is_some_and(|v| v == "granted");
                if !granted {
                    app.error.set(Some(format!(
                        "Permission to read “{}” was not granted; open the folder on the Discover page.",
                        m.folder
                    )));
                    return;
                }
                discovery::access::register(discovery::walk::FolderSource::Handle(handle));
            }
            page.start_target(Target::Manifest(m));
        });
    });
    // Ensure Individuals: create on the server the individuals the manifest names, in chunks
    // so the row shows progress.
    let on_ensure = Callback::new(move |id: String| {
        let Some(m) = page
            .manifests
            .with_untracked(|ms| ms.iter().find(|m| m.manifest_id == id).cloned())
        else {
            return;
        };
        let client = match app.client_for(m.population_id) {
            Ok(c) => c,
            Err(e) => {
                page.ensure.update(|r| {
                    r.insert(id.clone(), e);
                });
                return;
            }
        };
        spawn_local(async move {
            let ids = m.individual_ids.clone();
            let (mut existed, mut created, mut failed) = (0u64, 0u64, 0u64);
            let mut problems = Vec::new();
            for (i, chunk) in ids.chunks(20).enumerate() {
                page.ensure.update(|e| {
                    e.insert(
                        id.clone(),
                        format!(
                            "{} / {} -- {}",
                            (i * 20).min(ids.len()),
                            ids.len(),
                            chunk.first().cloned().unwrap_or_default()
                        ),
                    );
                });
                match client.ensure_individuals(chunk).await {
                    Ok(r) => {
                        existed += r.counts.existed;
                        created += r.counts.created;
                        failed += r.counts.failed;
                        problems.extend(r.results.iter().filter_map(|x| {
                            x.error.as_ref().map(|e| format!("{}: {}", x.id, e.message))
                        }));
                    }
                    Err(e) => {
                        failed += chunk.len() as u64;
                        problems.push(e.to_string());
                    }
                }
            }
            let summary = if created == 0 && failed == 0 {
                "All individuals already exist on the server.".to_string()
            } else {
                format!(
                    "{} individuals found, {existed} already existed, {created} created, {failed} failed{}",
                    ids.len(),
                    if problems.is_empty() { String::new() } else { format!(": {}", problems.join("; ")) }
                )
            };
            if let Some(st) = app.store.get_untracked() {
                activity::log(
                    &st,
                    Category::Sync,
                    "Ensure Individuals",
                    &summary,
                    failed == 0,
                )
                .await;
            }
            page.ensure.update(|e| {
                e.insert(id, summary);
            });
        });
    });
    resume_manifest.set_value(Some(on_sync_manifest));
    let manifest_rows = move |population: Option<i64>| {
        Signal::derive(move || {
            let ensure = page.ensure.get();
            page.manifests.with(|ms| {
                ms.iter()
                    .filter(|m| ours(population, m.population_id))
                    .map(|m| ManifestRow {
                        manifest_id: m.manifest_id.clone(),
                        version: m.version,
                        scan_job_name: m.scan_job_name.clone(),
                        encounters: m.encounter_count,
                        images: m.image_count,
                        individuals: m.individual_ids.len(),
                        ensure: ensure.get(&m.manifest_id).cloned(),
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    let on_copy = move |population: Option<i64>| {
        Callback::new(move |_: ()| {
            let groups = problems(population).get_untracked();
            let text = problems_text(&groups);
            let n = groups
                .iter()
                .map(|g| g.actionable.len() + g.skipped.len())
                .sum();
            spawn_local(async move {
                let copied = if write_clipboard(&text).await {
                    Copied::Clipboard(n)
                } else {
                    Copied::Fallback(text)
                };
                page.copied.set(Some(copied));
            });
        })
    };
    let on_export = move |population: Option<i64>| {
        Callback::new(move |_: ()| {
            crate::pages::download(
                "finsync-errors.csv",
                "text/csv",
                &problems_csv(&problems(population).get_untracked()),
            );
        })
    };
    let on_pause = Callback::new(move |pause: bool| {
        page.send(if pause {
            Control::Pause
        } else {
            Control::Resume
        });
        page.progress.update(|p| p.paused = pause);
    });
    let on_cancel = Callback::new(move |_| page.send(Control::Cancel));

    let rows = Signal::derive(move || {
        let encs = page.encounters.get();
        // Latest plan of each path: (encounter, image id, size, lastModified).
        let mut planned: HashMap<String, (String, String, u64, f64)> = HashMap::new();
        for e in &encs {
            for (img, src) in e.plan.images.iter().zip(&e.sources) {
                planned.insert(
                    src.relative_path.clone(),
                    (
                        e.local_id.clone(),
                        img.local_id.clone(),
                        img.size,
                        src.last_modified,
                    ),
                );
            }
        }
        let status_of = |path: &str, size: u64, modified: Option<f64>| {
            planned.get(path).and_then(|(e, i, psize, pmod)| {
                let same = *psize == size && modified.is_none_or(|m| m == *pmod);
                if same {
                    page.status(e, i)
                } else {
                    None
                }
            })
        };
        // Only the picked folder: what was synced earlier is under the card's image statuses,
        // loaded per encounter when opened.
        page.picked.with(|p| {
            p.as_ref().map_or_else(Vec::new, |p| {
                p.images
                    .iter()
                    .map(|f| FileRow {
                        path: f.relative_path.clone(),
                        size: f.size(),
                        status: status_of(&f.relative_path, f.size(), Some(f.file.last_modified())),
                    })
                    .collect()
            })
        })
    });
    let picked_summary = move || {
        page.picked.with(|p| {
            p.as_ref().map(|p| {
                format!(
                    "{}: {} images; skipped {} hidden/system, {} RAW, {} other files.",
                    p.root,
                    p.images.len(),
                    p.skipped_hidden,
                    p.skipped_raw,
                    p.skipped_other
                )
            })
        })
    };
    let key_of = move |population: Option<i64>| {
        Signal::derive(move || {
            population.and_then(|p| {
                app.key_populations()
                    .into_iter()
                    .find(|(r, _)| r.id == p)
                    .map(|(_, line)| line)
            })
        })
    };
    let key_ready = move |population: Option<i64>| {
        key_of(population).with(|k| k.as_ref().is_some_and(|k| k.status == KeyStatus::Ready))
    };
    // The cards: a memo, so a status check that changes nothing re-renders none of them.
    let cards = Memo::new(move |_| {
        let keyed: Vec<Option<PopulationRef>> = app
            .key_populations()
            .into_iter()
            .map(|(p, _)| Some(p))
            .collect();
        if keyed.is_empty() {
            vec![None]
        } else {
            keyed
        }
    });
    let image_count = Signal::derive(move || {
        page.picked
            .with(|p| p.as_ref().map_or(0, |p| p.images.len()))
    });
    let can_upload =
        Signal::derive(move || app.upload_population().is_some() && image_count.get() > 0);
    let card = move |population: Option<PopulationRef>| {
        let id = population.as_ref().map(|p| p.id);
        let name = population.map(|p| p.name);
        view! {
            <PopulationCard
                name=Signal::derive(move || name.clone())
                key_status=key_of(id)
                counts=counts(id)
                syncing=page.busy.into()
                on_reset=on_reset(id)
            >
                <ManifestRows
                    rows=manifest_rows(id)
                    disabled=Signal::derive(move || page.busy.get() || !key_ready(id))
                    on_sync=on_sync_manifest
                    on_ensure=on_ensure
                />
                <EncounterAttention items=attention(id) />
                <ImageStatusList encounters=image_lists(id) on_load=on_load_images />
                <ErrorList
                    groups=problems(id)
                    busy=page.busy.into()
                    on_retry=on_retry(id)
                    on_export=on_export(id)
                    on_copy=on_copy(id)
                    copied=page.copied.into()
                />
            </PopulationCard>
        }
    };

    view! {
        <ResumeBanner interrupted=interrupted busy=page.busy.into() on_resume=on_resume />
        <div class="stack page">
            {move || cards.get().into_iter().map(card).collect_view()}
            <FolderPicker
                has_picker=files::has_directory_picker()
                disabled=page.busy.into()
                on_choose=on_choose
                on_file_list=on_file_list
            />
            <UploadPanel
                can_upload=can_upload
                busy=page.busy.into()
                phase=page.phase.into()
                progress=page.progress.into()
                summary=page.summary.into()
                error=app.error.into()
                image_count=image_count
                on_upload=on_upload
                on_pause=on_pause
                on_cancel=on_cancel
            />
            <section class="card" aria-labelledby="files-heading">
                <details open>
                    <summary>
                        <h2 id="files-heading" class="inline">"Images"</h2>
                    </summary>
                    <p class="muted" data-testid="picked-summary">
                        {move || {
                            picked_summary()
                                .unwrap_or_else(|| "No folder selected. Images synced earlier are listed under “Image statuses” on the card.".into())
                        }}
                    </p>
                    <FileTable rows=rows />
                </details>
            </section>
        </div>
    }
}

/// Plans the picked folder, then syncs it with the engine. Everything it learns goes to the
/// page's signals; nothing is returned.
async fn run(
    page: Page,
    store: crate::store::Store,
    target: Target,
    population_id: i64,
    client: Client,
) {
    let app = page.app;
    let settings = app.settings.get_untracked();
    let (label, planned, files): (String, Vec<StoredEncounter>, Rc<dyn FileSource>) = match target {
        Target::Folder(picked) => {
            page.phase.set("Fingerprinting files…".into());
            let local_id = page.folder_id(&picked, population_id);
            let (planned, unreadable) = plan_folder(&picked, population_id, local_id, |i, n| {
                if i % 25 == 0 {
                    page.phase.set(format!("Fingerprinting files… {i} of {n}"));
                }
            })
            .await;
            if !unreadable.is_empty() {
                app.error.set(Some(format!(
                    "{} file(s) could not be read and were left out: {}",
                    unreadable.len(),
                    unreadable
                        .iter()
                        .map(|u| format!("{} ({})", u.path, u.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )));
            }
            let files: Rc<dyn FileSource> =
                Rc::new(PickedFiles::new(&picked, std::slice::from_ref(&planned)));
            (picked.root.clone(), vec![planned], files)
        }
        Target::Manifest(m) => {
            // Images the scan's fingerprint phase has not reached yet are fingerprinted now:
            // their idempotency keys need it. One that cannot be (gone or changed since the
            // scan) is named here, not planned with a made-up key.
            let m = if m.unfingerprinted.is_empty() {
                m
            } else {
                page.phase.set(format!(
                    "Fingerprinting {} images before the sync…",
                    m.unfingerprinted.len()
                ));
                let shown = move |j: &crate::discovery::model::ScanJob| {
                    page.phase.set(format!(
                        "Fingerprinting images before the sync… {} of {}",
                        j.counts.fingerprinted.unwrap_or(j.counts.images),
                        j.counts.images
                    ));
                };
                match discovery::complete_fingerprints(&store, &m, shown).await {
                    Ok((m, problems)) => {
                        if !m.unfingerprinted.is_empty() {
                            app.error.set(Some(format!(
                                "{} image(s) could not be fingerprinted and are left out of this sync — run discovery again on the folder to sync them: {}",
                                m.unfingerprinted.len(),
                                if problems.is_empty() {
                                    m.unfingerprinted.join("; ")
                                } else {
                                    problems.join("; ")
                                }
                            )));
                        }
                        m
                    }
                    Err(e) => {
                        page.phase.set(String::new());
                        app.error.set(Some(e));
                        return;
                    }
                }
            };
            let files: Rc<dyn FileSource> = Rc::new(ScanFiles::new(&m.encounters));
            (
                format!("{} v{}", m.scan_job_name, m.version),
                m.encounters,
                files,
            )
        }
        Target::Stored { label, encounters } => {
            // Only Azure-sourced images are left: the engine asks for no local file.
            let files: Rc<dyn FileSource> = Rc::new(ScanFiles::new(&encounters));
            (label, encounters, files)
        }
    };
    if let Err(e) = store.put_encounters(&planned).await {
        app.error.set(Some(e.to_string()));
        return;
    }
    page.refresh();
    let ids: Vec<String> = planned.iter().map(|e| e.local_id.clone()).collect();
    let state = match store.sync_state_of(&ids).await {
        Ok(s) => s,
        Err(e) => {
            app.error.set(Some(e.to_string()));
            return;
        }
    };
    page.encounters.update(|v| {
        v.retain(|e| !planned.iter().any(|p| p.local_id == e.local_id));
        v.extend(planned.iter().cloned());
    });
    page.sync.update(|s| {
        for (id, record) in &state.encounters {
            s.encounters.insert(id.clone(), record.clone());
        }
    });
    page.copied.set(None);
    let server = settings.server_url.trim_end_matches('/').to_string();
    let plan = Plan {
        population_id,
        encounters: planned.iter().map(|e| e.plan.clone()).collect(),
    }
    .with_store(&state);
    let images: Vec<_> = plan.encounters.iter().flat_map(|e| &e.images).collect();
    if images.iter().all(|i| i.status.is_settled()) {
        page.phase
            .set("Nothing to upload: every file is already on the server.".into());
        page.summary.set(Some(RunSummary {
            already_complete: images
                .iter()
                .filter(|i| matches!(i.status, ImageStatus::Complete { .. }))
                .count(),
            skipped: images
                .iter()
                .filter(|i| matches!(i.status, ImageStatus::Skipped { .. }))
                .count(),
            encounter_url: planned
                .iter()
                .find_map(|e| state.encounters.get(&e.local_id)?.remote.as_ref())
                .map(|r| format!("{server}{}", r.url)),
            ..RunSummary::default()
        }));
        return;
    }

    page.phase.set(format!("Syncing {} images…", images.len()));
    activity::log(
        &store,
        Category::Sync,
        "Sync started",
        &format!("{label}: {} images", images.len()),
        true,
    )
    .await;
    let log_store = store.clone();
    let controls = driver::Controls::new();
    page.control.set_value(Some(controls.tx.clone()));
    let uploaded_now: Rc<RefCell<HashSet<(String, String)>>> = Rc::default();
    let seen = uploaded_now.clone();
    let labels: HashMap<String, (String, Option<String>)> = planned
        .iter()
        .map(|e| (e.local_id.clone(), (e.label(), None)))
        .collect();
    let started = now_ms();
    let engine_bytes = Rc::new(RefCell::new(0f64));
    let eb = engine_bytes.clone();
    let server_for_progress = server.clone();
    let observer = Observer {
        progress: Box::new(move |p: &Progress| {
            *eb.borrow_mut() = p.bytes_done as f64;
            page.progress.update(|r| {
                r.encounters_done = p.encounters_done;
                r.encounters_total = p.encounters_total;
                r.images_done = p.images_done;
                r.images_total = p.images_total;
                r.bytes_total = p.bytes_total as f64;
                r.bytes_done = r.bytes_done.max(p.bytes_done as f64);
                r.paused = p.state == RunState::Paused;
                r.offline = p.state == RunState::Offline;
                r.current = p.current.as_ref().map(|c| {
                    let (label, _) = labels.get(&c.local_id).cloned().unwrap_or_default();
                    (
                        label,
                        c.remote
                            .as_ref()
                            .map(|r| format!("{server_for_progress}{}", r.url)),
                    )
                });
                r.update_rate(now_ms().saturating_sub(started));
            });
        }),
        persisted: Box::new(move |changes: &[Persist]| {
            page.sync.update(|s| {
                for c in changes {
                    if let Persist::ImageStatus {
                        encounter,
                        image,
                        status: ImageStatus::Uploaded,
                    } = c
                    {
                        seen.borrow_mut().insert((encounter.clone(), image.clone()));
                    }
                    s.apply(c);
                }
            });
            page.refresh();
        }),
        in_flight_bytes: Box::new(move |b: &f64| {
            let live = *engine_bytes.borrow() + b;
            page.progress.update(|r| {
                r.bytes_done = r.bytes_done.max(live).min(r.bytes_total.max(live));
                r.update_rate(now_ms().saturating_sub(started));
            });
        }),
    };
    let config = Config {
        concurrency: settings.concurrency.clamp(1, 4),
        jitter_seed: (js_sys::Math::random() * 9.0e15) as u64,
        ..Config::default()
    };
    let job = driver::Job {
        plan,
        config,
        client,
        store,
        files,
    };
    match driver::run(job, controls, observer).await {
        Ok(result) => {
            let uploaded = page.sync.with_untracked(|s| {
                uploaded_now
                    .borrow()
                    .iter()
                    .filter(|(e, i)| {
                        matches!(
                            s.encounters.get(e).and_then(|r| r.images.get(i)),
                            Some(ImageStatus::Complete { .. })
                        )
                    })
                    .count()
            });
            let p = &result.progress;
            let stopped = match &result.outcome {
                Outcome::Completed => None,
                Outcome::Cancelled => {
                    Some("Cancelled: the rest stays pending; Upload again to continue.".to_string())
                }
                Outcome::Stopped { failure } => Some(format!("Stopped: {}", failure.message)),
            };
            page.phase.set(if stopped.is_some() {
                String::new()
            } else {
                "Done.".into()
            });
            activity::log(
                &log_store,
                Category::Sync,
                "Sync finished",
                &format!(
                    "{label}: {uploaded} uploaded, {} already on the server, {} failed, {} skipped{}",
                    p.images_complete.saturating_sub(uploaded),
                    p.images_failed,
                    p.images_skipped,
                    stopped
                        .as_deref()
                        .map(|s| format!(" — {s}"))
                        .unwrap_or_default()
                ),
                stopped.is_none() && p.images_failed == 0,
            )
            .await;
            // Server-side copy failures, one entry each (their messages say what to fix). The
            // activity log scrubs anything that looks like a SAS signature.
            for e in &result.encounters {
                for f in e
                    .failed
                    .iter()
                    .filter(|f| f.failure.step == Step::Copy)
                    .take(20)
                {
                    let file = planned
                        .iter()
                        .find(|p| p.local_id == e.local_id)
                        .and_then(|p| {
                            p.plan
                                .images
                                .iter()
                                .zip(&p.sources)
                                .find(|(i, _)| i.local_id == f.image)
                        })
                        .map(|(_, s)| s.relative_path.clone())
                        .unwrap_or_else(|| f.image.clone());
                    activity::log(
                        &log_store,
                        Category::Error,
                        "Server-side copy failed",
                        &format!("{file}: {}", f.failure.message),
                        false,
                    )
                    .await;
                }
            }
            page.summary.set(Some(RunSummary {
                uploaded,
                already_complete: p.images_complete.saturating_sub(uploaded),
                failed: p.images_failed,
                skipped: p.images_skipped,
                encounter_url: result
                    .encounters
                    .iter()
                    .find_map(|e| e.remote.as_ref())
                    .map(|r| format!("{server}{}", r.url)),
                stopped,
            }));
        }
        Err(e) => {
            page.phase.set(String::new());
            activity::log(
                &log_store,
                Category::Error,
                "Sync stopped",
                &e.to_string(),
                false,
            )
            .await;
            app.error.set(Some(e.to_string()));
        }
    }
}
