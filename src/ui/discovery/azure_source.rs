//! Choosing an Azure container to scan (cloud discovery): one of the saved storage
//! connections, the container, and an optional name prefix. The page lists and reads.

use finsync_core::cloud::StorageConnection;
use leptos::prelude::*;

/// What to scan: connection id, container, prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureScan {
    pub connection_id: String,
    pub container: String,
    pub prefix: String,
}

#[component]
pub fn AzureSource(
    connections: Signal<Vec<StorageConnection>>,
    disabled: Signal<bool>,
    on_scan: Callback<AzureScan>,
) -> impl IntoView {
    let chosen = RwSignal::new(String::new());
    let container = RwSignal::new(String::new());
    let prefix = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = Some(chosen.get_untracked())
            .filter(|c| !c.is_empty())
            .or_else(|| connections.with_untracked(|c| c.first().map(|c| c.id.clone())))
            .unwrap_or_default();
        on_scan.run(AzureScan {
            connection_id: id,
            container: container.get_untracked().trim().to_string(),
            prefix: prefix.get_untracked().trim_start_matches('/').to_string(),
        });
    };
    view! {
        <section class="card" aria-labelledby="azure-scan-heading" data-testid="azure-source">
            <h2 id="azure-scan-heading">"…or scan an Azure container"</h2>
            <Show
                when=move || connections.with(|c| !c.is_empty())
                fallback=|| view! {
                    <p class="muted">
                        "No storage connection in this browser yet: add one under "
                        <a href="#/settings">"Settings → Azure storage connections"</a> "."
                    </p>
                }
            >
                <p class="muted">
                    "finsync lists the container and reads only the start and end of each image (Range requests); the images stay in Azure and the server copies them at sync."
                </p>
                <form class="row" on:submit=submit aria-label="Scan an Azure container">
                    <label>
                        "Connection"
                        <select name="azure-connection" on:change=move |ev| chosen.set(event_target_value(&ev))>
                            {move || connections.get().into_iter().map(|c| view! {
                                <option value=c.id.clone()>{format!("{} ({})", c.name, c.account)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>
                        "Container"
                        <input type="text" name="azure-scan-container" required placeholder="photos" prop:value=move || container.get() on:input=move |ev| container.set(event_target_value(&ev)) />
                    </label>
                    <label>
                        "Prefix (optional)"
                        <input type="text" name="azure-scan-prefix" placeholder="2024/" prop:value=move || prefix.get() on:input=move |ev| prefix.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit" class="primary" data-testid="azure-scan" disabled=move || disabled.get()>
                        "Scan container"
                    </button>
                </form>
            </Show>
        </section>
    }
}
