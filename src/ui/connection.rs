//! The status bar: server reachability, the status of each of this browser's API keys (spec
//! §3.1 labels, one per population) and the population new uploads and manifests go to.

use finsync_core::api::{KeyStatus, PopulationRef};
use leptos::prelude::*;

/// What the app knows about the configured server.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Unconfigured,
    Checking,
    Reachable { server_version: String },
    Unreachable(String),
}

/// One API key of this browser as shown (never the key itself).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLine {
    /// The key's population; `None` for a pasted key the server does not know.
    pub population: Option<PopulationRef>,
    /// `NotProvisioned` for a population whose provisioning failed (`problem` says why).
    pub status: KeyStatus,
    /// Pasted in Settings (or the demo key) rather than provisioned after sign-in.
    pub pasted: bool,
    /// Why provisioning failed, or why the status is unknown, when it did or is.
    pub problem: Option<String>,
    /// The last check of this key failed (`status` is the last known one, `problem` says
    /// why); the other keys' statuses are still known.
    pub unknown: bool,
}

impl KeyLine {
    /// "API key ready · Population (Organisation)".
    pub fn label(&self) -> String {
        let (label, _) = if self.unknown {
            ("API key status unknown", "")
        } else {
            key_status_text(self.status)
        };
        match &self.population {
            Some(p) => format!("{label} · {} ({})", p.name, p.organisation),
            None => label.to_string(),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match &self.problem {
            Some(p) => p.clone(),
            // Re-provision is offered for provisioned keys only.
            None if self.pasted && self.status == KeyStatus::Invalid => {
                "The server rejected this pasted key: paste a new key in Settings.".to_string()
            }
            None => key_status_text(self.status).1.to_string(),
        }
    }
}

/// The spec's label and what to do about it.
pub fn key_status_text(status: KeyStatus) -> (&'static str, &'static str) {
    match status {
        KeyStatus::Ready => ("API key ready", "Sync is possible."),
        KeyStatus::NotProvisioned => (
            "API key not provisioned",
            "Sign in under Settings → Get an API key: opening the Sync page then creates a key for each population you may sync. Or paste a key in Settings.",
        ),
        KeyStatus::Provisioning => ("Provisioning...", "Creating a key for this browser."),
        KeyStatus::Invalid => (
            "API key invalid",
            "The server rejected the key: re-provision it in Settings (sign in, then Re-provision), or paste a new one in Settings.",
        ),
        KeyStatus::AccessDenied => (
            "Access denied",
            "Browser sync is off for this population: a population admin must enable it.",
        ),
    }
}

/// The bar's dot class, label and hint for a reachable server with these keys.
pub fn keys_summary(keys: &[KeyLine]) -> (&'static str, String, String) {
    if keys.is_empty() {
        let (label, hint) = key_status_text(KeyStatus::NotProvisioned);
        return ("status-bad", label.to_string(), hint.to_string());
    }
    let ready = |k: &KeyLine| k.status == KeyStatus::Ready && !k.unknown;
    let all_ready = keys.iter().all(ready);
    let class = if all_ready {
        "status-ok"
    } else if keys.iter().any(|k| k.status == KeyStatus::Provisioning) {
        "status-busy"
    } else {
        "status-bad"
    };
    let label = keys
        .iter()
        .map(KeyLine::label)
        .collect::<Vec<_>>()
        .join("; ");
    let hint = keys
        .iter()
        .find(|k| !ready(k))
        .map(KeyLine::hint)
        .unwrap_or_else(|| key_status_text(KeyStatus::Ready).1.to_string());
    (class, label, hint)
}

#[component]
pub fn ConnectionBar(
    connection: Signal<Connection>,
    keys: Signal<Vec<KeyLine>>,
    /// Populations with a ready key; a choice is offered when there are several.
    populations: Signal<Vec<PopulationRef>>,
    /// Where new folder uploads and new manifests go.
    chosen: Signal<Option<i64>>,
    on_choose: Callback<i64>,
    /// Parallel uploads (1–4), saved locally and applied to a running sync.
    concurrency: Signal<u8>,
    on_concurrency: Callback<u8>,
) -> impl IntoView {
    let text = move || match connection.get() {
        Connection::Unconfigured => (
            "status-warn",
            "No server configured".to_string(),
            "Enter the server URL and API key below.".to_string(),
        ),
        Connection::Checking => ("status-busy", "Checking the server…".into(), String::new()),
        Connection::Unreachable(e) => ("status-bad", "Server unreachable".into(), e),
        Connection::Reachable { server_version } => {
            let (class, label, hint) = keys.with(|k| keys_summary(k));
            (class, label, format!("Server {server_version} · {hint}"))
        }
    };
    view! {
        <div class="status-bar" role="status" aria-live="polite">
            <span class=move || format!("status-dot {}", text().0)></span>
            <strong data-testid="key-status">{move || text().1}</strong>
            <span class="muted">{move || text().2}</span>
            <Show when=move || { populations.with(Vec::len) > 1 }>
                <label class="concurrency">
                    "Upload to "
                    <select
                        data-testid="population-select"
                        aria-label="Population for new uploads and manifests"
                        prop:value=move || chosen.get().map(|c| c.to_string()).unwrap_or_default()
                        on:change=move |ev| {
                            if let Ok(id) = event_target_value(&ev).parse::<i64>() {
                                on_choose.run(id);
                            }
                        }
                    >
                        {move || {
                            populations
                                .get()
                                .into_iter()
                                .map(|p| view! { <option value=p.id.to_string()>{format!("{} ({})", p.name, p.organisation)}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
            </Show>
            <label class="concurrency">
                "Parallel uploads "
                <select
                    data-testid="concurrency"
                    aria-label="Parallel uploads"
                    prop:value=move || concurrency.get().to_string()
                    on:change=move |ev| {
                        if let Ok(n) = event_target_value(&ev).parse::<u8>() {
                            on_concurrency.run(n.clamp(1, 4));
                        }
                    }
                >
                    <option value="1" title="Sequential: slow or unstable connections">"1"</option>
                    <option value="2" title="Default">"2"</option>
                    <option value="3">"3"</option>
                    <option value="4" title="High bandwidth">"4"</option>
                </select>
            </label>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn line(id: i64, status: KeyStatus) -> KeyLine {
        KeyLine {
            population: Some(PopulationRef {
                id,
                name: format!("P{id}"),
                organisation: "Org".into(),
            }),
            status,
            pasted: false,
            problem: None,
            unknown: false,
        }
    }

    #[wasm_bindgen_test]
    fn the_bar_names_every_population_and_the_first_thing_to_fix() {
        let (class, label, hint) = keys_summary(&[]);
        assert_eq!(class, "status-bad");
        assert_eq!(label, "API key not provisioned");
        assert!(hint.contains("Sign in under Settings"), "{hint}");
        let (class, label, hint) =
            keys_summary(&[line(1, KeyStatus::Ready), line(2, KeyStatus::AccessDenied)]);
        assert_eq!(class, "status-bad");
        assert_eq!(label, "API key ready · P1 (Org); Access denied · P2 (Org)");
        assert!(hint.contains("population admin must enable it"), "{hint}");
        let mut failed = line(3, KeyStatus::NotProvisioned);
        failed.problem = Some("sign in again".into());
        assert_eq!(keys_summary(&[failed]).2, "sign in again");
        assert_eq!(keys_summary(&[line(1, KeyStatus::Ready)]).0, "status-ok");
        // One key the server did not answer for: that key is unknown, the other still ready.
        let mut unchecked = line(4, KeyStatus::Ready);
        unchecked.unknown = true;
        unchecked.problem = Some("asks again".into());
        let (class, label, hint) = keys_summary(&[line(1, KeyStatus::Ready), unchecked]);
        assert_eq!(class, "status-bad");
        assert_eq!(
            label,
            "API key ready · P1 (Org); API key status unknown · P4 (Org)"
        );
        assert_eq!(hint, "asks again");
    }

    #[wasm_bindgen_test]
    fn an_invalid_pasted_key_is_told_to_paste_a_new_one_not_to_reprovision() {
        let mut pasted = line(1, KeyStatus::Invalid);
        pasted.pasted = true;
        assert!(
            pasted.hint().contains("paste a new key in Settings"),
            "{}",
            pasted.hint()
        );
        assert!(!pasted.hint().contains("re-provision"), "{}", pasted.hint());
        assert!(line(1, KeyStatus::Invalid).hint().contains("re-provision"));
    }
}
