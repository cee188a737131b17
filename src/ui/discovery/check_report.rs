//! The result of matching a folder chosen again against what a scan stored (relative path +
//! size + lastModified): which files are missing or changed.

use leptos::prelude::*;

use crate::discovery::access::CheckReport;

const SHOWN: usize = 100;

#[component]
pub fn CheckReportView(
    /// The folder and the report.
    report: Signal<Option<(String, CheckReport)>>,
    on_close: Callback<()>,
) -> impl IntoView {
    view! {
        {move || {
            report.get().map(|(folder, r)| {
                let ok = r.gone() == 0 && r.failed.is_empty();
                let list = |title: String, items: Vec<String>, testid: &'static str| {
                    (!items.is_empty()).then(|| {
                        let n = items.len();
                        view! {
                            <div class="error-group" data-testid=testid>
                                <h3>{title}</h3>
                                <ul>
                                    {items.into_iter().take(SHOWN).map(|p| view! { <li class="path">{p}</li> }).collect_view()}
                                    {(n > SHOWN).then(|| view! { <li class="muted">{format!("…and {} more", n - SHOWN)}</li> })}
                                </ul>
                            </div>
                        }
                    })
                };
                view! {
                    <section class=if ok { "card" } else { "card warn-card" } data-testid="check-report">
                        <div class="row spread">
                            <h2 class="inline">{format!("“{folder}” matched against the scan")}</h2>
                            <button type="button" on:click=move |_| on_close.run(())>"Close"</button>
                        </div>
                        <p data-testid="check-summary">
                            {if ok {
                                format!("All {} files are there, unchanged.", r.checked)
                            } else {
                                format!(
                                    "{} of {} files checked: {} missing, {} changed. Missing files are left out of sync until discovery runs again; changed files are read again by a rescan.",
                                    r.checked,
                                    r.checked,
                                    r.missing.len(),
                                    r.changed.len()
                                )
                            }}
                        </p>
                        {list(format!("Missing ({})", r.missing.len()), r.missing.clone(), "check-missing")}
                        {list(format!("Changed ({})", r.changed.len()), r.changed.clone(), "check-changed")}
                        {list(format!("Could not be checked ({})", r.failed.len()), r.failed.clone(), "check-failed")}
                    </section>
                }
            })
        }}
    }
}
