//! The scan jobs, one card each: folder, state, counts, what changed since the previous scan,
//! and what can be done with it.

use std::collections::HashSet;

use leptos::prelude::*;

use crate::discovery::model::{ScanJob, ScanState};
use crate::ui::human_bytes;

/// What the person asked for on a job card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobAction {
    Details(String),
    /// Continue an interrupted or cancelled scan.
    Resume(String),
    /// Scan the folder again (new job, diffed against this one).
    Rescan(String),
    /// Open the folder again in this tab (permission or choosing it again).
    Reconnect(String),
    NewManifest(String),
    Delete(String),
}

fn state_text(j: &ScanJob, running: bool) -> (&'static str, &'static str) {
    match j.state {
        ScanState::Running if running => ("st-uploading", "Running"),
        ScanState::Running => ("st-error", "Interrupted"),
        ScanState::Done => ("st-complete", "Done"),
        ScanState::Cancelled => ("st-skipped", "Cancelled"),
        ScanState::Failed => ("st-error", "Failed"),
    }
}

/// Where the job's fingerprint phase stands, when it has not finished with every image.
fn fingerprint_text(j: &ScanJob, open: bool) -> Option<String> {
    let c = &j.counts;
    let left = c.fingerprints_left();
    if j.state != ScanState::Done || left == 0 {
        return None;
    }
    let done = c.images - left;
    Some(
        if c.fingerprint_failed >= left && j.fingerprints_ended_ms.is_some() {
            format!(
            "Fingerprints: {done} / {}; {} image(s) could not be fingerprinted (moved, deleted or changed since the scan): run discovery again to use them.",
            c.images, c.fingerprint_failed
        )
        } else if open {
            format!("Fingerprinting {done} / {} images…", c.images)
        } else {
            format!(
                "Fingerprints: {done} / {} — reconnect the folder to finish (a sync does it too).",
                c.images
            )
        },
    )
}

#[component]
pub fn ScanJobs(
    jobs: Signal<Vec<ScanJob>>,
    running: Signal<Option<String>>,
    /// Folders open in this tab.
    open: Signal<HashSet<String>>,
    busy: Signal<bool>,
    on_action: Callback<JobAction>,
) -> impl IntoView {
    let card = move |j: ScanJob| {
        let id = j.id.clone();
        let is_running = Signal::derive({
            let id = id.clone();
            move || running.get().as_deref() == Some(id.as_str())
        });
        let folder = j.folder.clone();
        let is_open = Signal::derive(move || open.with(|o| o.contains(&folder)));
        let act =
            move |a: fn(String) -> JobAction, id: String| move |_| on_action.run(a(id.clone()));
        let on_details = act(JobAction::Details, id.clone());
        let on_resume = act(JobAction::Resume, id.clone());
        let on_rescan = act(JobAction::Rescan, id.clone());
        let on_reconnect = act(JobAction::Reconnect, id.clone());
        let on_new = act(JobAction::NewManifest, id.clone());
        let on_delete = act(JobAction::Delete, id.clone());
        let c = j.counts.clone();
        let can_resume = matches!(j.state, ScanState::Running | ScanState::Cancelled);
        let done = j.state == ScanState::Done;
        let diff = j.diff.clone().map(|d| {
            format!(
                "Since the previous scan: {} new, {} changed, {} removed, {} unchanged.",
                d.new, d.changed, d.removed, d.unchanged
            )
        });
        let error = j.error.clone();
        let j3 = j.clone();
        let j2 = j.clone();
        let azure = j.origin.is_azure();
        let source = j.origin.label(&j.folder);
        view! {
            <li class="job-card" data-testid="scan-job" data-job=id.clone()>
                <div class="row spread">
                    <div>
                        <strong data-testid="scan-job-name">{j.name.clone()}</strong>
                        " "
                        {move || {
                            let (class, label) = state_text(&j2, is_running.get());
                            view! {
                                <span class=format!("badge {class}") data-testid="scan-job-state">
                                    {label}
                                </span>
                            }
                        }}
                        <div class="muted small">
                            <span data-testid="scan-job-source">{source}</span>
                            " · "
                            {format!("started {}", j.started_at.replace('T', " ").chars().take(19).collect::<String>())}
                            {move || if is_open.get() { " · folder open in this tab" } else { "" }}
                        </div>
                    </div>
                    <div class="row">
                        <button type="button" on:click=on_details>
                            "Details"
                        </button>
                        <Show when=move || can_resume && !is_running.get()>
                            <button
                                type="button"
                                data-testid="scan-resume"
                                disabled=move || busy.get()
                                on:click=on_resume.clone()
                            >
                                "Resume"
                            </button>
                        </Show>
                        <Show when=move || !is_running.get()>
                            <button
                                type="button"
                                data-testid="scan-rescan"
                                disabled=move || busy.get()
                                on:click=on_rescan.clone()
                            >
                                "Rescan"
                            </button>
                        </Show>
                        <Show when=move || !azure && !is_open.get()>
                            <button
                                type="button"
                                data-testid="scan-reconnect"
                                disabled=move || busy.get()
                                on:click=on_reconnect.clone()
                            >
                                "Reconnect folder"
                            </button>
                        </Show>
                        <Show when=move || done>
                            <button
                                type="button"
                                class="primary"
                                data-testid="new-manifest"
                                on:click=on_new.clone()
                            >
                                "New manifest"
                            </button>
                        </Show>
                        <Show when=move || !is_running.get()>
                            <button
                                type="button"
                                class="secondary"
                                on:click=on_delete.clone()
                            >
                                "Delete"
                            </button>
                        </Show>
                    </div>
                </div>
                <p class="small" data-testid="scan-job-counts">
                    {format!(
                        "{} files: {} images ({}), {} skipped ({} hidden/system, {} RAW, {} other{}), {} with problems, {} with metadata warnings.",
                        c.files_seen,
                        c.images,
                        human_bytes(c.image_bytes as f64),
                        c.skipped_hidden + c.skipped_raw + c.skipped_other,
                        c.skipped_hidden,
                        c.skipped_raw,
                        c.skipped_other,
                        if c.skipped_hidden_dirs > 0 {
                            format!("; {} hidden folders", c.skipped_hidden_dirs)
                        } else {
                            String::new()
                        },
                        c.errors,
                        c.with_warnings,
                    )}
                </p>
                {move || {
                    fingerprint_text(&j3, is_open.get())
                        .map(|f| view! { <p class="small" data-testid="scan-job-fingerprints">{f}</p> })
                }}
                {diff.map(|d| view! { <p class="small" data-testid="scan-job-diff">{d}</p> })}
                {error.map(|e| view! { <p class="error small">{e}</p> })}
            </li>
        }
    };
    view! {
        <section class="card" aria-labelledby="jobs-heading">
            <h2 id="jobs-heading">"Scan jobs"</h2>
            <Show
                when=move || !jobs.with(Vec::is_empty)
                fallback=|| view! { <p class="muted">"No scans yet."</p> }
            >
                <ul class="plain">
                    <For
                        each=move || jobs.get()
                        key=|j| {
                            format!(
                                "{}:{:?}:{}:{:?}:{}",
                                j.id,
                                j.state,
                                j.counts.files_seen,
                                j.counts.fingerprinted,
                                j.counts.fingerprint_failed,
                            )
                        }
                        children=card
                    />
                </ul>
            </Show>
        </section>
    }
}
