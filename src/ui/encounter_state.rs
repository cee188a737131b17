//! An encounter's sync state as the card shows it (spec §5): the engine's statuses plus the
//! legacy Conflict, each with what to do about it; and the list of encounters that need it.

use finsync_core::engine::EncounterStatus;
use leptos::prelude::*;

/// What the card says about one encounter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncounterState {
    Pending,
    Synced,
    /// Some images are on the server, others failed or were skipped.
    Partial,
    Failed,
    /// Marked by an older version of the app (spec decision 9).
    Conflict,
}

impl EncounterState {
    pub fn of(status: &EncounterStatus, conflict: bool, synced: bool) -> EncounterState {
        if conflict {
            return EncounterState::Conflict;
        }
        match status {
            _ if synced => EncounterState::Synced,
            EncounterStatus::Partial => EncounterState::Partial,
            EncounterStatus::Failed { .. } => EncounterState::Failed,
            EncounterStatus::Synced => EncounterState::Synced,
            EncounterStatus::Pending => EncounterState::Pending,
        }
    }

    /// Label and badge class.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            EncounterState::Pending => ("Pending", "st-pending"),
            EncounterState::Synced => ("Synced", "st-complete"),
            EncounterState::Partial => ("Partial", "st-skipped"),
            EncounterState::Failed => ("Failed", "st-error"),
            EncounterState::Conflict => ("Conflict", "st-error"),
        }
    }

    /// What the person should do, for the states that need something.
    pub fn advice(self) -> Option<&'static str> {
        match self {
            EncounterState::Partial => Some(
                "The images that arrived are kept on the server. Press Retry to send only the failed ones; for missing or changed files select the folder again first.",
            ),
            EncounterState::Failed => Some(
                "Nothing was confirmed by the server. Fix the cause listed under Errors (connection, API key, server), then press Retry.",
            ),
            EncounterState::Conflict => Some(
                "An older version of the app skipped this encounter because a matching one exists on the server. Press Sync (or Upload with its folder) again: the server's encounter is reused and only the missing images are sent.",
            ),
            EncounterState::Pending | EncounterState::Synced => None,
        }
    }
}

/// One encounter that needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionItem {
    pub local_id: String,
    pub label: String,
    pub state: EncounterState,
    pub complete: u32,
    pub images: u32,
}

/// Encounters in Partial, Failed or Conflict state, each with what to do.
#[component]
pub fn EncounterAttention(items: Signal<Vec<AttentionItem>>) -> impl IntoView {
    view! {
        <Show when=move || !items.with(Vec::is_empty)>
            <section class="attention" aria-labelledby="attention-heading" data-testid="attention">
                <h3 id="attention-heading">"Encounters that need attention"</h3>
                <ul>
                    <For
                        each=move || items.get()
                        key=|i| (i.local_id.clone(), i.state, i.complete)
                        children=|i| {
                            let (label, class) = i.state.label();
                            view! {
                                <li data-testid="encounter-state" data-state=label.to_lowercase()>
                                    <span class=format!("badge {class}")>{label}</span>
                                    " "
                                    <strong>{i.label.clone()}</strong>
                                    <span class="muted small">
                                        {format!(" — {} of {} images on the server", i.complete, i.images)}
                                    </span>
                                    <p class="small advice">{i.state.advice().unwrap_or_default()}</p>
                                </li>
                            }
                        }
                    />
                </ul>
            </section>
        </Show>
    }
}
