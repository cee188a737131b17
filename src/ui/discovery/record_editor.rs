//! The expanded review row: inline edits of one encounter record (date and time, location
//! name, GPS, photographer, license, internal notes, known individuals). Each change is an
//! intent the page applies and saves at once.

use finsync_core::cloud::ImageSource;
use finsync_core::manifest::{EncounterRecord, License};
use leptos::prelude::*;

use super::chips::Chips;
use super::review_toolbar::{license_from_id, license_id, LICENSES};
use crate::discovery::plan::photographer_name;

/// One edit of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordEdit {
    Date(String),
    Time(String),
    Location(String),
    /// `"lat, lon"`; empty clears.
    Gps(String),
    Photographer(String),
    License(Option<License>),
    Notes(String),
    AddIndividual(String),
    RemoveIndividual(String),
}

#[component]
pub fn RecordEditor(
    record: Signal<Option<EncounterRecord>>,
    /// Photographer names the manifest knows (suggestions).
    names: Signal<Vec<String>>,
    /// Why the last edit was refused.
    problem: Signal<Option<String>>,
    on_edit: Callback<RecordEdit>,
) -> impl IntoView {
    let r = move |f: fn(&EncounterRecord) -> String| {
        move || record.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    let change =
        move |make: fn(String) -> RecordEdit| move |ev| on_edit.run(make(event_target_value(&ev)));
    view! {
        <div class="record-editor" data-testid="record-editor">
            <label>
                "Date"
                <input type="date" data-testid="edit-date" prop:value=r(|r| r.date.clone().unwrap_or_default()) on:change=change(RecordEdit::Date) />
            </label>
            <label>
                "Time"
                <input type="time" step="1" data-testid="edit-time" prop:value=r(|r| r.time.clone().unwrap_or_default()) on:change=change(RecordEdit::Time) />
            </label>
            <label>
                "Location name"
                <input type="text" data-testid="edit-location" prop:value=r(|r| r.location_name.clone().unwrap_or_default()) on:change=change(RecordEdit::Location) />
            </label>
            <label>
                "GPS (lat, lon)"
                <input
                    type="text"
                    placeholder="48.5, -123.1"
                    data-testid="edit-gps"
                    prop:value=r(|r| r.gps.map(|g| format!("{:.6}, {:.6}", g.lat, g.lon)).unwrap_or_default())
                    on:change=change(RecordEdit::Gps)
                />
            </label>
            <label>
                "Photographer"
                <input
                    type="text"
                    list="review-photographers"
                    data-testid="edit-photographer"
                    prop:value=r(|r| photographer_name(&r.photographer).or_else(|| r.photographer_raw.clone()).unwrap_or_default())
                    on:change=change(RecordEdit::Photographer)
                />
                <datalist id="review-photographers">
                    {move || names.get().into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
                </datalist>
            </label>
            <label>
                "License"
                <select
                    data-testid="edit-license"
                    on:change=move |ev| on_edit.run(RecordEdit::License(license_from_id(&event_target_value(&ev))))
                >
                    <option value="" selected=move || record.with(|r| r.as_ref().is_none_or(|r| r.license.is_none()))>"— none —"</option>
                    {LICENSES
                        .into_iter()
                        .map(|l| {
                            view! {
                                <option value=license_id(l) selected=move || record.with(|r| r.as_ref().and_then(|r| r.license) == Some(l))>
                                    {l.to_string()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Internal notes"
                <textarea data-testid="edit-notes" rows="2" prop:value=r(|r| r.notes.clone()) on:change=change(RecordEdit::Notes)></textarea>
            </label>
            <label>
                "Known individuals"
                <Chips
                    chips=Signal::derive(move || record.with(|r| r.as_ref().map(|r| r.known_individuals.clone()).unwrap_or_default()))
                    error=problem
                    on_add=Callback::new(move |id| on_edit.run(RecordEdit::AddIndividual(id)))
                    on_remove=Callback::new(move |id| on_edit.run(RecordEdit::RemoveIndividual(id)))
                />
            </label>
            <details class="images">
                <summary>"Images and where they are"</summary>
                <ul class="plain small" data-testid="record-images">
                    {move || record.with(|r| r.as_ref().map(|r| r.images.iter().map(|i| {
                        let source = match &i.source {
                            ImageSource::Local => "folder in this browser".to_string(),
                            ImageSource::Azure(b) => format!("in Azure: container {} (copied by the server at sync)", b.container),
                        };
                        view! {
                            <li data-testid="record-image">
                                <span class="path">{i.relative_path.clone()}</span>
                                " — "
                                <span data-testid="record-image-source">{source}</span>
                            </li>
                        }
                    }).collect_view()))}
                </ul>
            </details>
        </div>
    }
}
