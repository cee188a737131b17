//! One field's fallback chain of sources (spec §2.3): kind, folder depth, regex, date format
//! or manual value per link; links can be added, moved and removed.

use finsync_core::rules::{DateFormat, Source, SourceKind};
use leptos::prelude::*;

/// A field whose chain is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleField {
    Date,
    Location,
    Gps,
    Photographer,
    Individuals,
}

impl RuleField {
    pub const ALL: [RuleField; 5] = [
        RuleField::Date,
        RuleField::Location,
        RuleField::Gps,
        RuleField::Photographer,
        RuleField::Individuals,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RuleField::Date => "Date and time",
            RuleField::Location => "Location name",
            RuleField::Gps => "GPS coordinates",
            RuleField::Photographer => "Photographer",
            RuleField::Individuals => "Individual IDs",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            RuleField::Date => "date",
            RuleField::Location => "location",
            RuleField::Gps => "gps",
            RuleField::Photographer => "photographer",
            RuleField::Individuals => "individuals",
        }
    }

    /// The source kinds this field accepts (as core's rules do).
    pub fn kinds(self) -> &'static [SourceKind] {
        use SourceKind::*;
        match self {
            RuleField::Date => &[Exif, Iptc, FolderName, FileName, Manual],
            RuleField::Location => &[Iptc, FolderName, FileName, Manual],
            RuleField::Gps => &[Exif, FolderName, FileName, Manual],
            RuleField::Photographer => &[Iptc, Exif, FolderName, FileName, Manual],
            RuleField::Individuals => &[Iptc, FolderName, FileName, Manual],
        }
    }

    fn manual_hint(self) -> &'static str {
        match self {
            RuleField::Date => "YYYY-MM-DD or YYYY-MM-DD HH:MM:SS",
            RuleField::Gps => "lat, lon (e.g. 48.5, -123.1)",
            RuleField::Individuals => "IDs separated by commas",
            _ => "text",
        }
    }
}

fn kind_id(k: SourceKind) -> &'static str {
    match k {
        SourceKind::Exif => "exif",
        SourceKind::Iptc => "iptc",
        SourceKind::FolderName => "folderName",
        SourceKind::FileName => "fileName",
        SourceKind::Manual => "manual",
    }
}

/// A new link of `kind` with sensible defaults for `field`.
pub fn default_source(kind: SourceKind, field: RuleField) -> Source {
    let date = field == RuleField::Date;
    match kind {
        SourceKind::Exif => Source::Exif,
        SourceKind::Iptc => Source::Iptc,
        SourceKind::FolderName => Source::FolderName {
            depth: -1,
            regex: None,
            date_format: date.then_some(DateFormat::YYYY_MM_DD),
        },
        SourceKind::FileName => Source::FileName {
            regex: None,
            date_format: date.then_some(DateFormat::YYYYMMDD),
        },
        SourceKind::Manual => Source::Manual {
            value: String::new(),
        },
    }
}

fn kind_from_id(id: &str) -> Option<SourceKind> {
    [
        SourceKind::Exif,
        SourceKind::Iptc,
        SourceKind::FolderName,
        SourceKind::FileName,
        SourceKind::Manual,
    ]
    .into_iter()
    .find(|k| kind_id(*k) == id)
}

/// An edit of the whole chain / of one link.
type ChainEdit = Box<dyn FnOnce(&mut Vec<Source>)>;
type LinkEdit = Box<dyn FnOnce(&mut Source)>;

#[component]
pub fn SourceChain(
    field: RuleField,
    chain: Signal<Vec<Source>>,
    on_change: Callback<Vec<Source>>,
) -> impl IntoView {
    let edit = move |i: usize, f: ChainEdit| {
        let mut c = chain.get_untracked();
        if i < c.len() || i == usize::MAX {
            f(&mut c);
            on_change.run(c);
        }
    };
    let set = move |i: usize, f: LinkEdit| {
        edit(
            i,
            Box::new(move |c: &mut Vec<Source>| {
                if let Some(s) = c.get_mut(i) {
                    f(s)
                }
            }),
        )
    };
    let row = move |(i, kind): (usize, SourceKind)| {
        let get = move || chain.with(|c| c.get(i).cloned());
        let regex = move || match get() {
            Some(Source::FolderName { regex, .. } | Source::FileName { regex, .. }) => {
                regex.unwrap_or_default()
            }
            _ => String::new(),
        };
        let depth = move || match get() {
            Some(Source::FolderName { depth, .. }) => depth.to_string(),
            _ => String::new(),
        };
        let date_format = move || match get() {
            Some(Source::FolderName { date_format, .. } | Source::FileName { date_format, .. }) => {
                date_format.map(|d| d.to_string()).unwrap_or_default()
            }
            _ => String::new(),
        };
        let manual = move || match get() {
            Some(Source::Manual { value }) => value,
            _ => String::new(),
        };
        let pattern = matches!(kind, SourceKind::FolderName | SourceKind::FileName);
        let is_date = field == RuleField::Date;
        view! {
            <li data-testid="source-row">
                <div class="row">
                    <select
                        aria-label="Source"
                        data-testid="source-kind"
                        on:change=move |ev| {
                            if let Some(k) = kind_from_id(&event_target_value(&ev)) {
                                set(i, Box::new(move |s| *s = default_source(k, field)));
                            }
                        }
                    >
                        {field
                            .kinds()
                            .iter()
                            .map(|k| {
                                view! {
                                    <option value=kind_id(*k) selected={*k == kind}>
                                        {k.to_string()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <Show when=move || kind == SourceKind::FolderName>
                        <label class="small">
                            "depth "
                            <input
                                type="number"
                                min="-9"
                                max="20"
                                data-testid="source-depth"
                                title="0 = the chosen folder, 1 = its sub-folders…; -1 = the image's own folder, -2 its parent…"
                                prop:value=depth
                                on:change=move |ev| {
                                    if let Ok(d) = event_target_value(&ev).trim().parse::<i32>() {
                                        set(
                                            i,
                                            Box::new(move |s| {
                                                if let Source::FolderName { depth, .. } = s {
                                                    *depth = d;
                                                }
                                            }),
                                        );
                                    }
                                }
                            />
                        </label>
                    </Show>
                    <Show when=move || pattern>
                        <input
                            type="text"
                            placeholder="regex, part in ( ) — optional"
                            data-testid="source-regex"
                            prop:value=regex
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                set(
                                    i,
                                    Box::new(move |s| {
                                        if let Source::FolderName { regex, .. } | Source::FileName { regex, .. } = s {
                                            *regex = Some(v).filter(|v| !v.trim().is_empty());
                                        }
                                    }),
                                );
                            }
                        />
                    </Show>
                    <Show when=move || pattern && is_date>
                        <select
                            aria-label="Date format"
                            data-testid="source-date-format"
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                if let Ok(f) = DateFormat::try_from(v) {
                                    set(
                                        i,
                                        Box::new(move |s| {
                                            if let Source::FolderName { date_format, .. } | Source::FileName { date_format, .. } = s {
                                                *date_format = Some(f);
                                            }
                                        }),
                                    );
                                }
                            }
                        >
                            {DateFormat::all()
                                .into_iter()
                                .map(|f| {
                                    let name = f.to_string();
                                    let n2 = name.clone();
                                    let value = name.clone();
                                    view! {
                                        <option value=value selected=move || date_format() == n2>
                                            {name}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </Show>
                    <Show when=move || kind == SourceKind::Manual>
                        <input
                            type="text"
                            placeholder=field.manual_hint()
                            data-testid="source-value"
                            prop:value=manual
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                set(
                                    i,
                                    Box::new(move |s| {
                                        if let Source::Manual { value } = s {
                                            *value = v;
                                        }
                                    }),
                                );
                            }
                        />
                    </Show>
                    <span class="small">
                        <button
                            type="button"
                            title="Try earlier"
                            aria-label="Move up"
                            disabled={i == 0}
                            on:click=move |_| edit(i, Box::new(move |c| c.swap(i - 1, i)))
                        >
                            "↑"
                        </button>
                        <button
                            type="button"
                            title="Try later"
                            aria-label="Move down"
                            disabled={move || i + 1 >= chain.with(Vec::len)}
                            on:click=move |_| {
                                edit(
                                    i,
                                    Box::new(move |c| {
                                        if i + 1 < c.len() {
                                            c.swap(i, i + 1)
                                        }
                                    }),
                                )
                            }
                        >
                            "↓"
                        </button>
                        <button
                            type="button"
                            aria-label="Remove source"
                            on:click=move |_| {
                                edit(
                                    i,
                                    Box::new(move |c| {
                                        c.remove(i);
                                    }),
                                )
                            }
                        >
                            "✕"
                        </button>
                    </span>
                </div>
            </li>
        }
    };
    view! {
        <div class="chain" data-testid=format!("chain-{}", field.id())>
            <h3>{field.label()}</h3>
            <Show
                when=move || !chain.with(Vec::is_empty)
                fallback=|| view! { <p class="muted small">"No source: this field stays empty."</p> }
            >
                <ol>
                    <For
                        each=move || {
                            chain.with(|c| c.iter().map(|s| s.kind()).enumerate().collect::<Vec<_>>())
                        }
                        key=|x| *x
                        children=row
                    />
                </ol>
            </Show>
            <button
                type="button"
                class="small"
                data-testid="add-source"
                on:click=move |_| {
                    let k = field.kinds()[field.kinds().len() - 2];
                    edit(usize::MAX, Box::new(move |c| c.push(default_source(k, field))));
                }
            >
                "+ Add source"
            </button>
        </div>
    }
}
