//! The grouping strategy (spec decision 4): folder at a depth, file-name pattern, time
//! proximity (window + radius) or fusion.

use finsync_core::grouping::Strategy;
use leptos::prelude::*;

fn kind(s: &Strategy) -> &'static str {
    match s {
        Strategy::Folder { .. } => "folder",
        Strategy::FileNamePattern { .. } => "fileName",
        Strategy::TimeProximity { .. } => "time",
        Strategy::Fusion { .. } => "fusion",
    }
}

/// Switching kind keeps what carries over (depth, window, radius).
fn switch(from: &Strategy, to: &str) -> Option<Strategy> {
    let (depth, window, radius) = match from {
        Strategy::Folder { depth } => (*depth, 120, 2.0),
        Strategy::FileNamePattern { .. } => (1, 120, 2.0),
        Strategy::TimeProximity {
            window_minutes,
            radius_km,
        } => (1, *window_minutes, *radius_km),
        Strategy::Fusion {
            depth,
            window_minutes,
            radius_km,
        } => (*depth, *window_minutes, *radius_km),
    };
    Some(match to {
        "folder" => Strategy::Folder { depth },
        "fileName" => Strategy::FileNamePattern {
            regex: r"^([A-Za-z]+\d+)_".into(),
        },
        "time" => Strategy::TimeProximity {
            window_minutes: window,
            radius_km: radius,
        },
        "fusion" => Strategy::Fusion {
            depth,
            window_minutes: window,
            radius_km: radius,
        },
        _ => return None,
    })
}

#[component]
pub fn StrategyEditor(strategy: Signal<Strategy>, on_change: Callback<Strategy>) -> impl IntoView {
    let update = move |f: Box<dyn FnOnce(&mut Strategy)>| {
        let mut s = strategy.get_untracked();
        f(&mut s);
        on_change.run(s);
    };
    let depth = move || match strategy.get() {
        Strategy::Folder { depth } | Strategy::Fusion { depth, .. } => Some(depth),
        _ => None,
    };
    let window = move || match strategy.get() {
        Strategy::TimeProximity { window_minutes, .. }
        | Strategy::Fusion { window_minutes, .. } => Some(window_minutes),
        _ => None,
    };
    let radius = move || match strategy.get() {
        Strategy::TimeProximity { radius_km, .. } | Strategy::Fusion { radius_km, .. } => {
            Some(radius_km)
        }
        _ => None,
    };
    let regex = move || match strategy.get() {
        Strategy::FileNamePattern { regex } => Some(regex),
        _ => None,
    };
    view! {
        <div class="chain" data-testid="strategy">
            <h3>"Grouping"</h3>
            <div class="row">
                <select
                    aria-label="Grouping strategy"
                    data-testid="strategy-kind"
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if let Some(s) = switch(&strategy.get_untracked(), &v) {
                            on_change.run(s);
                        }
                    }
                >
                    {[
                        ("folder", "Folder at a depth"),
                        ("fileName", "File-name pattern"),
                        ("time", "Time proximity"),
                        ("fusion", "Fusion (folder checked by time and GPS)"),
                    ]
                        .into_iter()
                        .map(|(v, label)| {
                            view! {
                                <option value=v selected=move || kind(&strategy.get()) == v>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <Show when=move || depth().is_some()>
                    <label class="small">
                        "depth "
                        <input
                            type="number"
                            min="-9"
                            max="20"
                            data-testid="strategy-depth"
                            prop:value=move || depth().unwrap_or(1).to_string()
                            on:change=move |ev| {
                                if let Ok(d) = event_target_value(&ev).trim().parse::<i32>() {
                                    update(
                                        Box::new(move |s| match s {
                                            Strategy::Folder { depth } | Strategy::Fusion { depth, .. } => *depth = d,
                                            _ => {}
                                        }),
                                    );
                                }
                            }
                        />
                    </label>
                </Show>
                <Show when=move || window().is_some()>
                    <label class="small">
                        "window (min) "
                        <input
                            type="number"
                            min="1"
                            max="1440"
                            data-testid="strategy-window"
                            prop:value=move || window().unwrap_or(120).to_string()
                            on:change=move |ev| {
                                if let Ok(w) = event_target_value(&ev).trim().parse::<u32>() {
                                    update(
                                        Box::new(move |s| match s {
                                            Strategy::TimeProximity { window_minutes, .. } | Strategy::Fusion { window_minutes, .. } => *window_minutes = w,
                                            _ => {}
                                        }),
                                    );
                                }
                            }
                        />
                    </label>
                    <label class="small">
                        "radius (km) "
                        <input
                            type="number"
                            min="0"
                            step="0.1"
                            data-testid="strategy-radius"
                            prop:value=move || radius().unwrap_or(2.0).to_string()
                            on:change=move |ev| {
                                if let Ok(r) = event_target_value(&ev).trim().parse::<f64>() {
                                    update(
                                        Box::new(move |s| match s {
                                            Strategy::TimeProximity { radius_km, .. } | Strategy::Fusion { radius_km, .. } => *radius_km = r,
                                            _ => {}
                                        }),
                                    );
                                }
                            }
                        />
                    </label>
                </Show>
                <Show when=move || regex().is_some()>
                    <input
                        type="text"
                        data-testid="strategy-regex"
                        placeholder="regex; ( ) is the encounter key"
                        prop:value=move || regex().unwrap_or_default()
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            update(
                                Box::new(move |s| {
                                    if let Strategy::FileNamePattern { regex } = s {
                                        *regex = v;
                                    }
                                }),
                            );
                        }
                    />
                </Show>
            </div>
            <p class="muted small">
                "Then every group is split to one photographer and one day."
            </p>
        </div>
    }
}
