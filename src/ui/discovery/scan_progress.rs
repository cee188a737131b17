//! A running scan: files seen, images found, rate, and Cancel.

use leptos::prelude::*;

use crate::discovery::model::ScanJob;

#[component]
pub fn ScanProgress(
    job: Signal<Option<ScanJob>>,
    /// `Date.now()`, ticking while the scan runs (for the rate).
    now_ms: Signal<f64>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    view! {
        {move || {
            job.get()
                .map(|j| {
                    let rate = j.rate(now_ms.get());
                    let c = j.counts.clone();
                    let skipped = c.skipped_hidden + c.skipped_raw + c.skipped_other;
                    view! {
                        <section class="card" aria-live="polite" data-testid="scan-progress">
                            <div class="row spread">
                                <h2 class="inline">"Scanning “" {j.folder.clone()} "”…"</h2>
                                <button
                                    type="button"
                                    class="danger"
                                    data-testid="scan-cancel"
                                    on:click=move |_| on_cancel.run(())
                                >
                                    "Cancel"
                                </button>
                            </div>
                            <div class="progress indeterminate">
                                <div class="progress-fill"></div>
                            </div>
                            <dl class="counts">
                                <div>
                                    <dt>"Files seen"</dt>
                                    <dd data-testid="scan-files-seen">{c.files_seen}</dd>
                                </div>
                                <div>
                                    <dt>"Images found"</dt>
                                    <dd data-testid="scan-images">{c.images}</dd>
                                </div>
                                <div>
                                    <dt>"Skipped"</dt>
                                    <dd>{skipped}</dd>
                                </div>
                                <div>
                                    <dt>"Problems"</dt>
                                    <dd>{c.errors}</dd>
                                </div>
                                <div>
                                    <dt>"Rate"</dt>
                                    <dd data-testid="scan-rate">{format!("{rate:.0} files/s")}</dd>
                                </div>
                            </dl>
                        </section>
                    }
                })
        }}
    }
}
