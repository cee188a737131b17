//! The banner shown after a reload when a sync was interrupted: how much is left, and how to
//! continue (Resume with the remembered folder, or select it again).

use leptos::prelude::*;

/// An interrupted sync as found in IndexedDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub folder: String,
    pub left: usize,
    pub total: usize,
    /// The folder's handle is remembered (File System Access), so Resume can reopen it.
    pub can_reopen: bool,
    /// The approved manifest the encounters belong to (`None` for a quick folder upload).
    /// Such a sync resumes through its manifest, never as a new folder upload, which would
    /// plan the same photos as another encounter.
    pub manifest: Option<String>,
}

#[component]
pub fn ResumeBanner(
    interrupted: Signal<Option<Interrupted>>,
    busy: Signal<bool>,
    on_resume: Callback<()>,
) -> impl IntoView {
    move || {
        interrupted.get().filter(|_| !busy.get()).map(|i| {
            view! {
                <div class="banner" role="status" data-testid="resume-banner">
                    <p>
                        <strong>{format!("The upload of “{}” was interrupted", i.folder)}</strong>
                        {format!(
                            ": {} of {} images are not on the server yet. Nothing already uploaded will be sent again.",
                            i.left,
                            i.total,
                        )}
                    </p>
                    {if i.can_reopen || i.manifest.is_some() {
                        view! {
                            <button type="button" class="primary" data-testid="resume" on:click=move |_| on_resume.run(())>
                                "Resume"
                            </button>
                        }
                            .into_any()
                    } else {
                        view! {
                            <p class="small">
                                {format!("Select the folder “{}” again below, then press Upload to continue.", i.folder)}
                            </p>
                        }
                            .into_any()
                    }}
                </div>
            }
        })
    }
}
