//! Discovery's components (Discover and Review pages), one concern per file. Like every
//! component they render signals and emit intents; the pages do the I/O.
//!
//! Scanning: [`scan_source`], [`azure_source`], [`scan_progress`], [`scan_jobs`], [`scan_details`],
//! [`check_report`]. Manifests: [`manifest_list`], [`source_chain`], [`strategy`],
//! [`preview`], [`thumb`], [`photographers`], [`versions`]. Review: [`review_toolbar`],
//! [`review_table`], [`record_editor`], [`chips`], [`missing_banner`].

pub mod azure_source;
pub mod check_report;
pub mod chips;
pub mod manifest_list;
pub mod missing_banner;
pub mod photographers;
pub mod preview;
pub mod record_editor;
pub mod review_table;
pub mod review_toolbar;
pub mod scan_details;
pub mod scan_jobs;
pub mod scan_progress;
pub mod scan_source;
pub mod source_chain;
pub mod strategy;
pub mod thumb;
pub mod versions;

use finsync_core::grouping::Confidence;

/// CSS class of a confidence colour.
pub fn confidence_class(c: Confidence) -> &'static str {
    match c {
        Confidence::Green => "conf conf-green",
        Confidence::Yellow => "conf conf-yellow",
        Confidence::Red => "conf conf-red",
    }
}

pub fn confidence_label(c: Confidence) -> &'static str {
    match c {
        Confidence::Green => "green",
        Confidence::Yellow => "yellow",
        Confidence::Red => "red",
    }
}

/// `0.834` → `"83 %"`.
pub fn percent(x: f64) -> String {
    format!("{:.0} %", (x * 100.0).clamp(0.0, 100.0))
}
