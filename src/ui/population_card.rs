//! The population card (spec §3.2): name, its API key's status (spec §3.1 labels, with what to
//! do), a syncing indicator, pending and synced counts of
//! encounters and images (from the stored aggregates; "…" until they are read), and Reset
//! (after a confirmation) when something is synced.

use finsync_core::api::KeyStatus;
use leptos::prelude::*;

use super::connection::KeyLine;

/// Counts shown on the card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub encounters_pending: usize,
    pub encounters_synced: usize,
    pub images_pending: usize,
    pub images_synced: usize,
}

fn show(n: Option<usize>) -> String {
    n.map_or_else(|| "…".into(), |n| n.to_string())
}

#[component]
pub fn PopulationCard(
    name: Signal<Option<String>>,
    /// The population's key (`None` on the card shown while this browser has no key).
    key_status: Signal<Option<KeyLine>>,
    counts: Signal<Option<Counts>>,
    syncing: Signal<bool>,
    on_reset: Callback<()>,
    children: Children,
) -> impl IntoView {
    let confirm = RwSignal::new(false);
    view! {
        <section
            class="card population"
            aria-label=move || name.get().unwrap_or_else(|| "Population".into())
            data-testid="population-card"
        >
            <div class="row spread">
                <h2>
                    {move || name.get().unwrap_or_else(|| "Population".into())}
                </h2>
                <Show when=move || syncing.get()>
                    <span class="badge st-uploading" data-testid="syncing">"Syncing…"</span>
                </Show>
            </div>
            {move || key_status.get().map(|k| {
                let (label, _) = super::connection::key_status_text(k.status);
                let class = match k.status {
                    KeyStatus::Ready => "status-dot status-ok",
                    KeyStatus::Provisioning => "status-dot status-busy",
                    _ => "status-dot status-bad",
                };
                view! {
                    <p class="small card-key" data-testid="card-key-status">
                        <span class=class></span>
                        <strong>{label}</strong>
                        {(k.status != KeyStatus::Ready).then(|| view! { <span class="muted">{format!(" — {}", k.hint())}</span> })}
                    </p>
                }
            })}
            <dl class="counts" data-testid="counts" data-loaded=move || counts.with(Option::is_some).to_string()>
                <div><dt>"Encounters pending"</dt><dd data-testid="count-encounters-pending">{move || show(counts.get().map(|c| c.encounters_pending))}</dd></div>
                <div><dt>"Encounters synced"</dt><dd data-testid="count-encounters-synced">{move || show(counts.get().map(|c| c.encounters_synced))}</dd></div>
                <div><dt>"Images pending"</dt><dd data-testid="count-images-pending">{move || show(counts.get().map(|c| c.images_pending))}</dd></div>
                <div><dt>"Images synced"</dt><dd data-testid="count-images-synced">{move || show(counts.get().map(|c| c.images_synced))}</dd></div>
            </dl>
            {children()}
            <Show when=move || { counts.get().is_some_and(|c| c.encounters_synced > 0) && !syncing.get() }>
                <Show
                    when=move || confirm.get()
                    fallback=move || view! {
                        <button type="button" data-testid="reset" on:click=move |_| confirm.set(true)>"Reset…"</button>
                    }
                >
                    <p role="alert">
                        "Reset marks every synced encounter as pending again. The next Sync re-checks each image with the server and sends only what is missing there; nothing is deleted."
                    </p>
                    <div class="row">
                        <button
                            type="button"
                            class="primary"
                            data-testid="reset-confirm"
                            on:click=move |_| {
                                confirm.set(false);
                                on_reset.run(())
                            }
                        >
                            "Reset to pending"
                        </button>
                        <button type="button" on:click=move |_| confirm.set(false)>"Cancel"</button>
                    </div>
                </Show>
            </Show>
        </section>
    }
}
