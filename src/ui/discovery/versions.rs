//! A manifest's versions (spec §2.6): each with its status and change summary; revert (a new
//! version), approve, back to draft, materialise.

use leptos::prelude::*;

/// One version as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub version: u32,
    pub created_at: String,
    pub based_on: Option<u32>,
    /// "Draft" or "Approved by … at …".
    pub status: String,
    pub approved: bool,
    pub changes: Vec<String>,
    pub latest: bool,
    /// Its records are the ones under review.
    pub materialized: bool,
}

#[component]
pub fn Versions(
    rows: Signal<Vec<VersionRow>>,
    busy: Signal<bool>,
    on_revert: Callback<u32>,
    on_approve: Callback<u32>,
    on_draft: Callback<u32>,
    on_materialize: Callback<u32>,
) -> impl IntoView {
    let row = move |v: VersionRow| {
        let n = v.version;
        let changes = if v.changes.is_empty() {
            match v.based_on {
                None => "first version".to_string(),
                Some(_) => "no changes".to_string(),
            }
        } else {
            v.changes.join("; ")
        };
        view! {
            <li data-testid="version" data-version=n>
                <div class="row">
                    <strong>{format!("v{n}")}</strong>
                    <span
                        class=if v.approved { "badge st-complete" } else { "badge" }
                        data-testid="version-status"
                    >
                        {v.status.clone()}
                    </span>
                    {v.latest.then(|| view! { <span class="muted small">"latest"</span> })}
                    {v.materialized.then(|| view! { <span class="badge st-uploaded">"under review"</span> })}
                    <span class="muted small">{v.created_at.replace('T', " ").chars().take(19).collect::<String>()}</span>
                    <span class="small">
                        {(!v.latest)
                            .then(|| {
                                view! {
                                    <button type="button" disabled=move || busy.get() on:click=move |_| on_revert.run(n)>
                                        {format!("Revert to v{n}")}
                                    </button>
                                }
                            })}
                        {if v.approved {
                            view! {
                                <button type="button" disabled=move || busy.get() on:click=move |_| on_draft.run(n)>
                                    "Back to draft"
                                </button>
                                <button
                                    type="button"
                                    class="primary"
                                    data-testid="materialize"
                                    disabled=move || busy.get()
                                    on:click=move |_| on_materialize.run(n)
                                >
                                    {if v.materialized { "Materialise again" } else { "Materialise" }}
                                </button>
                            }
                                .into_any()
                        } else {
                            view! {
                                <button
                                    type="button"
                                    class="primary"
                                    data-testid="approve-version"
                                    disabled=move || busy.get()
                                    on:click=move |_| on_approve.run(n)
                                >
                                    "Approve"
                                </button>
                            }
                                .into_any()
                        }}
                    </span>
                </div>
                <div class="muted small">{changes}</div>
            </li>
        }
    };
    let newest_first = move || {
        let mut v = rows.get();
        v.reverse();
        v
    };
    view! {
        <div class="chain versions" data-testid="versions">
            <h3>"Versions"</h3>
            <ol class="plain">
                <For
                    each=newest_first
                    key=|v| format!("{}:{}:{}:{}", v.version, v.status, v.latest, v.materialized)
                    children=row
                />
            </ol>
        </div>
    }
}
