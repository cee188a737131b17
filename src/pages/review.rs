//! The Pre-Sync Review page (spec §2.6), `#/review/<manifest id>`: the encounter records of a
//! manifest's materialised version, filtered by status, approved or denied one by one or in
//! bulk, given a license, edited inline (saved at once; fixing the last missing value turns
//! Incomplete into Pending) — and the missing-file check of the files they reference.

use std::collections::{HashMap, HashSet};

use finsync_core::manifest::{
    approve_all, EditedField, EncounterRecord, License, PhotographerAssignment, ReviewStatus,
};
use finsync_core::rules::{parse_gps, CompiledRules};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::app::AppState;
use crate::discovery::access::{self, CheckReport};
use crate::discovery::db;
use crate::discovery::model::{ReviewRow, StoredManifest};
use crate::discovery::walk::FolderSource;
use crate::files::{self, PickError};
use crate::pages::Page;
use crate::ui::discovery::missing_banner::{FilesState, MissingBanner};
use crate::ui::discovery::record_editor::{RecordEdit, RecordEditor};
use crate::ui::discovery::review_table::ReviewTable;
use crate::ui::discovery::review_toolbar::{Counts, Filter, ReviewToolbar};

/// Rows per page of the table.
const PAGE_SIZE: usize = 50;

/// The manifest id in `#/review/<id>`.
fn manifest_id_from_hash() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let id = hash.strip_prefix("#/review/")?;
    let id = js_sys::decode_uri_component(id).ok()?.as_string()?;
    (!id.is_empty()).then_some(id)
}

fn matches(f: Filter, s: &ReviewStatus) -> bool {
    matches!(
        (f, s),
        (Filter::All, _)
            | (Filter::Pending, ReviewStatus::Pending)
            | (Filter::Approved, ReviewStatus::Approved)
            | (Filter::Denied, ReviewStatus::Denied)
            | (Filter::Incomplete, ReviewStatus::Incomplete { .. })
    )
}

#[derive(Clone, Copy)]
struct Review {
    app: AppState,
    manifest: RwSignal<Option<StoredManifest>>,
    rows: RwSignal<Vec<ReviewRow>>,
    filter: RwSignal<Filter>,
    selected: RwSignal<HashSet<String>>,
    page_no: RwSignal<usize>,
    expanded: RwSignal<Option<String>>,
    problem: RwSignal<Option<String>>,
    message: RwSignal<Option<String>>,
    files: RwSignal<Option<FilesState>>,
    busy: RwSignal<bool>,
    /// The materialised version's rules (ID verifier for known individuals).
    rules: StoredValue<Option<CompiledRules>>,
}

impl Review {
    fn load(self, id: String) {
        let Some(st) = self.app.store.get_untracked() else {
            return;
        };
        self.selected.set(HashSet::new());
        self.expanded.set(None);
        self.page_no.set(0);
        self.problem.set(None);
        self.message.set(None);
        spawn_local(async move {
            let (m, rows) = match (db::manifest(&st, &id).await, db::records(&st, &id).await) {
                (Ok(m), Ok(r)) => (m, r),
                (Err(e), _) | (_, Err(e)) => {
                    self.app.error.set(Some(e.to_string()));
                    return;
                }
            };
            let Some(m) = m else {
                self.manifest.set(None);
                self.rows.set(Vec::new());
                self.problem.set(Some(format!(
                    "There is no manifest “{id}” in this browser: open one from the Discover page."
                )));
                return;
            };
            let rules = m
                .materialized_version
                .and_then(|v| m.history.get(v))
                .and_then(|v| v.rules.compile().ok());
            self.rules.set_value(rules);
            self.manifest.set(Some(m.clone()));
            self.rows.set(rows);
            self.check_files(m, false).await;
        });
    }

    /// The missing-file check: every file the records reference, against the open folder (or
    /// the remembered handle when this page may read it; `ask`: may prompt, from a click).
    async fn check_files(self, m: StoredManifest, ask: bool) {
        let Some(st) = self.app.store.get_untracked() else {
            return;
        };
        // Images in Azure are not in any folder: only local ones are checked.
        let any_local = self.rows.with_untracked(|rows| {
            rows.iter()
                .flat_map(|r| r.record.images.iter())
                .any(|i| !i.source.is_azure())
        });
        if !any_local {
            self.files.set(None);
            return;
        }
        let mut folder = access::get(&m.folder);
        let mut remembered = false;
        if folder.is_none() && files::has_directory_picker() {
            if let Ok(Some(h)) = st.handle(&m.folder).await {
                remembered = true;
                let h: web_sys::FileSystemDirectoryHandle = h.unchecked_into();
                let ok = if ask {
                    match files::request_read(&h).await {
                        Ok(()) => true,
                        Err(PickError::Cancelled) => false,
                        Err(e) => {
                            self.problem.set(Some(e.to_string()));
                            false
                        }
                    }
                } else {
                    files::can_read(&h).await
                };
                if ok {
                    folder = Some(access::register(FolderSource::Handle(h)));
                }
            }
        }
        let Some(folder) = folder else {
            self.files.set(Some(FilesState::NotConnected {
                folder: m.folder.clone(),
                remembered,
            }));
            return;
        };
        let expected: Vec<(String, u64, f64)> = self.rows.with_untracked(|rows| {
            rows.iter()
                .flat_map(|r| r.record.images.iter())
                .filter(|i| !i.source.is_azure())
                .map(|i| (i.relative_path.clone(), i.size, i.last_modified_ms))
                .collect()
        });
        let total = expected.len();
        self.files
            .set(Some(FilesState::Checking { done: 0, total }));
        let files = self.files;
        let report: CheckReport = access::check(&folder, expected, move |done| {
            files.set(Some(FilesState::Checking { done, total }));
        })
        .await;
        if !report.failed.is_empty() {
            self.problem.set(Some(format!(
                "{} file(s) could not be checked: {}",
                report.failed.len(),
                report
                    .failed
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        self.files.set(Some(FilesState::Checked {
            total,
            missing: report.missing,
            changed: report.changed,
        }));
    }

    /// Applies `f` to the records with these ids, saves the changed ones in one transaction.
    fn change(self, ids: &[String], f: impl Fn(&mut EncounterRecord) -> Result<(), String>) {
        let Some(st) = self.app.store.get_untracked() else {
            return;
        };
        let wanted: HashSet<&String> = ids.iter().collect();
        let mut changed = Vec::new();
        let mut refused = Vec::new();
        self.rows.update(|rows| {
            for row in rows.iter_mut().filter(|r| wanted.contains(&r.record.id)) {
                let before = row.record.clone();
                match f(&mut row.record) {
                    Ok(()) if row.record != before => changed.push(row.clone()),
                    Ok(()) => {}
                    Err(why) => {
                        row.record = before;
                        refused.push(format!("{}: {why}", row.record.label));
                    }
                }
            }
        });
        self.problem.set(match refused.len() {
            0 => None,
            n => Some(format!(
                "{n} not changed — {}",
                refused
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        });
        if changed.is_empty() {
            return;
        }
        spawn_local(async move {
            if let Err(e) = db::put_records(&st, &changed).await {
                self.app.error.set(Some(e.to_string()));
            }
        });
    }

    fn selected_ids(self) -> Vec<String> {
        self.selected
            .with_untracked(|s| s.iter().cloned().collect())
    }

    fn all_ids(self) -> Vec<String> {
        self.rows
            .with_untracked(|r| r.iter().map(|r| r.record.id.clone()).collect())
    }

    fn edit(self, id: String, edit: RecordEdit) {
        let m = self.manifest.get_untracked();
        let rules = self.rules;
        self.change(std::slice::from_ref(&id), move |r| {
            match edit.clone() {
                RecordEdit::Date(d) => {
                    let d = d.trim().to_string();
                    if !d.is_empty() && finsync_core::calendar::Day::parse_iso(&d).is_none() {
                        return Err(format!("`{d}` is not a date (YYYY-MM-DD)"));
                    }
                    r.date = Some(d).filter(|d| !d.is_empty());
                    r.mark_edited(EditedField::Date);
                }
                RecordEdit::Time(t) => {
                    let t = t.trim().to_string();
                    let t = if t.len() == 5 { format!("{t}:00") } else { t };
                    if !t.is_empty() && finsync_core::calendar::TimeOfDay::parse(&t).is_none() {
                        return Err(format!("`{t}` is not a time (HH:MM:SS)"));
                    }
                    r.time = Some(t).filter(|t| !t.is_empty());
                    r.mark_edited(EditedField::Time);
                }
                RecordEdit::Location(l) => {
                    r.location_name = Some(l.trim().to_string()).filter(|l| !l.is_empty());
                    r.mark_edited(EditedField::LocationName);
                }
                RecordEdit::Gps(g) => {
                    if g.trim().is_empty() {
                        r.gps = None;
                    } else {
                        r.gps = Some(parse_gps(&g).ok_or_else(|| {
                            format!(
                                "`{g}` is not a GPS position: write “lat, lon” in decimal degrees"
                            )
                        })?);
                    }
                    r.mark_edited(EditedField::Gps);
                }
                RecordEdit::Photographer(p) => {
                    let p = p.trim().to_string();
                    let version = m
                        .as_ref()
                        .and_then(|m| m.materialized_version.and_then(|v| m.history.get(v)));
                    match version {
                        _ if p.is_empty() => {
                            r.photographer_raw = None;
                            r.photographer = PhotographerAssignment::None;
                        }
                        Some(v) if v.photographers.contains_key(&p) => {
                            r.photographer_raw = Some(p);
                            r.apply_resolutions(&v.photographers, v.default_photographer.as_ref());
                        }
                        _ => {
                            r.photographer_raw = Some(p.clone());
                            r.photographer = PhotographerAssignment::User {
                                user_id: format!("name:{p}"),
                                display: p,
                            };
                        }
                    }
                    r.mark_edited(EditedField::Photographer);
                }
                RecordEdit::License(l) => r.license = l,
                RecordEdit::Notes(n) => r.notes = n,
                RecordEdit::AddIndividual(id) => {
                    let valid = rules.with_value(|c| c.as_ref().is_none_or(|c| c.is_valid_id(&id)));
                    if !valid {
                        return Err(format!("`{id}` does not match the population's ID format"));
                    }
                    if !r.known_individuals.contains(&id) {
                        r.known_individuals.push(id);
                    }
                    r.mark_edited(EditedField::KnownIndividuals);
                }
                RecordEdit::RemoveIndividual(id) => {
                    r.known_individuals.retain(|x| *x != id);
                    r.mark_edited(EditedField::KnownIndividuals);
                }
            }
            // An approved record whose edit left it incomplete goes back to Incomplete.
            if r.review == ReviewStatus::Approved && !r.missing().is_empty() {
                r.review = ReviewStatus::Pending;
            }
            r.refresh();
            Ok(())
        });
    }

    fn approve(self, ids: Vec<String>) {
        self.change(&ids, |r| r.approve().map_err(|e| e.to_string()));
        let n = self.rows.with_untracked(|rows| {
            rows.iter()
                .filter(|r| ids.contains(&r.record.id) && r.record.review == ReviewStatus::Approved)
                .count()
        });
        self.message.set(Some(format!("{n} approved.")));
    }

    fn approve_all(self) {
        let Some(st) = self.app.store.get_untracked() else {
            return;
        };
        let mut records: Vec<EncounterRecord> = self
            .rows
            .with_untracked(|r| r.iter().map(|r| r.record.clone()).collect());
        match approve_all(&mut records) {
            Ok(n) => {
                let rows: Vec<ReviewRow> = records.into_iter().map(ReviewRow::new).collect();
                self.rows.set(rows.clone());
                self.problem.set(None);
                self.message
                    .set(Some(format!("{n} pending encounter(s) approved.")));
                spawn_local(async move {
                    if let Err(e) = db::put_records(&st, &rows).await {
                        self.app.error.set(Some(e.to_string()));
                    }
                });
            }
            Err(e) => self.problem.set(Some(format!(
                "{e}: choose a license for them (License for all), then Approve All again."
            ))),
        }
    }
}

#[component]
pub fn ReviewPage() -> impl IntoView {
    let app = expect_context::<AppState>();
    let rv = Review {
        app,
        manifest: RwSignal::new(None),
        rows: RwSignal::new(Vec::new()),
        filter: RwSignal::new(Filter::All),
        selected: RwSignal::new(HashSet::new()),
        page_no: RwSignal::new(0),
        expanded: RwSignal::new(None),
        problem: RwSignal::new(None),
        message: RwSignal::new(None),
        files: RwSignal::new(None),
        busy: RwSignal::new(false),
        rules: StoredValue::new(None),
    };
    // (Re)load whenever the page is shown, or shows another manifest (also after a reload of
    // the tab). The hash is followed in a signal so that a navigation that changes both the page
    // and the id loads once.
    let hash_id = RwSignal::new(manifest_id_from_hash());
    crate::pages::on_window_event("hashchange", move || hash_id.set(manifest_id_from_hash()));
    Effect::new(move |_| {
        let shown = app.page.get() == Page::Review;
        let open = app.store.with(Option::is_some);
        if let (true, true, Some(id)) = (shown, open, hash_id.get()) {
            rv.load(id);
        }
    });

    let counts = Signal::derive(move || {
        rv.rows.with(|rows| {
            let mut c = Counts {
                all: rows.len(),
                ..Counts::default()
            };
            for r in rows {
                match r.record.review {
                    ReviewStatus::Pending => c.pending += 1,
                    ReviewStatus::Approved => c.approved += 1,
                    ReviewStatus::Denied => c.denied += 1,
                    ReviewStatus::Incomplete { .. } => c.incomplete += 1,
                }
            }
            c
        })
    });
    let filtered = Memo::new(move |_| {
        let f = rv.filter.get();
        rv.rows.with(|rows| {
            rows.iter()
                .filter(|r| matches(f, &r.record.review))
                .map(|r| r.record.id.clone())
                .collect::<Vec<_>>()
        })
    });
    let pages = Signal::derive(move || filtered.with(|f| f.len().div_ceil(PAGE_SIZE).max(1)));
    let page_ids = Signal::derive(move || {
        let p = rv.page_no.get().min(pages.get() - 1);
        filtered.with(|f| {
            f.iter()
                .skip(p * PAGE_SIZE)
                .take(PAGE_SIZE)
                .cloned()
                .collect()
        })
    });
    let index = Memo::new(move |_| {
        rv.rows.with(|rows| {
            rows.iter()
                .enumerate()
                .map(|(i, r)| (r.record.id.clone(), i))
                .collect::<HashMap<_, _>>()
        })
    });
    let record = Callback::new(move |id: String| {
        let i = index.with(|ix| ix.get(&id).copied())?;
        rv.rows.with(|rows| rows.get(i).map(|r| r.record.clone()))
    });
    let names = Signal::derive(move || {
        rv.manifest.with(|m| {
            m.as_ref()
                .and_then(|m| m.materialized_version.and_then(|v| m.history.get(v)))
                .map(|v| v.photographers.keys().cloned().collect())
                .unwrap_or_default()
        })
    });
    let editor = ViewFn::from(move || {
        let id = rv.expanded.get_untracked().unwrap_or_default();
        let id2 = id.clone();
        view! {
            <RecordEditor
                record=Signal::derive(move || record.run(id.clone()))
                names=names
                problem=rv.problem.into()
                on_edit=Callback::new(move |e: RecordEdit| rv.edit(id2.clone(), e))
            />
        }
    });
    let header = move || {
        rv.manifest.get().map(|m| {
            let version = m.materialized_version.map(|v| format!("v{v}")).unwrap_or_default();
            view! {
                <div class="row spread">
                    <h2 class="inline" data-testid="review-title">{format!("Review: {} {version}", m.name)}</h2>
                    <a href=Page::Discover.hash()>"Back to Discover"</a>
                </div>
                <p class="muted small">
                    {format!(
                        "Population {} · folder “{}” · materialised {}",
                        m.population_name,
                        m.folder,
                        m.materialized_at.clone().unwrap_or_default().replace('T', " ").chars().take(16).collect::<String>()
                    )}
                </p>
            }
        })
    };
    let on_rerun = Callback::new(move |_| {
        if let Some(m) = rv.manifest.get_untracked() {
            crate::pages::discover::request_rescan(m.scan_job_id.clone());
        }
    });
    let on_connect = Callback::new(move |_| {
        if let Some(m) = rv.manifest.get_untracked() {
            spawn_local(async move { rv.check_files(m, true).await });
        }
    });
    let on_file_list = UnsyncCallback::new(move |list: web_sys::FileList| {
        let Some(m) = rv.manifest.get_untracked() else {
            return;
        };
        let source = FolderSource::List(list);
        let root = source.root_name();
        if root != m.folder {
            rv.problem.set(Some(format!(
                "You chose “{root}”; this manifest's files are in “{}”.",
                m.folder
            )));
            return;
        }
        access::register(source);
        spawn_local(async move { rv.check_files(m, false).await });
    });

    view! {
        <section class="card page" data-testid="review-page" aria-live="polite">
            {header}
            <MissingBanner state=rv.files.into() on_connect=on_connect on_file_list=on_file_list on_rerun=on_rerun />
            <Show
                when=move || !rv.rows.with(Vec::is_empty)
                fallback=move || view! {
                    <p class="muted">
                        {move || if rv.manifest.with(Option::is_some) {
                            "No encounter records: approve a manifest version and materialise it on the Discover page."
                        } else {
                            "Open a manifest's review from the Discover page."
                        }}
                    </p>
                }
            >
                <ReviewToolbar
                    counts=counts
                    filter=rv.filter.into()
                    selected=Signal::derive(move || rv.selected.with(HashSet::len))
                    busy=rv.busy.into()
                    on_filter=Callback::new(move |f| {
                        rv.filter.set(f);
                        rv.page_no.set(0);
                    })
                    on_approve_selected=Callback::new(move |_| rv.approve(rv.selected_ids()))
                    on_deny_selected=Callback::new(move |_| {
                        rv.change(&rv.selected_ids(), |r| {
                            r.deny();
                            Ok(())
                        });
                        rv.message.set(Some("Denied: they stay out of the sync.".into()));
                    })
                    on_approve_all=Callback::new(move |_| rv.approve_all())
                    on_reset_all=Callback::new(move |_| {
                        rv.change(&rv.all_ids(), |r| {
                            r.reset();
                            Ok(())
                        });
                        rv.message.set(Some("Every encounter is back to Pending (or Incomplete).".into()));
                    })
                    on_license=Callback::new(move |l: License| {
                        let ids = if rv.selected.with_untracked(HashSet::is_empty) {
                            rv.rows.with_untracked(|r| {
                                r.iter()
                                    .filter(|r| r.record.review != ReviewStatus::Denied)
                                    .map(|r| r.record.id.clone())
                                    .collect()
                            })
                        } else {
                            rv.selected_ids()
                        };
                        let n = ids.len();
                        rv.change(&ids, move |r| {
                            r.license = Some(l);
                            Ok(())
                        });
                        rv.message.set(Some(format!("License “{l}” set on {n} encounter(s).")));
                    })
                />
                {move || rv.problem.get().map(|p| view! { <p class="error" role="alert" data-testid="review-problem">{p}</p> })}
                {move || rv.message.get().map(|p| view! { <p class="notice" role="status" data-testid="review-message">{p}</p> })}
                <ReviewTable
                    ids=page_ids
                    record=record
                    selected=rv.selected.into()
                    expanded=rv.expanded.into()
                    busy=rv.busy.into()
                    on_select=Callback::new(move |(id, on): (String, bool)| {
                        rv.selected.update(|s| {
                            if on {
                                s.insert(id);
                            } else {
                                s.remove(&id);
                            }
                        })
                    })
                    on_select_page=Callback::new(move |on: bool| {
                        let ids = page_ids.get_untracked();
                        rv.selected.update(|s| {
                            for id in ids {
                                if on {
                                    s.insert(id);
                                } else {
                                    s.remove(&id);
                                }
                            }
                        })
                    })
                    on_approve=Callback::new(move |id: String| rv.approve(vec![id]))
                    on_deny=Callback::new(move |id: String| {
                        rv.change(&[id], |r| {
                            r.deny();
                            Ok(())
                        })
                    })
                    on_expand=Callback::new(move |id: Option<String>| rv.expanded.set(id))
                    editor=editor.clone()
                />
                <div class="row" data-testid="pager">
                    <button type="button" disabled=move || rv.page_no.get() == 0 on:click=move |_| rv.page_no.update(|p| *p = p.saturating_sub(1))>
                        "← Previous"
                    </button>
                    <span class="small">{move || format!("Page {} of {}", rv.page_no.get().min(pages.get() - 1) + 1, pages.get())}</span>
                    <button
                        type="button"
                        disabled={move || rv.page_no.get() + 1 >= pages.get()}
                        on:click=move |_| rv.page_no.update(|p| *p += 1)
                    >
                        "Next →"
                    </button>
                </div>
            </Show>
        </section>
    }
}
