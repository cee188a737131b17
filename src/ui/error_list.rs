//! Errors of the last syncs, grouped by encounter and split into actionable ones (Retry
//! re-sends only those images) and skipped ones (informational), with copy and CSV export.

use leptos::prelude::*;

/// One image that did not reach the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProblem {
    pub path: String,
    pub message: String,
}

impl ImageProblem {
    /// A problem of the file at `path`. Server messages name the file themselves
    /// ("IMG_1.jpg: not a readable …"); the list already shows the path, so a leading
    /// "<file name>: " is dropped rather than shown twice.
    pub fn new(path: String, message: String) -> ImageProblem {
        let name = path.rsplit('/').next().unwrap_or(&path);
        let message = match message
            .strip_prefix(name)
            .and_then(|m| m.strip_prefix(": "))
        {
            Some(rest) if !name.is_empty() && !rest.is_empty() => rest.to_string(),
            _ => message,
        };
        ImageProblem { path, message }
    }
}

/// The problems of one encounter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncounterProblems {
    pub encounter: String,
    /// "partial", "failed" or "" when the encounter itself is fine.
    pub state: &'static str,
    pub actionable: Vec<ImageProblem>,
    pub skipped: Vec<ImageProblem>,
}

/// What "Copy errors" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// The text is on the clipboard; this many lines of errors.
    Clipboard(usize),
    /// The clipboard refused (no permission, insecure page): the text to copy by hand.
    Fallback(String),
}

/// Plain text of every problem for a bug report or an e-mail, grouped by encounter: image name
/// and message, scrubbed of secrets (SAS signatures, API keys) by [`crate::activity::scrub`].
pub fn problems_text(groups: &[EncounterProblems]) -> String {
    let mut out = String::from("finsync sync errors\n");
    for g in groups {
        out.push('\n');
        out.push_str(&g.encounter);
        if !g.state.is_empty() {
            out.push_str(&format!(" ({})", g.state));
        }
        out.push('\n');
        for (kind, list) in [("error", &g.actionable), ("skipped", &g.skipped)] {
            for p in list {
                out.push_str(&format!(
                    "  {kind}: {}: {}\n",
                    p.path,
                    crate::activity::scrub(&p.message)
                ));
            }
        }
    }
    out
}

/// CSV of every problem: encounter, file, kind, message (scrubbed like [`problems_text`]).
pub fn problems_csv(groups: &[EncounterProblems]) -> String {
    let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("encounter,file,kind,message\n");
    for g in groups {
        for (kind, list) in [("error", &g.actionable), ("skipped", &g.skipped)] {
            for p in list {
                out.push_str(&format!(
                    "{},{},{kind},{}\n",
                    esc(&g.encounter),
                    esc(&p.path),
                    esc(&crate::activity::scrub(&p.message))
                ));
            }
        }
    }
    out
}

#[component]
pub fn ErrorList(
    groups: Signal<Vec<EncounterProblems>>,
    busy: Signal<bool>,
    on_retry: Callback<()>,
    on_export: Callback<()>,
    on_copy: Callback<()>,
    copied: Signal<Option<Copied>>,
) -> impl IntoView {
    let actionable = move || groups.with(|g| g.iter().map(|e| e.actionable.len()).sum::<usize>());
    let skipped = move || groups.with(|g| g.iter().map(|e| e.skipped.len()).sum::<usize>());
    view! {
        <Show when=move || { actionable() + skipped() > 0 }>
            <details class="errors" data-testid="errors" open=move || { actionable() > 0 }>
                <summary>
                    {move || format!("Errors: {} to act on, {} skipped", actionable(), skipped())}
                </summary>
                <div class="row">
                    <Show when=move || { actionable() > 0 }>
                        <button
                            type="button"
                            class="primary"
                            data-testid="retry"
                            disabled=move || busy.get()
                            on:click=move |_| on_retry.run(())
                        >
                            "Retry failed images"
                        </button>
                    </Show>
                    <button type="button" on:click=move |_| on_export.run(())>"Export CSV"</button>
                    <button type="button" data-testid="copy-errors" on:click=move |_| on_copy.run(())>"Copy errors"</button>
                </div>
                {move || copied.get().map(|c| match c {
                    Copied::Clipboard(n) => view! {
                        <p class="ok small" role="status" data-testid="copy-status">
                            {format!("Copied {n} error{} to the clipboard.", if n == 1 { "" } else { "s" })}
                        </p>
                    }.into_any(),
                    Copied::Fallback(text) => view! {
                        <div role="status" data-testid="copy-status">
                            <p class="small">"The browser did not allow copying: select the text below and copy it (Ctrl+C or ⌘C)."</p>
                            <textarea class="copy-fallback" readonly rows="6" data-testid="copy-fallback" prop:value=text></textarea>
                        </div>
                    }.into_any(),
                })}
                {move || {
                    groups
                        .get()
                        .into_iter()
                        .map(|g| {
                            let state = match g.state {
                                "partial" => " — partial: the images that arrived are kept; Retry sends only the failed ones",
                                "failed" => " — failed: nothing was confirmed; Retry when the cause is fixed",
                                _ => "",
                            };
                            view! {
                                <section class="error-group" data-testid="error-group">
                                    <h3>{g.encounter.clone()}<span class="muted small">{state}</span></h3>
                                    <ul>
                                        {g
                                            .actionable
                                            .iter()
                                            .map(|p| view! { <li class="error"><strong>{p.path.clone()}</strong>": "{p.message.clone()}</li> })
                                            .collect_view()}
                                        {g
                                            .skipped
                                            .iter()
                                            .map(|p| view! { <li class="muted"><strong>{p.path.clone()}</strong>" (skipped): "{p.message.clone()}</li> })
                                            .collect_view()}
                                    </ul>
                                </section>
                            }
                        })
                        .collect_view()
                }}
            </details>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn groups() -> Vec<EncounterProblems> {
        vec![EncounterProblems {
            encounter: "Reef A".into(),
            state: "partial",
            actionable: vec![ImageProblem {
                path: "a.jpg".into(),
                message: "PUT https://acct.blob.core.windows.net/c/a.jpg?sv=1&sig=SECRETSIG failed"
                    .into(),
            }],
            skipped: vec![ImageProblem {
                path: "b.jpg".into(),
                message: "server refused key fsk_live_SECRETKEY".into(),
            }],
        }]
    }

    #[wasm_bindgen_test]
    fn a_message_that_names_the_file_is_not_prefixed_twice() {
        let p = ImageProblem::new("cove/E-half.jpg".into(), "E-half.jpg: cut short".into());
        assert_eq!(p.message, "cut short");
        let q = ImageProblem::new("cove/a.jpg".into(), "ba.jpg: other file".into());
        assert_eq!(q.message, "ba.jpg: other file");
        let r = ImageProblem::new("a.jpg".into(), "network error".into());
        assert_eq!(r.message, "network error");
    }

    #[wasm_bindgen_test]
    fn copy_and_csv_both_scrub_sas_signatures_and_api_keys() {
        for out in [problems_text(&groups()), problems_csv(&groups())] {
            assert!(!out.contains("SECRETSIG"), "{out}");
            assert!(!out.contains("SECRETKEY"), "{out}");
            assert!(out.contains("[API key]"), "{out}");
            assert!(out.contains("a.jpg") && out.contains("b.jpg"), "{out}");
        }
    }
}
