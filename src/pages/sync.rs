//! The Sync page: pick a folder, upload it through the sync engine, watch progress, resume
//! an interrupted sync. It carries out the intents its components emit through the browser
//! adapters and the sync driver.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use finsync_core::api::KeyStatus;
use finsync_core::engine::{Config, ImageStatus, Outcome, Persist, Plan};
use futures::channel::mpsc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::activity::{self, Category};
use crate::api::Client;
use crate::app::AppState;
use crate::files::{self, Picked};
use crate::store::{Settings, Store, StoredEncounter};
use crate::sync::driver::{self, Control, Observer};
use crate::sync::lock;
use crate::sync::plan::{plan_folder, PickedFiles};
use crate::ui::connection::Connection;
use crate::ui::file_table::{FileRow, FileTable};
use crate::ui::folder_picker::FolderPicker;
use crate::ui::resume_banner::{Interrupted, ResumeBanner};
use crate::ui::upload_panel::{RunProgress, RunSummary, UploadPanel};

type StatusMap = HashMap<(String, String), ImageStatus>;

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

#[component]
pub fn SyncPage() -> impl IntoView {
    let AppState {
        store,
        settings,
        connection,
        error,
        ..
    } = expect_context::<AppState>();
    let picked: RwSignal<Option<Picked>, LocalStorage> = RwSignal::new_local(None);
    let encounters: RwSignal<Vec<StoredEncounter>> = RwSignal::new(Vec::new());
    let statuses: RwSignal<StatusMap> = RwSignal::new(HashMap::new());
    let busy = RwSignal::new(false);
    let phase = RwSignal::new(String::new());
    let progress = RwSignal::new(RunProgress::default());
    let summary: RwSignal<Option<RunSummary>> = RwSignal::new(None);
    let control: StoredValue<Option<mpsc::UnboundedSender<Control>>, LocalStorage> =
        StoredValue::new_local(None);
    // Folders whose handle IndexedDB remembers (File System Access only).
    let reopenable: RwSignal<HashSet<String>> = RwSignal::new(HashSet::new());
    let interrupted = Signal::derive(move || {
        let st = statuses.get();
        let reopen = reopenable.get();
        encounters.with(|encs| {
            encs.iter().find_map(|e| {
                let total = e.plan.images.len();
                let left = e
                    .plan
                    .images
                    .iter()
                    .filter(|i| {
                        !st.get(&(e.local_id.clone(), i.local_id.clone()))
                            .is_some_and(ImageStatus::is_settled)
                    })
                    .count();
                let folder = e
                    .sources
                    .first()
                    .and_then(|s| s.relative_path.split('/').next())
                    .unwrap_or(&e.plan.fields.location_name)
                    .to_string();
                (left > 0).then(|| Interrupted {
                    can_reopen: reopen.contains(&folder),
                    folder,
                    left,
                    total,
                })
            })
        })
    });

    // Load this page's stored state once the database is open: planned encounters, their
    // sync state, and which folders can be reopened without asking.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(s) = store.get() else {
            return false;
        };
        spawn_local(async move {
            match (s.encounters().await, s.sync_state().await) {
                (Ok(encs), Ok(state)) => {
                    if files::has_directory_picker() {
                        let mut known = HashSet::new();
                        for e in &encs {
                            let root = e.local_id.trim_start_matches("folder:").to_string();
                            if let Ok(Some(_)) = s.handle(&root).await {
                                known.insert(root);
                            }
                        }
                        reopenable.set(known);
                    }
                    encounters.set(encs);
                    statuses.set(
                        state
                            .encounters
                            .into_iter()
                            .flat_map(|(e, rec)| {
                                rec.images
                                    .into_iter()
                                    .map(move |(i, st)| ((e.clone(), i), st))
                            })
                            .collect(),
                    );
                }
                (Err(e), _) | (_, Err(e)) => error.set(Some(e.to_string())),
            }
        });
        true
    });

    // A concurrency change in Settings applies to a running sync at once.
    Effect::new(move |_| {
        let n = settings.with(|s| s.concurrency);
        control.with_value(|c| {
            if let Some(c) = c {
                let _ = c.unbounded_send(Control::Concurrency(n));
            }
        });
    });

    let on_choose = Callback::new(move |_| {
        spawn_local(async move {
            phase.set("Reading the folder…".into());
            match files::pick_directory().await {
                Ok((p, handle)) => {
                    phase.set(String::new());
                    if let Some(st) = store.get_untracked() {
                        if st.save_handle(&p.root, &handle).await.is_ok() {
                            reopenable.update(|r| {
                                r.insert(p.root.clone());
                            });
                        }
                    }
                    picked.set(Some(p));
                }
                Err(files::PickError::Cancelled) => phase.set(String::new()),
                Err(e) => {
                    phase.set(String::new());
                    error.set(Some(e.to_string()));
                }
            }
        });
    });
    let on_file_list = UnsyncCallback::new(move |list: web_sys::FileList| {
        picked.set(Some(files::from_file_list(&list)));
    });

    let start_upload = move || {
        let (Some(st), Some(p)) = (store.get_untracked(), picked.get_untracked()) else {
            return;
        };
        let population = match connection.get_untracked() {
            Connection::Reachable(s) if s.key_status == KeyStatus::Ready => s.population,
            _ => None,
        };
        let Some(population) = population else {
            error.set(Some("The API key is not ready: check Settings.".into()));
            return;
        };
        let s = settings.get_untracked();
        busy.set(true);
        error.set(None);
        summary.set(None);
        progress.set(RunProgress::default());
        spawn_local(async move {
            let Some(_lock) = lock::try_acquire().await else {
                error.set(Some(
                    "Another tab of finsync is syncing right now. Let it finish, or close it and try again here."
                        .into(),
                ));
                busy.set(false);
                return;
            };
            let _leave_guard = LeaveGuard::new();
            run_upload(
                st,
                p,
                population.id,
                s,
                encounters,
                statuses,
                phase,
                progress,
                summary,
                error,
                control,
            )
            .await;
            control.set_value(None);
            busy.set(false);
        });
    };
    let on_upload = Callback::new(move |_| start_upload());
    let on_resume = Callback::new(move |_| {
        let Some(i) = interrupted.get_untracked() else {
            return;
        };
        let Some(st) = store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let handle = match st.handle(&i.folder).await {
                Ok(Some(h)) => h,
                _ => {
                    error.set(Some(format!(
                        "Select the folder “{}” again to resume.",
                        i.folder
                    )));
                    return;
                }
            };
            phase.set("Opening the folder again…".into());
            match files::reopen(handle.unchecked_into()).await {
                Ok(p) => {
                    phase.set(String::new());
                    picked.set(Some(p));
                    start_upload();
                }
                Err(e) => {
                    phase.set(String::new());
                    error.set(Some(e.to_string()));
                }
            }
        });
    });
    let on_pause = Callback::new(move |pause: bool| {
        control.with_value(|c| {
            if let Some(c) = c {
                let _ = c.unbounded_send(if pause {
                    Control::Pause
                } else {
                    Control::Resume
                });
            }
        });
        progress.update(|p| p.paused = pause);
    });
    let on_cancel = Callback::new(move |_| {
        control.with_value(|c| {
            if let Some(c) = c {
                let _ = c.unbounded_send(Control::Cancel);
            }
        });
    });

    let rows = Signal::derive(move || {
        let statuses = statuses.get();
        let encs = encounters.get();
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
                same.then(|| statuses.get(&(e.clone(), i.clone())).cloned())
                    .flatten()
            })
        };
        match picked.get() {
            Some(p) => p
                .images
                .iter()
                .map(|f| FileRow {
                    path: f.relative_path.clone(),
                    size: f.size(),
                    status: status_of(&f.relative_path, f.size(), Some(f.file.last_modified())),
                })
                .collect(),
            None => {
                let mut v: Vec<FileRow> = planned
                    .iter()
                    .map(|(path, (_, _, size, _))| FileRow {
                        path: path.clone(),
                        size: *size,
                        status: status_of(path, *size, None),
                    })
                    .collect();
                v.sort_by(|a, b| a.path.cmp(&b.path));
                v
            }
        }
    });
    let picked_summary = move || {
        picked.with(|p| {
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
    let key_ready = move || matches!(connection.get(), Connection::Reachable(ref s) if s.key_status == KeyStatus::Ready);
    let image_count =
        Signal::derive(move || picked.with(|p| p.as_ref().map_or(0, |p| p.images.len())));
    let can_upload = Signal::derive(move || key_ready() && image_count.get() > 0);

    view! {
        <ResumeBanner interrupted=interrupted busy=busy.into() on_resume=on_resume />
        <div class="stack page">
            <FolderPicker
                has_picker=files::has_directory_picker()
                disabled=busy.into()
                on_choose=on_choose
                on_file_list=on_file_list
            />
            <UploadPanel
                can_upload=can_upload
                busy=busy.into()
                phase=phase.into()
                progress=progress.into()
                summary=summary.into()
                error=error.into()
                image_count=image_count
                on_upload=on_upload
                on_pause=on_pause
                on_cancel=on_cancel
            />
            <section class="card" aria-labelledby="files-heading">
                <h2 id="files-heading">"Images"</h2>
                <p class="muted" data-testid="picked-summary">
                    {move || {
                        picked_summary()
                            .unwrap_or_else(|| "Files synced from this browser earlier:".into())
                    }}
                </p>
                <FileTable rows=rows />
            </section>
        </div>
    }
}

/// Plans the picked folder, then syncs it with the engine. Everything it learns goes to the
/// signals; nothing is returned.
#[allow(clippy::too_many_arguments)]
async fn run_upload(
    store: Store,
    picked: Picked,
    population_id: i64,
    settings: Settings,
    encounters: RwSignal<Vec<StoredEncounter>>,
    statuses: RwSignal<StatusMap>,
    phase: RwSignal<String>,
    progress: RwSignal<RunProgress>,
    summary: RwSignal<Option<RunSummary>>,
    error: RwSignal<Option<String>>,
    control: StoredValue<Option<mpsc::UnboundedSender<Control>>, LocalStorage>,
) {
    phase.set("Fingerprinting files…".into());
    let (planned, unreadable) = plan_folder(&picked, population_id, |i, n| {
        if i % 25 == 0 {
            phase.set(format!("Fingerprinting files… {i} of {n}"));
        }
    })
    .await;
    if !unreadable.is_empty() {
        error.set(Some(format!(
            "{} file(s) could not be read and were left out: {}",
            unreadable.len(),
            unreadable
                .iter()
                .map(|u| format!("{} ({})", u.path, u.message))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    if let Err(e) = store.put_encounters(std::slice::from_ref(&planned)).await {
        error.set(Some(e.to_string()));
        return;
    }
    encounters.update(|v| {
        v.retain(|e| e.local_id != planned.local_id);
        v.push(planned.clone());
    });
    let state = match store.sync_state().await {
        Ok(s) => s,
        Err(e) => {
            error.set(Some(e.to_string()));
            return;
        }
    };
    let plan = Plan {
        population_id,
        encounters: vec![planned.plan.clone()],
    }
    .with_store(&state);
    let images: Vec<_> = plan.encounters.iter().flat_map(|e| &e.images).collect();
    if images.iter().all(|i| i.status.is_settled()) {
        phase.set("Nothing to upload: every file is already on the server.".into());
        summary.set(Some(RunSummary {
            already_complete: images
                .iter()
                .filter(|i| matches!(i.status, ImageStatus::Complete { .. }))
                .count(),
            skipped: images
                .iter()
                .filter(|i| matches!(i.status, ImageStatus::Skipped { .. }))
                .count(),
            encounter_url: state
                .encounters
                .get(&planned.local_id)
                .and_then(|r| r.remote.as_ref())
                .map(|r| format!("{}{}", settings.server_url.trim_end_matches('/'), r.url)),
            ..RunSummary::default()
        }));
        return;
    }

    phase.set(format!("Syncing {} images…", images.len()));
    activity::log(
        &store,
        Category::Sync,
        "Sync started",
        &format!("{}: {} images", picked.root, images.len()),
        true,
    )
    .await;
    let log_store = store.clone();
    let controls = driver::Controls::new();
    control.set_value(Some(controls.tx.clone()));
    let uploaded_now: Rc<RefCell<HashSet<(String, String)>>> = Rc::default();
    let seen = uploaded_now.clone();
    let observer = Observer {
        progress: Box::new(move |p: &finsync_core::engine::Progress| {
            progress.update(|r| {
                r.images_done = p.images_done;
                r.images_total = p.images_total;
                r.bytes_total = p.bytes_total as f64;
                r.bytes_done = r.bytes_done.max(p.bytes_done as f64);
                r.paused = p.state == finsync_core::engine::RunState::Paused;
                r.offline = p.state == finsync_core::engine::RunState::Offline;
            });
        }),
        persisted: Box::new(move |changes: &[Persist]| {
            statuses.update(|m| {
                for c in changes {
                    if let Persist::ImageStatus {
                        encounter,
                        image,
                        status,
                    } = c
                    {
                        if *status == ImageStatus::Uploaded {
                            seen.borrow_mut().insert((encounter.clone(), image.clone()));
                        }
                        m.insert((encounter.clone(), image.clone()), status.clone());
                    }
                }
            });
        }),
        in_flight_bytes: Box::new(|_: &f64| {}),
    };
    let config = Config {
        concurrency: settings.concurrency.clamp(1, 4),
        jitter_seed: (js_sys::Math::random() * 9.0e15) as u64,
        ..Config::default()
    };
    let client = Client::new(&settings.server_url, &settings.api_key);
    let files = Rc::new(PickedFiles::new(&picked, std::slice::from_ref(&planned)));
    let job = driver::Job {
        plan,
        config,
        client,
        store,
        files,
    };
    match driver::run(job, controls, observer).await {
        Ok(result) => {
            let final_statuses = statuses.get_untracked();
            let uploaded = uploaded_now
                .borrow()
                .iter()
                .filter(|k| matches!(final_statuses.get(*k), Some(ImageStatus::Complete { .. })))
                .count();
            let p = &result.progress;
            let stopped = match &result.outcome {
                Outcome::Completed => None,
                Outcome::Cancelled => {
                    Some("Cancelled: the rest stays pending; Upload again to continue.".to_string())
                }
                Outcome::Stopped { failure } => Some(format!("Stopped: {}", failure.message)),
            };
            phase.set(if stopped.is_some() {
                String::new()
            } else {
                "Done.".into()
            });
            summary.set(Some(RunSummary {
                uploaded,
                already_complete: p.images_complete.saturating_sub(uploaded),
                failed: p.images_failed,
                skipped: p.images_skipped,
                encounter_url: result
                    .encounters
                    .iter()
                    .find_map(|e| e.remote.as_ref())
                    .map(|r| format!("{}{}", settings.server_url.trim_end_matches('/'), r.url)),
                stopped,
            }));
        }
        Err(e) => {
            phase.set(String::new());
            activity::log(
                &log_store,
                Category::Error,
                "Sync stopped",
                &e.to_string(),
                false,
            )
            .await;
            error.set(Some(e.to_string()));
        }
    }
}
