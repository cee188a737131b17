//! The Upload button, Pause/Resume/Cancel, the progress bar and the outcome of the last run.

use leptos::prelude::*;

use super::human_bytes;

/// The outcome of a run, as shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub uploaded: usize,
    pub already_complete: usize,
    pub failed: usize,
    pub skipped: usize,
    pub encounter_url: Option<String>,
    /// Set when the run stopped early (key rejected, cancelled).
    pub stopped: Option<String>,
}

/// Where a running sync stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunProgress {
    pub encounters_done: usize,
    pub encounters_total: usize,
    pub images_done: usize,
    pub images_total: usize,
    pub bytes_done: f64,
    pub bytes_total: f64,
    /// Bytes per second since the run started.
    pub rate: f64,
    pub paused: bool,
    pub offline: bool,
    /// The encounter being synced: its label and, once it exists, its page on the server.
    pub current: Option<(String, Option<String>)>,
}

impl RunProgress {
    /// Recomputes the rate from the bytes done after `elapsed_ms`.
    pub fn update_rate(&mut self, elapsed_ms: u64) {
        if elapsed_ms >= 500 {
            self.rate = self.bytes_done / (elapsed_ms as f64 / 1000.0);
        }
    }

    /// Seconds left at the current rate, if there is one.
    pub fn eta_secs(&self) -> Option<f64> {
        (self.rate > 0.0 && self.bytes_total > self.bytes_done)
            .then(|| (self.bytes_total - self.bytes_done) / self.rate)
    }
}

/// `75` → `"1 min 15 s"`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[component]
pub fn UploadPanel(
    can_upload: Signal<bool>,
    busy: Signal<bool>,
    phase: Signal<String>,
    progress: Signal<RunProgress>,
    summary: Signal<Option<RunSummary>>,
    error: Signal<Option<String>>,
    image_count: Signal<usize>,
    on_upload: Callback<()>,
    on_pause: Callback<bool>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let percent = move || {
        let p = progress.get();
        if p.bytes_total > 0.0 {
            (p.bytes_done / p.bytes_total * 100.0).clamp(0.0, 100.0)
        } else if p.images_total > 0 {
            p.images_done as f64 / p.images_total as f64 * 100.0
        } else {
            0.0
        }
    };
    view! {
        <section class="card" aria-labelledby="upload-heading">
            <h2 id="upload-heading">"Upload"</h2>
            <div class="row">
                <button
                    type="button"
                    class="primary"
                    data-testid="upload"
                    disabled=move || !can_upload.get() || busy.get()
                    on:click=move |_| on_upload.run(())
                >
                    {move || {
                        if busy.get() {
                            "Uploading…".to_string()
                        } else {
                            format!("Upload {} images", image_count.get())
                        }
                    }}
                </button>
                <Show when=move || busy.get()>
                    <button
                        type="button"
                        data-testid="pause"
                        on:click=move |_| on_pause.run(!progress.get_untracked().paused)
                    >
                        {move || if progress.get().paused { "Resume" } else { "Pause" }}
                    </button>
                    <button type="button" data-testid="cancel" on:click=move |_| on_cancel.run(())>
                        "Cancel"
                    </button>
                </Show>
                <span class="muted" data-testid="phase">
                    {move || phase.get()}
                </span>
            </div>
            <Show when=move || { busy.get() || progress.get().images_total > 0 }>
                <div
                    class="progress"
                    role="progressbar"
                    aria-label="Upload progress"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || format!("{:.0}", percent())
                >
                    <div
                        class="progress-fill"
                        style:transform=move || format!("scaleX({:.4})", percent() / 100.0)
                    ></div>
                </div>
                <p class="small muted" data-testid="progress-text">
                    {move || {
                        let p = progress.get();
                        let state = if p.offline {
                            " · offline: waiting for the network"
                        } else if p.paused {
                            " · paused"
                        } else {
                            ""
                        };
                        let rate = if p.rate > 0.0 {
                            format!(" · {}/s", human_bytes(p.rate))
                        } else {
                            String::new()
                        };
                        let eta = p
                            .eta_secs()
                            .filter(|_| !p.paused && !p.offline)
                            .map(|s| format!(" · about {} left", human_duration(s)))
                            .unwrap_or_default();
                        format!(
                            "{} of {} encounters · {} of {} images · {} of {}{rate}{eta}{state}",
                            p.encounters_done,
                            p.encounters_total,
                            p.images_done,
                            p.images_total,
                            human_bytes(p.bytes_done),
                            human_bytes(p.bytes_total),
                        )
                    }}
                </p>
                {move || {
                    progress
                        .get()
                        .current
                        .filter(|_| busy.get())
                        .map(|(label, url)| {
                            view! {
                                <p class="small" data-testid="current-encounter">
                                    "Now: " {label}
                                    {url.map(|u| view! {
                                        " · " <a href=u target="_blank" rel="noopener">"on the server"</a>
                                    })}
                                </p>
                            }
                        })
                }}
            </Show>
            {move || {
                error.get().map(|e| view! { <p class="error" role="alert" data-testid="error">{e}</p> })
            }}
            {move || {
                summary
                    .get()
                    .map(|s| {
                        view! {
                            <p class="summary" data-testid="summary">
                                {format!(
                                    "{} uploaded, {} already on the server, {} failed.",
                                    s.uploaded,
                                    s.already_complete,
                                    s.failed,
                                )}
                                {(s.skipped > 0).then(|| format!(" {} skipped.", s.skipped))}
                                {s.stopped.map(|m| view! { " " <span class="error">{m}</span> })}
                                {s.encounter_url.map(|u| view! {
                                    " " <a href=u target="_blank" rel="noopener">"View the encounter on the server"</a>
                                })}
                            </p>
                        }
                    })
            }}
        </section>
    }
}
