//! The card's expandable per-image statuses (spec §3.2, §5): a toggle for the list of
//! encounters, and per encounter a toggle for its images. An encounter's images are asked for
//! (`on_load`) the first time it is opened, so a big library costs nothing until then.

use leptos::prelude::*;

use super::encounter_state::EncounterState;
use super::file_table::{status_detail, status_label, FileRow};

/// Rows shown at first per encounter; "Show more" adds as many again.
const PAGE: usize = 200;

/// One encounter of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct EncounterImages {
    pub local_id: String,
    pub label: String,
    pub state: EncounterState,
    pub complete: u32,
    pub images: u32,
    /// `None` until loaded.
    pub rows: Option<Vec<FileRow>>,
}

#[component]
pub fn ImageStatusList(
    encounters: Signal<Vec<EncounterImages>>,
    on_load: Callback<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <Show when=move || !encounters.with(Vec::is_empty)>
            <div class="image-statuses">
                <button
                    type="button"
                    class="disclosure"
                    aria-expanded=move || open.get().to_string()
                    aria-controls="image-status-list"
                    data-testid="image-status-toggle"
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    {move || {
                        let n = encounters.with(Vec::len);
                        format!("Image statuses ({n} encounter{})", if n == 1 { "" } else { "s" })
                    }}
                </button>
                <Show when=move || open.get()>
                    <ul id="image-status-list" class="plain">
                        <For
                            each=move || encounters.with(|e| e.iter().map(|e| e.local_id.clone()).collect::<Vec<_>>())
                            key=|id| id.clone()
                            children=move |id| view! { <EncounterEntry id=id encounters=encounters on_load=on_load /> }
                        />
                    </ul>
                </Show>
            </div>
        </Show>
    }
}

#[component]
fn EncounterEntry(
    id: String,
    encounters: Signal<Vec<EncounterImages>>,
    on_load: Callback<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let shown = RwSignal::new(PAGE);
    let list_id = format!(
        "images-{}",
        id.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let this = {
        let id = id.clone();
        Memo::new(move |_| encounters.with(|e| e.iter().find(|e| e.local_id == id).cloned()))
    };
    let toggle = {
        let id = id.clone();
        move |_| {
            open.update(|o| *o = !*o);
            if open.get_untracked()
                && this.with_untracked(|t| t.as_ref().is_some_and(|t| t.rows.is_none()))
            {
                on_load.run(id.clone());
            }
        }
    };
    view! {
        <li class="encounter-entry" data-testid="encounter-entry">
            <button
                type="button"
                class="disclosure"
                aria-expanded=move || open.get().to_string()
                aria-controls=list_id.clone()
                data-testid="encounter-toggle"
                on:click=toggle
            >
                {move || this.with(|t| t.as_ref().map(|t| {
                    let (label, _) = t.state.label();
                    format!("{} — {label}, {} of {} complete", t.label, t.complete, t.images)
                }).unwrap_or_default())}
            </button>
            <Show when=move || open.get()>
                <div id=list_id.clone()>
                    {move || match this.with(|t| t.as_ref().and_then(|t| t.rows.clone())) {
                        None => view! { <p class="muted small" role="status">"Loading…"</p> }.into_any(),
                        Some(rows) => {
                            let total = rows.len();
                            view! {
                                <ul class="plain image-rows" data-testid="image-rows">
                                    {rows
                                        .into_iter()
                                        .take(shown.get())
                                        .map(|r| {
                                            let (class, label) = status_label(&r.status);
                                            view! {
                                                <li data-path=r.path.clone()>
                                                    <span class=format!("badge {class}") data-testid="file-status">{label}</span>
                                                    " "
                                                    <span class="path">{r.path.clone()}</span>
                                                    {status_detail(&r.status).map(|d| view! { <div class="error small">{d}</div> })}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                                <Show when=move || { total > shown.get() }>
                                    <button type="button" on:click=move |_| shown.update(|s| *s += PAGE)>
                                        {move || format!("Show more ({} of {total} shown)", shown.get().min(total))}
                                    </button>
                                </Show>
                            }
                            .into_any()
                        }
                    }}
                </div>
            </Show>
        </li>
    }
}
