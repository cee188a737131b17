//! The list of images with their sync status.

use finsync_core::engine::ImageStatus;
use leptos::prelude::*;

use super::human_bytes;

/// One row as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    pub path: String,
    pub size: u64,
    pub status: Option<ImageStatus>,
}

/// The spec's per-image labels (§5) and a CSS class.
pub fn status_label(status: &Option<ImageStatus>) -> (&'static str, &'static str) {
    match status {
        None => ("st-new", "Not uploaded"),
        Some(ImageStatus::Pending) => ("st-pending", "Pending"),
        Some(ImageStatus::Uploading) => ("st-uploading", "Uploading"),
        Some(ImageStatus::Uploaded) => ("st-uploaded", "Uploaded"),
        Some(ImageStatus::Complete { .. }) => ("st-complete", "Complete"),
        Some(ImageStatus::Failed { .. }) => ("st-error", "Error"),
        Some(ImageStatus::Skipped { .. }) => ("st-skipped", "Skipped"),
    }
}

/// Why an image failed or was skipped, in words.
pub fn status_detail(status: &Option<ImageStatus>) -> Option<String> {
    use finsync_core::engine::SkipReason;
    match status {
        Some(ImageStatus::Failed { failure }) => Some(failure.message.clone()),
        Some(ImageStatus::Skipped { reason }) => Some(match reason {
            SkipReason::SourceMissing { detail } | SkipReason::SourceChanged { detail } => {
                detail.clone()
            }
            SkipReason::TooLarge { size } => {
                format!(
                    "{} is larger than the 5 GiB the server accepts",
                    human_bytes(*size as f64)
                )
            }
            SkipReason::EmptyFile => "the file is empty (0 bytes)".into(),
            SkipReason::InvalidFileName => {
                "the file name is too long or has control characters".into()
            }
            SkipReason::InvalidKey => "internal error: invalid idempotency key".into(),
            SkipReason::DuplicateOf { image } => format!("same content as {image}"),
        }),
        _ => None,
    }
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
                        key=|r| (r.path.clone(), format!("{:?}", r.status))
                        children=move |r| {
                            let (class, label) = status_label(&r.status);
                            let detail = status_detail(&r.status);
                            view! {
                                <tr data-path=r.path.clone()>
                                    <td class="path">{r.path.clone()}</td>
                                    <td class="num">{human_bytes(r.size as f64)}</td>
                                    <td>
                                        <span class=format!("badge {class}") data-testid="file-status">{label}</span>
                                        {detail.map(|e| view! { <div class="error small">{e}</div> })}
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
