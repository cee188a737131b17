//! Leptos components, one concern per file. Components get state through props (signals)
//! and report intents through callbacks; none of them talks to the network or IndexedDB.

pub mod api_keys;
pub mod connection;
pub mod discovery;
pub mod encounter_state;
pub mod error_list;
pub mod file_table;
pub mod folder_picker;
pub mod image_status_list;
pub mod manifest_rows;
pub mod population_card;
pub mod resume_banner;
pub mod settings_form;
pub mod sign_in_form;
pub mod storage_connections;
pub mod upload_panel;

/// `1234567` → `"1.2 MB"`.
pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
