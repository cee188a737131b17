//! The activity log: every local action (scan, sync start/stop, retry, reset, settings
//! change…) with its time and outcome, kept in IndexedDB. Like finwave's audit log it never
//! holds secrets: no API key, no SAS signature, no file contents.

use serde::{Deserialize, Serialize};

use crate::store::Store;

/// What an entry is about (finwave's categories plus `sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    Sync,
    Settings,
    Filesystem,
    Database,
    Error,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Sync,
        Category::Settings,
        Category::Filesystem,
        Category::Database,
        Category::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Category::Sync => "sync",
            Category::Settings => "settings",
            Category::Filesystem => "filesystem",
            Category::Database => "database",
            Category::Error => "error",
        }
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Milliseconds since the Unix epoch.
    pub at: f64,
    pub category: Category,
    pub action: String,
    pub detail: String,
    pub ok: bool,
}

/// Appends an entry. Logging must never break the action it records, so failures only go to
/// the console. `detail` passes through [`scrub`].
pub async fn log(store: &Store, category: Category, action: &str, detail: &str, ok: bool) {
    let entry = Entry {
        at: js_sys::Date::now(),
        category,
        action: action.to_string(),
        detail: scrub(detail),
        ok,
    };
    if let Err(e) = store.add_activity(&entry).await {
        web_sys::console::warn_1(&format!("activity log: {e}").into());
    }
}

/// Removes anything that looks like a secret: SAS signatures and `fsk_` API keys.
pub fn scrub(text: &str) -> String {
    let redacted: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            if w.contains("sig=") {
                finsync_core::sas::redact_sas(w)
            } else if w.contains("fsk_") {
                "[API key]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    redacted.join(" ")
}

/// Entries as CSV (time in ISO-8601 UTC), for export.
pub fn to_csv(entries: &[Entry]) -> String {
    let esc = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("time,category,action,detail,outcome\n");
    for e in entries {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            finsync_core::sas::iso8601_utc((e.at / 1000.0) as i64),
            e.category.label(),
            esc(&e.action),
            esc(&e.detail),
            if e.ok { "ok" } else { "failed" }
        ));
    }
    out
}
