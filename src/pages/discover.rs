//! The Discover page (spec §2.1–2.6): scan a folder (picker with a remembered handle,
//! `<input webkitdirectory>`, or a dropped folder), watch the scan, resume or re-scan it, and
//! build manifests on a scan ([`editor`]). It carries out its components' intents through
//! [`crate::discovery`] and the browser adapters.

pub mod editor;

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::activity::{self, Category};
use crate::app::AppState;
use crate::discovery::access::{self, CheckReport};
use crate::discovery::cloud::Listing;
use crate::discovery::model::{now_iso, AccessKind, ScanFile, ScanJob, ScanOrigin, ScanState};
use crate::discovery::scan::ScanSource;
use crate::discovery::walk::FolderSource;
use crate::discovery::{db, fingerprints, scan};
use crate::files::{self, PickError};
use crate::store::Store;
use crate::ui::discovery::azure_source::{AzureScan, AzureSource};
use crate::ui::discovery::check_report::CheckReportView;
use crate::ui::discovery::scan_details::ScanDetails;
use crate::ui::discovery::scan_jobs::{JobAction, ScanJobs};
use crate::ui::discovery::scan_progress::ScanProgress;
use crate::ui::discovery::scan_source::ScanSource;

thread_local! {
    /// A re-scan asked for from another page ("Re-run discovery" on the review): job id.
    static RESCAN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Shows the Discover page and re-scans the folder of scan job `job_id` there (asking for the
/// folder again when this browser cannot keep access to it).
pub fn request_rescan(job_id: String) {
    RESCAN.with(|r| *r.borrow_mut() = Some(job_id));
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_hash(crate::pages::Page::Discover.hash());
    }
}

/// Why the page asks for a folder to be chosen again (file-list access only).
#[derive(Debug, Clone, PartialEq)]
enum Awaiting {
    Resume(ScanJob),
    Rescan(ScanJob),
    Reconnect(ScanJob),
}

impl Awaiting {
    fn job(&self) -> &ScanJob {
        match self {
            Awaiting::Resume(j) | Awaiting::Rescan(j) | Awaiting::Reconnect(j) => j,
        }
    }
}

/// The page's state; every field is a signal or a local stored value, so it is `Copy`.
#[derive(Clone, Copy)]
pub struct DiscoverState {
    pub store: RwSignal<Option<Store>, LocalStorage>,
    pub error: RwSignal<Option<String>>,
    pub jobs: RwSignal<Vec<ScanJob>>,
    /// The running scan's job (counts so far).
    pub live: RwSignal<Option<ScanJob>>,
    now: RwSignal<f64>,
    cancel: StoredValue<Option<Rc<Cell<bool>>>, LocalStorage>,
    /// Folders open in this tab.
    pub open: RwSignal<HashSet<String>>,
    awaiting: RwSignal<Option<Awaiting>>,
    pub notice: RwSignal<Option<String>>,
    details: RwSignal<Option<String>>,
    problems: RwSignal<Vec<ScanFile>>,
    check: RwSignal<Option<(String, CheckReport)>>,
    /// Bumped after a scan ends, so the manifest section reloads.
    pub scans_changed: RwSignal<u32>,
    /// "New manifest" was pressed on this scan; the manifest section creates it.
    pub manifest_request: RwSignal<Option<ScanJob>>,
    /// Saved storage connections (for scanning a container), reloaded when the page shows.
    pub connections: RwSignal<Vec<finsync_core::cloud::StorageConnection>>,
}

impl DiscoverState {
    fn reload_jobs(self) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match db::jobs(&st).await {
                Ok(j) => self.jobs.set(j),
                Err(e) => self.error.set(Some(e.to_string())),
            }
        });
    }

    /// Opens a folder in this tab (and remembers it as open).
    fn register(self, source: FolderSource) {
        let folder = source.root_name();
        access::register(source);
        self.open.update(|o| {
            o.insert(folder);
        });
    }

    /// The newest finished scan of `folder` other than `except`, started before `before_ms`.
    fn previous_of(
        self,
        folder: &str,
        origin: &ScanOrigin,
        except: &str,
        before_ms: f64,
    ) -> Option<ScanJob> {
        self.jobs.with_untracked(|jobs| {
            jobs.iter()
                .filter(|j| {
                    j.folder == folder
                        && j.origin == *origin
                        && j.id != except
                        && j.state == ScanState::Done
                        && j.started_ms < before_ms
                })
                .max_by(|a, b| a.started_ms.total_cmp(&b.started_ms))
                .cloned()
        })
    }

    /// Scans `source`: a new job, or `resume` continued.
    fn start_scan(self, source: FolderSource, access_kind: AccessKind, resume: Option<ScanJob>) {
        let Some(st) = self.store.get_untracked() else {
            self.error.set(Some(
                "The browser database is not open yet; try again in a moment.".into(),
            ));
            return;
        };
        if self.live.with_untracked(Option::is_some) {
            self.error.set(Some(
                "A scan is running: wait for it or cancel it first.".into(),
            ));
            return;
        }
        let folder = source.root_name();
        if folder.is_empty() {
            self.notice.set(Some(
                "That folder is empty: there is nothing to scan.".into(),
            ));
            return;
        }
        self.register(source.clone());
        let now = js_sys::Date::now();
        // Diffed against the scan of the folder before this job first started.
        let before_ms = resume.as_ref().map_or(now, |j| j.started_ms) + 1.0;
        // A resumed job is a new run: its rate counts from now.
        let job = match resume {
            Some(j) => j.restarted(now),
            None => {
                let n = self
                    .jobs
                    .with_untracked(|j| j.iter().filter(|j| j.folder == folder).count())
                    + 1;
                ScanJob::start(
                    format!("{folder} — scan {n}"),
                    folder.clone(),
                    access_kind,
                    ScanOrigin::Folder,
                    now,
                )
            }
        };
        let previous = self.previous_of(&folder, &ScanOrigin::Folder, &job.id, before_ms);
        self.run_job(st, job, source.into(), previous, None);
    }

    /// Scans a container of a saved storage connection: a new job, or `resume` continued.
    fn start_azure_scan(self, scan: AzureScan, resume: Option<ScanJob>) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        if self.live.with_untracked(Option::is_some) {
            self.error.set(Some(
                "A scan is running: wait for it or cancel it first.".into(),
            ));
            return;
        }
        if scan.container.is_empty() {
            self.error
                .set(Some("Enter the name of the container to scan.".into()));
            return;
        }
        spawn_local(async move {
            let conn = match st.connection(&scan.connection_id).await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    self.error.set(Some(
                        "This scan's storage connection is not in this browser any more: add it again under Settings → Azure storage connections, then scan the container as a new scan.".into(),
                    ));
                    return;
                }
                Err(e) => {
                    self.error.set(Some(e.to_string()));
                    return;
                }
            };
            let origin = ScanOrigin::Azure {
                connection_id: conn.id.clone(),
                connection_name: conn.name.clone(),
                container: scan.container.clone(),
                prefix: scan.prefix.clone(),
            };
            let folder = scan.container.clone();
            let now = js_sys::Date::now();
            let before_ms = resume.as_ref().map_or(now, |j| j.started_ms) + 1.0;
            let job = match resume {
                Some(j) => j.restarted(now),
                None => {
                    let n = self
                        .jobs
                        .with_untracked(|j| j.iter().filter(|j| j.origin == origin).count())
                        + 1;
                    let place = if scan.prefix.is_empty() {
                        folder.clone()
                    } else {
                        format!("{folder}/{}", scan.prefix)
                    };
                    ScanJob::start(
                        format!("{place} (Azure {}) — scan {n}", conn.name),
                        folder.clone(),
                        AccessKind::FileList,
                        origin.clone(),
                        now,
                    )
                }
            };
            access::register_cloud(&folder);
            let previous = self.previous_of(&folder, &origin, &job.id, before_ms);
            let listing = Listing::new(conn, scan.container, scan.prefix);
            let failure = listing.failure.clone();
            self.run_job(st, job, ScanSource::Azure(listing), previous, Some(failure));
        });
    }

    /// Runs a scan job and reports its end. `listing_failure`: where a container listing
    /// leaves why it stopped (the job is then Failed, and can be resumed).
    fn run_job(
        self,
        st: Store,
        job: ScanJob,
        source: ScanSource,
        previous: Option<ScanJob>,
        listing_failure: Option<Rc<std::cell::RefCell<Option<String>>>>,
    ) {
        let flag = Rc::new(Cell::new(false));
        self.cancel.set_value(Some(flag.clone()));
        self.live.set(Some(job.clone()));
        self.details.set(None);
        self.notice.set(None);
        let job_id = job.id.clone();
        spawn_local(async move {
            let live = self.live;
            let ticker = self.now;
            let result = scan::run(&st, job, source, previous.as_ref(), flag, move |j| {
                live.set(Some(j.clone()));
                ticker.set(js_sys::Date::now());
            })
            .await;
            // A container whose listing stopped is not scanned: the job fails (resumable).
            let listing_error = listing_failure.and_then(|f| f.borrow_mut().take());
            let result = match (result, listing_error) {
                (Ok(mut j), Some(why)) => {
                    j.state = ScanState::Failed;
                    j.error = Some(why.clone());
                    j.diff = None;
                    if let Err(e) = db::put_job(&st, &j).await {
                        self.error.set(Some(e.to_string()));
                    }
                    activity::log(&st, Category::Error, "Scan failed", &why, false).await;
                    self.error.set(Some(why));
                    self.live.set(None);
                    self.cancel.set_value(None);
                    self.reload_jobs();
                    self.scans_changed.update(|n| *n += 1);
                    return;
                }
                (r, _) => r,
            };
            match result {
                Ok(j) => {
                    let c = &j.counts;
                    let text = format!(
                        "{}: {} — {} files, {} images, {} skipped, {} with problems.",
                        j.name,
                        j.state.label().to_lowercase(),
                        c.files_seen,
                        c.images,
                        c.skipped_hidden + c.skipped_raw + c.skipped_other,
                        c.errors
                    );
                    // Manifests follow a re-scan of their folder, never a scan of another
                    // folder that only has the same name (then the job has no diff).
                    if j.state == ScanState::Done && j.diff.is_some() {
                        if let Some(p) = &previous {
                            if let Err(e) = editor::follow_rescan(&st, &p.id, &j.id).await {
                                self.error.set(Some(e.to_string()));
                            }
                        }
                    }
                    activity::log(&st, Category::Sync, "Scan finished", &text, true).await;
                    self.notice.set(Some(text));
                }
                Err(e) => {
                    if let Ok(Some(mut j)) = db::job(&st, &job_id).await {
                        j.state = ScanState::Failed;
                        j.error = Some(e.to_string());
                        j.ended_at = Some(now_iso());
                        j.ended_ms = Some(js_sys::Date::now());
                        let _ = db::put_job(&st, &j).await;
                    }
                    activity::log(&st, Category::Error, "Scan failed", &e.to_string(), false).await;
                    self.error.set(Some(e.to_string()));
                }
            }
            self.live.set(None);
            self.cancel.set_value(None);
            self.reload_jobs();
            self.scans_changed.update(|n| *n += 1);
            self.start_fingerprints(job_id);
        });
    }

    /// Runs the fingerprint phase of job `job_id` in the background when it has images left
    /// to fingerprint and its folder is open in this tab (after a scan, on a visit with a
    /// readable remembered folder, after a reconnect). Its progress is the job's card.
    fn start_fingerprints(self, job_id: String) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let job = match db::job(&st, &job_id).await {
                Ok(Some(j)) => j,
                Ok(None) => return,
                Err(e) => return self.error.set(Some(e.to_string())),
            };
            if job.state != ScanState::Done || job.counts.fingerprints_left() == 0 {
                return;
            }
            let Some(folder) = access::get(&job.folder) else {
                return;
            };
            let Some(_claim) = fingerprints::claim(&job_id) else {
                return;
            };
            let jobs = self.jobs;
            let shown = move |j: &ScanJob| {
                let j = j.clone();
                jobs.update(|all| {
                    if let Some(x) = all.iter_mut().find(|x| x.id == j.id) {
                        *x = j;
                    }
                });
            };
            match fingerprints::complete(&st, &job_id, &folder, shown).await {
                Ok(Some(r)) if !r.problems.is_empty() => {
                    let text = format!(
                        "{}: {} image(s) could not be fingerprinted (moved, deleted or changed since the scan): run discovery again on the folder to use them. {}",
                        r.job.name,
                        r.job.counts.fingerprint_failed,
                        r.problems.join("; ")
                    );
                    activity::log(
                        &st,
                        Category::Error,
                        "Fingerprints incomplete",
                        &text,
                        false,
                    )
                    .await;
                    self.notice.set(Some(text));
                }
                Ok(_) => {}
                Err(e) => self.error.set(Some(e.to_string())),
            }
        });
    }

    /// Checks a reopened folder against what `job` stored and shows the result.
    fn check_against(self, job: ScanJob) {
        let (Some(st), Some(folder)) = (self.store.get_untracked(), access::get(&job.folder))
        else {
            return;
        };
        spawn_local(async move {
            let files = match db::job_files(&st, &job.id).await {
                Ok(f) => f,
                Err(e) => {
                    self.error.set(Some(e.to_string()));
                    return;
                }
            };
            let expected = files
                .into_iter()
                .filter(|f| f.usable())
                .map(|f| (f.relative_path, f.size, f.last_modified))
                .collect();
            let report = access::check(&folder, expected, |_| {}).await;
            self.check.set(Some((job.folder.clone(), report)));
            self.start_fingerprints(job.id);
        });
    }

    /// Opens the remembered handle of `job`'s folder (asking for permission: call from a
    /// click), or asks for the folder to be chosen again.
    fn reopen(self, job: ScanJob, then: fn(DiscoverState, FolderSource, ScanJob), ask: Awaiting) {
        let Some(st) = self.store.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let handle = if job.access == AccessKind::Handle && files::has_directory_picker() {
                st.handle(&job.folder).await.ok().flatten()
            } else {
                None
            };
            let Some(handle) = handle else {
                self.awaiting.set(Some(ask));
                return;
            };
            let handle: web_sys::FileSystemDirectoryHandle = handle.unchecked_into();
            match files::request_read(&handle).await {
                Ok(()) => then(self, FolderSource::Handle(handle), job),
                Err(PickError::Cancelled) => {}
                Err(e) => {
                    self.error.set(Some(e.to_string()));
                    self.awaiting.set(Some(ask));
                }
            }
        });
    }

    fn act(self, action: JobAction) {
        let find = |id: &str| {
            self.jobs
                .with_untracked(|j| j.iter().find(|j| j.id == id).cloned())
        };
        match action {
            JobAction::Details(id) => {
                self.details.set(Some(id.clone()));
                let Some(st) = self.store.get_untracked() else {
                    return;
                };
                spawn_local(async move {
                    match db::job_files(&st, &id).await {
                        Ok(files) => self.problems.set(
                            files
                                .into_iter()
                                .filter(|f| f.error.is_some() || !f.warnings.is_empty())
                                .collect(),
                        ),
                        Err(e) => self.error.set(Some(e.to_string())),
                    }
                });
            }
            JobAction::Resume(id) => {
                let Some(job) = find(&id) else { return };
                if let Some(scan) = azure_scan_of(&job) {
                    self.start_azure_scan(scan, Some(job));
                    return;
                }
                if let Some(f) = access::get(&job.folder) {
                    let kind = job.access;
                    self.start_scan(f.source.clone(), kind, Some(job));
                    return;
                }
                self.reopen(
                    job.clone(),
                    |s, source, job| {
                        s.start_scan(source, job.access, Some(job));
                    },
                    Awaiting::Resume(job),
                );
            }
            JobAction::Rescan(id) => {
                let Some(job) = find(&id) else { return };
                if let Some(scan) = azure_scan_of(&job) {
                    self.start_azure_scan(scan, None);
                    return;
                }
                if let Some(f) = access::get(&job.folder) {
                    if f.is_handle() {
                        self.start_scan(f.source.clone(), job.access, None);
                        return;
                    }
                }
                // A file list is a snapshot: a re-scan needs the folder chosen again.
                self.reopen(
                    job.clone(),
                    |s, source, job| s.start_scan(source, job.access, None),
                    Awaiting::Rescan(job),
                );
            }
            JobAction::Reconnect(id) => {
                let Some(job) = find(&id) else { return };
                self.reopen(
                    job.clone(),
                    |s, source, job| {
                        s.register(source);
                        s.check_against(job);
                    },
                    Awaiting::Reconnect(job),
                );
            }
            JobAction::NewManifest(id) => {
                if let Some(job) = find(&id) {
                    editor::new_manifest(self, job);
                }
            }
            JobAction::Delete(id) => {
                let Some(st) = self.store.get_untracked() else {
                    return;
                };
                spawn_local(async move {
                    let used = db::manifests(&st)
                        .await
                        .map(|m| m.into_iter().find(|m| m.scan_job_id == id));
                    match used {
                        Ok(Some(m)) => self.error.set(Some(format!(
                            "This scan is used by the manifest “{}”; it cannot be deleted.",
                            m.name
                        ))),
                        Ok(None) => {
                            if let Err(e) = db::delete_job(&st, &id).await {
                                self.error.set(Some(e.to_string()));
                            }
                            if self.details.get_untracked().as_deref() == Some(id.as_str()) {
                                self.details.set(None);
                            }
                            self.reload_jobs();
                        }
                        Err(e) => self.error.set(Some(e.to_string())),
                    }
                });
            }
        }
    }

    /// A folder chosen through the input: what the page was waiting for, or a new scan.
    fn file_list(self, list: web_sys::FileList) {
        let source = FolderSource::List(list);
        let root = source.root_name();
        let Some(wait) = self.awaiting.get_untracked() else {
            self.start_scan(source, AccessKind::FileList, None);
            return;
        };
        let job = wait.job().clone();
        if root != job.folder {
            self.error.set(Some(format!(
                "You chose “{root}”, but this scan is of “{}”: choose that folder (or press “Not now” and scan “{root}” as a new folder).",
                job.folder
            )));
            return;
        }
        self.awaiting.set(None);
        match wait {
            Awaiting::Resume(job) => {
                self.register(source.clone());
                self.check_against(job.clone());
                self.start_scan(source, AccessKind::FileList, Some(job));
            }
            Awaiting::Rescan(_) => self.start_scan(source, AccessKind::FileList, None),
            Awaiting::Reconnect(job) => {
                self.register(source);
                self.check_against(job);
            }
        }
    }
}

/// What to list again for a container's scan job.
fn azure_scan_of(job: &ScanJob) -> Option<AzureScan> {
    match &job.origin {
        ScanOrigin::Azure {
            connection_id,
            container,
            prefix,
            ..
        } => Some(AzureScan {
            connection_id: connection_id.clone(),
            container: container.clone(),
            prefix: prefix.clone(),
        }),
        ScanOrigin::Folder => None,
    }
}

#[component]
pub fn DiscoverPage() -> impl IntoView {
    let app = expect_context::<AppState>();
    let s = DiscoverState {
        store: app.store,
        error: app.error,
        jobs: RwSignal::new(Vec::new()),
        live: RwSignal::new(None),
        now: RwSignal::new(0.0),
        cancel: StoredValue::new_local(None),
        open: RwSignal::new(HashSet::new()),
        awaiting: RwSignal::new(None),
        notice: RwSignal::new(None),
        details: RwSignal::new(None),
        problems: RwSignal::new(Vec::new()),
        check: RwSignal::new(None),
        scans_changed: RwSignal::new(0),
        manifest_request: RwSignal::new(None),
        connections: RwSignal::new(Vec::new()),
    };
    provide_context(s);

    // Once the database is open: the jobs, and the folders whose remembered handle this page
    // may still read without asking.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(st) = s.store.get() else {
            return false;
        };
        spawn_local(async move {
            let jobs = match db::jobs(&st).await {
                Ok(j) => j,
                Err(e) => {
                    s.error.set(Some(e.to_string()));
                    return;
                }
            };
            s.jobs.set(jobs.clone());
            for j in jobs.iter().filter(|j| j.origin.is_azure()) {
                access::register_cloud(&j.folder);
            }
            if files::has_directory_picker() {
                let mut seen = HashSet::new();
                for j in jobs.iter().filter(|j| j.access == AccessKind::Handle) {
                    if !seen.insert(j.folder.clone()) || access::get(&j.folder).is_some() {
                        continue;
                    }
                    if let Ok(Some(h)) = st.handle(&j.folder).await {
                        let h: web_sys::FileSystemDirectoryHandle = h.unchecked_into();
                        if files::can_read(&h).await {
                            s.register(FolderSource::Handle(h));
                        }
                    }
                }
            }
            // A fingerprint phase a closed tab left unfinished goes on where it stopped.
            for j in jobs.iter().filter(|j| j.counts.fingerprints_left() > 0) {
                s.start_fingerprints(j.id.clone());
            }
        });
        true
    });

    // The storage connections, whenever the page is shown (one may have been added).
    Effect::new(move |_| {
        if app.page.get() != crate::pages::Page::Discover {
            return;
        }
        if let Some(st) = s.store.get() {
            spawn_local(async move {
                match st.connections().await {
                    Ok(c) => s.connections.set(c),
                    Err(e) => s.error.set(Some(e.to_string())),
                }
            });
        }
    });

    // A re-scan asked for on the review page, once the jobs are known.
    Effect::new(move |_| {
        let shown = app.page.get() == crate::pages::Page::Discover;
        let known = s.jobs.with(|j| !j.is_empty());
        if shown && known {
            if let Some(id) = RESCAN.with(|r| r.borrow_mut().take()) {
                s.act(JobAction::Rescan(id));
            }
        }
    });

    let on_choose = Callback::new(move |_| {
        spawn_local(async move {
            match files::pick_directory_handle().await {
                Ok(h) => {
                    if let Some(st) = s.store.get_untracked() {
                        if let Err(e) = st.save_handle(&h.name(), &h).await {
                            s.error.set(Some(e.to_string()));
                        }
                    }
                    s.awaiting.set(None);
                    s.start_scan(FolderSource::Handle(h), AccessKind::Handle, None);
                }
                Err(PickError::Cancelled) => {}
                Err(e) => s.error.set(Some(e.to_string())),
            }
        });
    });
    let on_file_list = UnsyncCallback::new(move |list: web_sys::FileList| s.file_list(list));
    let on_drop = UnsyncCallback::new(move |ev: web_sys::DragEvent| {
        let Some(promise) = files::dropped_handle(&ev) else {
            s.error.set(Some(
                "Dropping a folder needs a Chromium-based browser (Chrome, Edge); use “Select a folder” instead."
                    .into(),
            ));
            return;
        };
        spawn_local(async move {
            match files::dropped_directory(promise).await {
                Ok(h) => {
                    if let Some(st) = s.store.get_untracked() {
                        let _ = st.save_handle(&h.name(), &h).await;
                    }
                    s.start_scan(FolderSource::Handle(h), AccessKind::Handle, None);
                }
                Err(PickError::Cancelled) => {}
                Err(e) => s.error.set(Some(e.to_string())),
            }
        });
    });
    let on_cancel = Callback::new(move |_| {
        s.cancel.with_value(|c| {
            if let Some(c) = c {
                c.set(true);
            }
        });
    });
    let on_action = Callback::new(move |a: JobAction| s.act(a));
    let running = Signal::derive(move || s.live.with(|l| l.as_ref().map(|j| j.id.clone())));
    let busy = Signal::derive(move || s.live.with(Option::is_some));
    let details_job = Signal::derive(move || {
        let id = s.details.get()?;
        s.jobs.with(|j| j.iter().find(|j| j.id == id).cloned())
    });

    view! {
        <div class="stack page" data-testid="discover-page">
            <ScanSource
                has_picker=files::has_directory_picker()
                disabled=busy
                awaiting=Signal::derive(move || s.awaiting.with(|a| a.as_ref().map(|a| a.job().folder.clone())))
                on_choose=on_choose
                on_file_list=on_file_list
                on_drop=on_drop
                on_cancel_awaiting=Callback::new(move |_| s.awaiting.set(None))
            />
            <AzureSource
                connections=s.connections.into()
                disabled=busy
                on_scan=Callback::new(move |scan| s.start_azure_scan(scan, None))
            />
            {move || {
                s.notice
                    .get()
                    .map(|n| view! { <p class="notice" role="status" data-testid="scan-notice">{n}</p> })
            }}
            <ScanProgress job=s.live.into() now_ms=s.now.into() on_cancel=on_cancel />
            <CheckReportView report=s.check.into() on_close=Callback::new(move |_| s.check.set(None)) />
            <ScanJobs
                jobs=s.jobs.into()
                running=running
                open=s.open.into()
                busy=busy
                on_action=on_action
            />
            <ScanDetails
                job=details_job
                problems=s.problems.into()
                on_close=Callback::new(move |_| s.details.set(None))
            />
            <editor::ManifestSection />
        </div>
    }
}
