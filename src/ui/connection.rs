//! The status bar: server reachability and the API key status (spec §3.1 labels).

use finsync_core::api::{KeyStatus, StatusResponse};
use leptos::prelude::*;

/// What the app knows about the configured server.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Unconfigured,
    Checking,
    /// A key for this browser is being created after sign-in.
    Provisioning,
    Reachable(StatusResponse),
    Unreachable(String),
}

/// The spec's label and what to do about it.
pub fn key_status_text(status: KeyStatus) -> (&'static str, &'static str) {
    match status {
        KeyStatus::Ready => ("API key ready", "Sync is possible."),
        KeyStatus::NotProvisioned => ("API key not provisioned", "Paste an API key in Settings."),
        KeyStatus::Provisioning => ("Provisioning...", "Creating a key for this browser."),
        KeyStatus::Invalid => (
            "API key invalid",
            "The server rejected the key: paste a new one in Settings.",
        ),
        KeyStatus::AccessDenied => (
            "Access denied",
            "Browser sync is off for this population: a population admin must enable it.",
        ),
    }
}

#[component]
pub fn ConnectionBar(
    connection: Signal<Connection>,
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
        Connection::Provisioning => {
            let (label, hint) = key_status_text(KeyStatus::Provisioning);
            ("status-busy", label.to_string(), hint.to_string())
        }
        Connection::Unreachable(e) => ("status-bad", "Server unreachable".into(), e),
        Connection::Reachable(s) => {
            let (label, hint) = key_status_text(s.key_status);
            let class = if s.key_status == KeyStatus::Ready {
                "status-ok"
            } else {
                "status-bad"
            };
            let pop = s
                .population
                .map(|p| format!(" · {} ({})", p.name, p.organisation))
                .unwrap_or_default();
            (
                class,
                format!("{label}{pop}"),
                format!("Server {} · {hint}", s.server_version),
            )
        }
    };
    view! {
        <div class="status-bar" role="status" aria-live="polite">
            <span class=move || format!("status-dot {}", text().0)></span>
            <strong data-testid="key-status">{move || text().1}</strong>
            <span class="muted">{move || text().2}</span>
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
