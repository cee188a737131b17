//! The manifests: one card each with its scan, population, latest version and what is under
//! review.

use leptos::prelude::*;

/// One manifest as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRow {
    pub id: String,
    pub name: String,
    pub folder: String,
    pub scan: String,
    pub population: String,
    pub latest: u32,
    /// The newest approved version.
    pub active: Option<u32>,
    pub materialized: Option<u32>,
}

#[component]
pub fn ManifestList(
    rows: Signal<Vec<ManifestRow>>,
    selected: Signal<Option<String>>,
    on_edit: Callback<String>,
    on_review: Callback<String>,
) -> impl IntoView {
    let card = move |m: ManifestRow| {
        let (id1, id2, id3) = (m.id.clone(), m.id.clone(), m.id.clone());
        let status = match m.active {
            Some(v) => format!("v{} latest · v{v} approved", m.latest),
            None => format!("v{} latest · not approved", m.latest),
        };
        view! {
            <li
                class="manifest-card"
                class:selected=move || selected.get().as_deref() == Some(id3.as_str())
                data-testid="manifest"
            >
                <div class="row spread">
                    <div>
                        <strong>{m.name.clone()}</strong>
                        <div class="muted small">
                            {format!("{} · {} · population {}", m.folder, m.scan, m.population)}
                        </div>
                        <div class="small" data-testid="manifest-status">{status}</div>
                    </div>
                    <div class="row">
                        <button type="button" data-testid="edit-manifest" on:click=move |_| on_edit.run(id1.clone())>
                            "Edit"
                        </button>
                        {m.materialized.map(|v| {
                            view! {
                                <button
                                    type="button"
                                    class="primary"
                                    data-testid="open-review"
                                    on:click=move |_| on_review.run(id2.clone())
                                >
                                    {format!("Review (v{v})")}
                                </button>
                            }
                        })}
                    </div>
                </div>
            </li>
        }
    };
    view! {
        <section class="card" aria-labelledby="manifests-heading">
            <h2 id="manifests-heading">"Manifests"</h2>
            <Show
                when=move || !rows.with(Vec::is_empty)
                fallback=|| view! { <p class="muted">"No manifests yet: press “New manifest” on a finished scan."</p> }
            >
                <ul class="plain">
                    <For
                        each=move || rows.get()
                        key=|m| format!("{}:{}:{:?}:{:?}:{}", m.id, m.latest, m.active, m.materialized, m.scan)
                        children=card
                    />
                </ul>
            </Show>
        </section>
    }
}
