//! One scan's details: skipped files by reason, per-file problems and what changed since the
//! previous scan.

use leptos::prelude::*;

use crate::discovery::model::{ScanFile, ScanJob};

/// Rows shown per list before "…and N more".
const SHOWN: usize = 200;

#[component]
pub fn ScanDetails(
    job: Signal<Option<ScanJob>>,
    /// Files of the job with an error or warnings.
    problems: Signal<Vec<ScanFile>>,
    on_close: Callback<()>,
) -> impl IntoView {
    view! {
        {move || {
            job.get()
                .map(|j| {
                    let c = j.counts.clone();
                    let list = problems.get();
                    let errors: Vec<ScanFile> = list.iter().filter(|f| f.error.is_some()).cloned().collect();
                    let warned: Vec<ScanFile> = list
                        .iter()
                        .filter(|f| f.error.is_none() && !f.warnings.is_empty())
                        .cloned()
                        .collect();
                    let more = |n: usize| {
                        (n > SHOWN).then(|| view! { <li class="muted">{format!("…and {} more", n - SHOWN)}</li> })
                    };
                    let (ne, nw) = (errors.len(), warned.len());
                    let open_errors = ne > 0;
                    view! {
                        <section class="card" data-testid="scan-details">
                            <div class="row spread">
                                <h2 class="inline">{j.name.clone()}</h2>
                                <button type="button" on:click=move |_| on_close.run(())>
                                    "Close"
                                </button>
                            </div>
                            <dl class="counts">
                                <div><dt>"Files seen"</dt><dd>{c.files_seen}</dd></div>
                                <div><dt>"Images"</dt><dd>{c.images}</dd></div>
                                <div><dt>"Hidden / system"</dt><dd>{c.skipped_hidden}</dd></div>
                                <div><dt>"Hidden folders"</dt><dd>{c.skipped_hidden_dirs}</dd></div>
                                <div><dt>"RAW (not synced)"</dt><dd>{c.skipped_raw}</dd></div>
                                <div><dt>"Other files"</dt><dd>{c.skipped_other}</dd></div>
                                <div><dt>"Problems"</dt><dd data-testid="scan-errors">{c.errors}</dd></div>
                                <div><dt>"Metadata warnings"</dt><dd>{c.with_warnings}</dd></div>
                            </dl>
                            {j.diff.clone().map(|d| {
                                let lists = [
                                    ("New", d.new, d.new_paths.clone()),
                                    ("Changed", d.changed, d.changed_paths.clone()),
                                    ("Removed", d.removed, d.removed_paths.clone()),
                                ];
                                view! {
                                    <details class="errors" open>
                                        <summary>"Since the previous scan"</summary>
                                        {lists
                                            .into_iter()
                                            .map(|(what, n, paths)| {
                                                let shown = paths.len() as u64;
                                                view! {
                                                    <div class="error-group">
                                                        <h3>{format!("{what}: {n}")}</h3>
                                                        <ul>
                                                            {paths.into_iter().map(|p| view! { <li class="path">{p}</li> }).collect_view()}
                                                            {(n > shown).then(|| view! { <li class="muted">{format!("…and {} more", n - shown)}</li> })}
                                                        </ul>
                                                    </div>
                                                }
                                            })
                                            .collect_view()}
                                    </details>
                                }
                            })}
                            <details class="errors" open=open_errors>
                                <summary>{format!("Files that cannot be used ({ne})")}</summary>
                                <ul data-testid="scan-error-list">
                                    {errors
                                        .into_iter()
                                        .take(SHOWN)
                                        .map(|f| {
                                            view! {
                                                <li>
                                                    <span class="path">{f.relative_path}</span>
                                                    " — "
                                                    <span class="error">{f.error.unwrap_or_default()}</span>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                    {more(ne)}
                                </ul>
                            </details>
                            <details class="errors">
                                <summary>{format!("Images with metadata warnings ({nw})")}</summary>
                                <ul>
                                    {warned
                                        .into_iter()
                                        .take(SHOWN)
                                        .map(|f| {
                                            view! {
                                                <li>
                                                    <span class="path">{f.relative_path}</span>
                                                    " — "
                                                    {f.warnings.join("; ")}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                    {more(nw)}
                                </ul>
                            </details>
                        </section>
                    }
                })
        }}
    }
}
