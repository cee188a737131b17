//! The approved manifests of the population card (spec §3.2): version, scan job, encounter
//! and image counts, and the buttons Review, Ensure Individuals and Sync, with Ensure's
//! inline progress and result.

use leptos::prelude::*;

/// One row as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    pub manifest_id: String,
    pub version: u32,
    pub scan_job_name: String,
    pub encounters: usize,
    pub images: usize,
    pub individuals: usize,
    /// Ensure Individuals: progress while it runs, then the summary.
    pub ensure: Option<String>,
}

#[component]
pub fn ManifestRows(
    rows: Signal<Vec<ManifestRow>>,
    /// Sync and Ensure are disabled (no ready key, or a sync runs).
    disabled: Signal<bool>,
    on_sync: Callback<String>,
    on_ensure: Callback<String>,
) -> impl IntoView {
    view! {
        <Show
            when=move || !rows.with(Vec::is_empty)
            fallback=|| view! {
                <p class="muted" data-testid="no-manifests">
                    "No approved manifests yet: scan a folder on the Discover page, approve its manifest and its encounters, and it appears here."
                </p>
            }
        >
            <table class="files manifests" data-testid="manifest-rows">
                <thead>
                    <tr>
                        <th scope="col">"Manifest"</th>
                        <th scope="col" class="num">"Encounters"</th>
                        <th scope="col" class="num">"Images"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows.get()
                            .into_iter()
                            .map(|r| {
                                let id_sync = r.manifest_id.clone();
                                let id_ensure = r.manifest_id.clone();
                                view! {
                                    <tr data-testid="manifest-row">
                                        <td>{format!("v{} · {}", r.version, r.scan_job_name)}</td>
                                        <td class="num">{r.encounters}</td>
                                        <td class="num">{r.images}</td>
                                        <td>
                                            <div class="row">
                                                <a class="button" href=format!("#/review/{}", r.manifest_id)>"Review"</a>
                                                <button
                                                    type="button"
                                                    data-testid="ensure"
                                                    disabled=move || disabled.get() || r.individuals == 0
                                                    title=if r.individuals == 0 { "This manifest names no individuals" } else { "Create missing individuals on the server" }
                                                    on:click=move |_| on_ensure.run(id_ensure.clone())
                                                >
                                                    "Ensure Individuals"
                                                </button>
                                                <button
                                                    type="button"
                                                    class="primary"
                                                    data-testid="sync-manifest"
                                                    disabled=move || disabled.get()
                                                    on:click=move |_| on_sync.run(id_sync.clone())
                                                >
                                                    "Sync"
                                                </button>
                                            </div>
                                            {r.ensure.map(|e| view! { <p class="small" data-testid="ensure-result">{e}</p> })}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </Show>
    }
}
