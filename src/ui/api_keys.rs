//! This browser's API keys in Settings: one row per population with its status (spec §3.1
//! labels), where the key came from, and Re-provision for a provisioned key the server
//! rejects. The keys themselves are never shown.

use finsync_core::api::KeyStatus;
use leptos::prelude::*;

use super::connection::KeyLine;

#[component]
pub fn ApiKeyList(
    keys: Signal<Vec<KeyLine>>,
    /// What the last Re-provision did or needs.
    message: Signal<Option<String>>,
    on_reprovision: Callback<i64>,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="keys-heading" data-testid="api-keys">
            <h2 id="keys-heading">"API keys of this browser"</h2>
            <Show
                when=move || !keys.with(Vec::is_empty)
                fallback=|| view! {
                    <p class="muted">"None yet: sign in below and open the Sync page, or paste a key above."</p>
                }
            >
                <ul class="choices">
                    {move || {
                        keys.get()
                            .into_iter()
                            .map(|k| {
                                let population = k.population.as_ref().map(|p| p.id);
                                let reprovision = population
                                    .filter(|_| !k.pasted && matches!(k.status, KeyStatus::Invalid | KeyStatus::NotProvisioned));
                                view! {
                                    <li data-testid="api-key-row">
                                        <strong>{k.label()}</strong>
                                        <span class="muted small">{if k.pasted { " · pasted" } else { " · provisioned" }}</span>
                                        {(k.status != KeyStatus::Ready).then(|| view! { <p class="small">{k.hint()}</p> })}
                                        {reprovision.map(|id| view! {
                                            <button type="button" data-testid="reprovision" on:click=move |_| on_reprovision.run(id)>
                                                "Re-provision"
                                            </button>
                                        })}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
            {move || message.get().map(|m| view! { <p role="status" data-testid="api-key-message">{m}</p> })}
        </section>
    }
}
