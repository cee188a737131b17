//! The list of images with their sync status.

use leptos::prelude::*;

use super::human_bytes;
use crate::store::FileStatus;

/// One row as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    pub path: String,
    pub size: u64,
    pub status: Option<FileStatus>,
    pub error: Option<String>,
}

#[component]
pub fn FileTable(rows: Signal<Vec<FileRow>>) -> impl IntoView {
    view! {
        <Show
            when=move || !rows.with(Vec::is_empty)
            fallback=|| view! { <p class="muted">"No images yet."</p> }
        >
            <table class="files" data-testid="file-table">
                <thead>
                    <tr>
                        <th scope="col">"File"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || rows.get()
                        key=|r| (r.path.clone(), r.status, r.error.clone())
                        children=move |r| {
                            let (class, label) = match r.status {
                                None => ("st-new".to_string(), "Not uploaded".to_string()),
                                Some(s) => (format!("st-{}", s.label().to_lowercase()), s.label().to_string()),
                            };
                            view! {
                                <tr data-path=r.path.clone()>
                                    <td class="path">{r.path.clone()}</td>
                                    <td class="num">{human_bytes(r.size as f64)}</td>
                                    <td>
                                        <span class=format!("badge {class}") data-testid="file-status">{label}</span>
                                        {r.error.clone().map(|e| view! { <div class="error small">{e}</div> })}
                                    </td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </Show>
    }
}
