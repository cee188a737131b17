//! The missing-file banner of the review (spec §2.6): amber "N files moved or renamed since the
//! last scan" with "Re-run discovery"; or a way to connect the folder so it can be checked.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// What is known about the files a manifest's records reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesState {
    /// The folder is not open in this tab; `remembered`: a handle can be re-permitted.
    NotConnected {
        folder: String,
        remembered: bool,
    },
    Checking {
        done: usize,
        total: usize,
    },
    Checked {
        total: usize,
        missing: Vec<String>,
        changed: Vec<String>,
    },
}

#[component]
pub fn MissingBanner(
    state: Signal<Option<FilesState>>,
    on_connect: Callback<()>,
    on_file_list: UnsyncCallback<web_sys::FileList>,
    on_rerun: Callback<()>,
) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    input.on_load(|el| {
        let _ = el.set_attribute("webkitdirectory", "");
    });
    let on_change = move |ev: leptos::ev::Event| {
        if let Some(list) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|el| el.files())
            .filter(|l| l.length() > 0)
        {
            on_file_list.run(list);
        }
    };
    // Always in the page (hidden when not needed), so `webkitdirectory` is set once.
    let needs_list = move || {
        matches!(
            state.get(),
            Some(FilesState::NotConnected {
                remembered: false,
                ..
            })
        )
    };
    view! {
        <label class="file-label secondary" hidden=move || !needs_list()>
            "Choose the folder to check it"
            <input node_ref=input type="file" multiple data-testid="review-folder-input" on:change=on_change />
        </label>
        {move || match state.get() {
            None => ().into_any(),
            Some(FilesState::Checking { done, total }) => {
                view! { <p class="muted small" data-testid="files-checking">{format!("Checking files… {done} of {total}")}</p> }
                    .into_any()
            }
            Some(FilesState::Checked { total, missing, changed }) if missing.is_empty() && changed.is_empty() => {
                view! { <p class="muted small" data-testid="files-ok">{format!("All {total} files are where the scan found them.")}</p> }
                    .into_any()
            }
            Some(FilesState::Checked { missing, changed, .. }) => {
                let n = missing.len() + changed.len();
                view! {
                    <div class="banner-amber" role="alert" data-testid="missing-banner">
                        <p>
                            <strong>{format!("{n} files moved or renamed since the last scan.")}</strong>
                            " "
                            <em>"Sync will skip these files until discovery runs again."</em>
                        </p>
                        <details>
                            <summary>"Which files"</summary>
                            <ul class="small">
                                {missing.into_iter().take(100).map(|p| view! { <li class="path">{p}" — missing"</li> }).collect_view()}
                                {changed.into_iter().take(100).map(|p| view! { <li class="path">{p}" — changed"</li> }).collect_view()}
                            </ul>
                        </details>
                        <button type="button" class="primary" data-testid="rerun-discovery" on:click=move |_| on_rerun.run(())>
                            "Re-run discovery"
                        </button>
                    </div>
                }
                    .into_any()
            }
            Some(FilesState::NotConnected { folder, remembered }) => {
                view! {
                    <div class="banner-inline" data-testid="files-not-connected">
                        <p>{format!("Connect the folder “{folder}” to check that no file moved since the scan (and to see thumbnails).")}</p>
                        {remembered.then(|| view! {
                            <button type="button" data-testid="connect-folder" on:click=move |_| on_connect.run(())>
                                "Connect folder"
                            </button>
                        })}
                    </div>
                }
                    .into_any()
            }
        }}
    }
}
