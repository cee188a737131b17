//! The review table (spec §2.6): one row per encounter record of the current page, with status
//! and reason, date, location, GPS, photographer, image count and license; row checkboxes,
//! per-row Approve / Deny and an expandable editor. The page pages the records (no more than a
//! page of rows is ever in the DOM), so 10,000 images stay smooth.

use std::collections::HashSet;

use finsync_core::grouping::Confidence;
use finsync_core::manifest::{EncounterRecord, ReviewStatus};
use leptos::prelude::*;

use super::{confidence_class, confidence_label};
use crate::discovery::plan::photographer_name;

/// Status label and CSS class.
pub fn status_label(s: &ReviewStatus) -> (&'static str, &'static str) {
    match s {
        ReviewStatus::Pending => ("Pending", "badge st-pending"),
        ReviewStatus::Approved => ("Approved", "badge st-approved"),
        ReviewStatus::Denied => ("Denied", "badge st-denied"),
        ReviewStatus::Incomplete { .. } => ("Incomplete", "badge st-incomplete"),
    }
}

/// Where a record's images are: "folder", "Azure <container>", or both.
fn sources_label(images: &[finsync_core::manifest::RecordImage]) -> String {
    let mut out: Vec<String> = Vec::new();
    for i in images {
        let s = match &i.source {
            finsync_core::cloud::ImageSource::Local => "folder".to_string(),
            finsync_core::cloud::ImageSource::Azure(b) => format!("Azure {}", b.container),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" + ")
}

#[component]
pub fn ReviewTable(
    /// Ids of the records on this page, in order.
    ids: Signal<Vec<String>>,
    /// The record of an id (tracked).
    record: Callback<String, Option<EncounterRecord>>,
    selected: Signal<HashSet<String>>,
    expanded: Signal<Option<String>>,
    busy: Signal<bool>,
    on_select: Callback<(String, bool)>,
    on_select_page: Callback<bool>,
    on_approve: Callback<String>,
    on_deny: Callback<String>,
    on_expand: Callback<Option<String>>,
    /// The editor of the expanded record.
    editor: ViewFn,
) -> impl IntoView {
    let row = move |id: String| {
        let rec = {
            let id = id.clone();
            Signal::derive(move || record.run(id.clone()))
        };
        let cell = move |f: fn(&EncounterRecord) -> String| {
            move || rec.with(|r| r.as_ref().map(f).unwrap_or_default())
        };
        let (i1, i2, i3, i4, i5, i6) = (
            id.clone(),
            id.clone(),
            id.clone(),
            id.clone(),
            id.clone(),
            id.clone(),
        );
        let is_open = Signal::derive(move || expanded.get().as_deref() == Some(i5.as_str()));
        let editor = editor.clone();
        view! {
            <tr data-testid="review-row" data-id=id.clone() data-label=move || rec.with(|r| r.as_ref().map(|r| r.label.clone()))>
                <td>
                    <input
                        type="checkbox"
                        data-testid="row-select"
                        aria-label="Select"
                        prop:checked=move || selected.with(|s| s.contains(&i1))
                        on:change=move |ev| on_select.run((i2.clone(), event_target_checked(&ev)))
                    />
                </td>
                <td>
                    {move || rec.with(|r| r.as_ref().map(|r| {
                        let (label, class) = status_label(&r.review);
                        let reasons = match &r.review {
                            ReviewStatus::Incomplete { reasons } => reasons.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "),
                            _ => String::new(),
                        };
                        view! {
                            <span class=class data-testid="row-status">{label}</span>
                            <div class="small error" data-testid="row-reason">{reasons}</div>
                        }
                    }))}
                </td>
                <td>
                    {move || rec.with(|r| r.as_ref().map(|r| {
                        let c: Confidence = r.confidence;
                        let why = r.reasons.iter().map(|x| x.text.clone()).collect::<Vec<_>>().join("; ");
                        view! {
                            <span class=confidence_class(c) title=format!("{}: {why}", confidence_label(c))></span>
                            <span class="path">{r.label.clone()}</span>
                        }
                    }))}
                </td>
                <td class="nowrap">{cell(|r| match (&r.date, &r.time) {
                    (Some(d), Some(t)) => format!("{d} {t}"),
                    (Some(d), None) => d.clone(),
                    _ => "—".into(),
                })}</td>
                <td>{cell(|r| r.location_name.clone().unwrap_or_else(|| "—".into()))}</td>
                <td class="nowrap">{cell(|r| r.gps.map(|g| format!("{:.4}, {:.4}", g.lat, g.lon)).unwrap_or_else(|| "—".into()))}</td>
                <td>{cell(|r| photographer_name(&r.photographer).unwrap_or_else(|| match &r.photographer_raw {
                    Some(raw) => format!("{raw} (unresolved)"),
                    None => "—".into(),
                }))}</td>
                <td class="num">
                    {cell(|r| r.images.len().to_string())}
                    <div class="small muted" data-testid="row-source">{cell(|r| sources_label(&r.images))}</div>
                </td>
                <td data-testid="row-license">{cell(|r| r.license.map(|l| l.to_string()).unwrap_or_else(|| "—".into()))}</td>
                <td class="nowrap small">
                    <button type="button" data-testid="row-approve" disabled=move || busy.get() on:click=move |_| on_approve.run(i3.clone())>
                        "Approve"
                    </button>
                    <button type="button" data-testid="row-deny" disabled=move || busy.get() on:click=move |_| on_deny.run(i4.clone())>
                        "Deny"
                    </button>
                    <button
                        type="button"
                        data-testid="row-edit"
                        aria-expanded=move || is_open.get().to_string()
                        on:click=move |_| on_expand.run(if is_open.get_untracked() { None } else { Some(i6.clone()) })
                    >
                        {move || if is_open.get() { "Close" } else { "Edit" }}
                    </button>
                </td>
            </tr>
            <Show when=move || is_open.get()>
                <tr class="expanded">
                    <td colspan="10">{editor.run()}</td>
                </tr>
            </Show>
        }
    };
    let all_selected = move || {
        let ids = ids.get();
        !ids.is_empty() && selected.with(|s| ids.iter().all(|i| s.contains(i)))
    };
    view! {
        <table class="review" data-testid="review-table">
            <thead>
                <tr>
                    <th scope="col">
                        <input
                            type="checkbox"
                            aria-label="Select this page"
                            data-testid="select-page"
                            prop:checked=all_selected
                            on:change=move |ev| on_select_page.run(event_target_checked(&ev))
                        />
                    </th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Encounter"</th>
                    <th scope="col">"Date"</th>
                    <th scope="col">"Location"</th>
                    <th scope="col">"GPS"</th>
                    <th scope="col">"Photographer"</th>
                    <th scope="col" class="num">"Images"</th>
                    <th scope="col">"License"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || ids.get() key=|id| id.clone() children=row />
            </tbody>
        </table>
    }
}
