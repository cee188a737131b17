//! The Upload button, the progress bar and the outcome of the last run.

use leptos::prelude::*;

use super::human_bytes;
use crate::upload::Summary;

#[component]
pub fn UploadPanel(
    can_upload: Signal<bool>,
    busy: Signal<bool>,
    phase: Signal<String>,
    bytes: Signal<(f64, f64)>,
    summary: Signal<Option<Summary>>,
    error: Signal<Option<String>>,
    image_count: Signal<usize>,
    on_upload: Callback<()>,
) -> impl IntoView {
    let percent = move || {
        let (sent, total) = bytes.get();
        if total > 0.0 {
            (sent / total * 100.0).clamp(0.0, 100.0)
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
                    {move || if busy.get() { "Uploading…".to_string() } else { format!("Upload {} images", image_count.get()) }}
                </button>
                <span class="muted" data-testid="phase">{move || phase.get()}</span>
            </div>
            <Show when=move || { busy.get() || bytes.get().1 > 0.0 }>
                <div
                    class="progress"
                    role="progressbar"
                    aria-label="Bytes uploaded"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || format!("{:.0}", percent())
                >
                    <div class="progress-fill" style=move || format!("width: {:.1}%", percent())></div>
                </div>
                <p class="small muted">
                    {move || {
                        let (s, t) = bytes.get();
                        format!("{} of {}", human_bytes(s), human_bytes(t))
                    }}
                </p>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="error">{e}</p> })}
            {move || summary.get().map(|s| view! {
                <p class="summary" data-testid="summary">
                    {format!(
                        "{} uploaded, {} already on the server, {} failed.",
                        s.uploaded, s.already_complete, s.failed
                    )}
                    {s.encounter_url.map(|u| view! { " " <a href=u target="_blank" rel="noopener">"View the encounter on the server"</a> })}
                </p>
            })}
        </section>
    }
}
