//! The activity log page: newest first, filtered by category, 50 per page with "Load more",
//! exported as JSON or CSV.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::activity::{to_csv, Category, Entry};
use crate::app::AppState;
use crate::pages::{download, Page};

const PAGE: usize = 50;

fn time_label(ms: f64) -> String {
    let d = js_sys::Date::new(&ms.into());
    d.to_locale_string("default", &js_sys::Object::new())
        .as_string()
        .unwrap_or_default()
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let state = expect_context::<AppState>();
    let entries: RwSignal<Vec<Entry>> = RwSignal::new(Vec::new());
    let filter: RwSignal<Option<Category>> = RwSignal::new(None);
    let shown = RwSignal::new(PAGE);
    Effect::new(move |_| {
        let visible = state.page.get() == Page::Activity;
        if let (true, Some(store)) = (visible, state.store.get()) {
            spawn_local(async move {
                match store.activity().await {
                    Ok(v) => entries.set(v),
                    Err(e) => state.error.set(Some(e.to_string())),
                }
            });
        }
    });
    let filtered = Signal::derive(move || {
        let f = filter.get();
        entries.with(|all| {
            all.iter()
                .filter(|e| f.is_none_or(|c| e.category == c))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    view! {
        <section class="card page" aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Activity log"</h2>
            <p class="muted">
                "What this browser did, newest first. It never records keys, SAS signatures or file contents."
            </p>
            <div class="row">
                <label>
                    "Category "
                    <select
                        data-testid="activity-filter"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            filter.set(Category::ALL.into_iter().find(|c| c.label() == v));
                            shown.set(PAGE);
                        }
                    >
                        <option value="">"All"</option>
                        {Category::ALL
                            .into_iter()
                            .map(|c| view! { <option value=c.label()>{c.label()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <button
                    type="button"
                    on:click=move |_| {
                        let json = serde_json::to_string_pretty(&filtered.get_untracked()).unwrap_or_default();
                        download("finsync-activity.json", "application/json", &json)
                    }
                >
                    "Export JSON"
                </button>
                <button
                    type="button"
                    on:click=move |_| download("finsync-activity.csv", "text/csv", &to_csv(&filtered.get_untracked()))
                >
                    "Export CSV"
                </button>
            </div>
            <Show
                when=move || !filtered.with(Vec::is_empty)
                fallback=|| view! { <p class="muted">"Nothing logged yet."</p> }
            >
                <table class="files" data-testid="activity-table">
                    <thead>
                        <tr>
                            <th scope="col">"Time"</th>
                            <th scope="col">"Category"</th>
                            <th scope="col">"Action"</th>
                            <th scope="col">"Detail"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            filtered
                                .get()
                                .into_iter()
                                .take(shown.get())
                                .map(|e| {
                                    view! {
                                        <tr data-testid="activity-row">
                                            <td class="nowrap">{time_label(e.at)}</td>
                                            <td><span class=format!("badge cat-{}", e.category.label())>{e.category.label()}</span></td>
                                            <td>
                                                {e.action.clone()}
                                                {(!e.ok).then(|| view! { " " <span class="error">"(failed)"</span> })}
                                            </td>
                                            <td class="path">{e.detail.clone()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
                <Show when=move || { filtered.with(Vec::len) > shown.get() }>
                    <button type="button" on:click=move |_| shown.update(|n| *n += PAGE)>
                        "Load more"
                    </button>
                </Show>
            </Show>
        </section>
    }
}
