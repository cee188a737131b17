//! The preview (spec §2.5): up to 20 sample encounters with every mapped value and its
//! source, confidence colour and reasons, thumbnails, and field coverage statistics.

use finsync_core::grouping::{Confidence, Coverage, Reason};
use leptos::prelude::*;

use super::thumb::Thumb;
use super::{confidence_class, confidence_label, percent};

/// One value of a sample encounter.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewField {
    pub name: &'static str,
    /// Required for approval (shown red when missing).
    pub required: bool,
    pub value: Option<String>,
    /// "EXIF", "folder name `2024-07-15_Haro`", …
    pub source: Option<String>,
}

/// One sample encounter.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewCard {
    pub key: String,
    pub label: String,
    pub confidence: Confidence,
    pub reasons: Vec<Reason>,
    pub fields: Vec<PreviewField>,
    pub image_count: usize,
    /// Relative paths of the first images.
    pub thumbs: Vec<String>,
}

/// What the preview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewData {
    pub images: usize,
    pub coverage: Coverage,
    /// Encounters by colour: green, yellow, red.
    pub colours: [usize; 3],
    pub cards: Vec<PreviewCard>,
}

#[component]
pub fn Preview(
    data: Signal<Option<PreviewData>>,
    thumb_url: Callback<String, Option<String>>,
    thumb_problem: Callback<String, Option<String>>,
    on_thumb_visible: Callback<String>,
    on_thumb_hidden: Callback<String>,
) -> impl IntoView {
    let card = move |c: PreviewCard| {
        let more = c.image_count.saturating_sub(c.thumbs.len());
        view! {
            <li class="preview-card" data-testid="preview-card">
                <h3>
                    <span
                        class=confidence_class(c.confidence)
                        data-testid="preview-confidence"
                        data-confidence=confidence_label(c.confidence)
                        title=format!("confidence: {}", confidence_label(c.confidence))
                    ></span>
                    {c.label.clone()}
                </h3>
                <div class="thumbs">
                    {c
                        .thumbs
                        .iter()
                        .map(|p| {
                            let (a, b) = (p.clone(), p.clone());
                            view! {
                                <Thumb
                                    path=p.clone()
                                    url=Signal::derive(move || thumb_url.run(a.clone()))
                                    problem=Signal::derive(move || thumb_problem.run(b.clone()))
                                    on_visible=on_thumb_visible
                                    on_hidden=on_thumb_hidden
                                />
                            }
                        })
                        .collect_view()}
                    {(more > 0).then(|| view! { <span class="muted small">{format!("+{more}")}</span> })}
                </div>
                <dl>
                    <dt>"Images"</dt>
                    <dd>{c.image_count}</dd>
                    {c
                        .fields
                        .iter()
                        .map(|f| {
                            let value = f.value.clone();
                            let source = f.source.clone();
                            let required = f.required;
                            view! {
                                <dt>{f.name}</dt>
                                <dd data-testid="preview-value">
                                    {match value {
                                        Some(v) => view! {
                                            <span>{v}</span>
                                            <span class="muted small">
                                                {source.map(|s| format!(" — from {s}"))}
                                            </span>
                                        }
                                            .into_any(),
                                        None if required => view! { <span class="error">"missing"</span> }.into_any(),
                                        None => view! { <span class="muted">"none"</span> }.into_any(),
                                    }}
                                </dd>
                            }
                        })
                        .collect_view()}
                </dl>
                <ul class="small">
                    {c
                        .reasons
                        .iter()
                        .map(|r| {
                            let class = match r.level {
                                Confidence::Green => "",
                                Confidence::Yellow => "reason-yellow",
                                Confidence::Red => "reason-red",
                            };
                            view! { <li class=class>{r.text.clone()}</li> }
                        })
                        .collect_view()}
                </ul>
            </li>
        }
    };
    view! {
        {move || {
            data.get()
                .map(|d| {
                    let cov = d.coverage;
                    let [g, y, r] = d.colours;
                    view! {
                        <section class="card" data-testid="preview">
                            <h2>"Preview"</h2>
                            <p data-testid="preview-summary">
                                {format!(
                                    "{} images → {} encounters ({} green, {} yellow, {} red). Showing {}.",
                                    d.images,
                                    cov.encounters,
                                    g,
                                    y,
                                    r,
                                    d.cards.len()
                                )}
                            </p>
                            <dl class="counts" data-testid="coverage">
                                <div><dt>"Date"</dt><dd>{percent(cov.date)}</dd></div>
                                <div><dt>"Location name"</dt><dd>{percent(cov.location_name)}</dd></div>
                                <div><dt>"GPS"</dt><dd>{percent(cov.gps)}</dd></div>
                                <div><dt>"Photographer"</dt><dd>{percent(cov.photographer)}</dd></div>
                                <div><dt>"Individuals"</dt><dd>{percent(cov.individuals)}</dd></div>
                            </dl>
                            <ul class="plain preview-grid">
                                {d.cards.into_iter().map(card).collect_view()}
                            </ul>
                        </section>
                    }
                })
        }}
    }
}
