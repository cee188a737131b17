//! Photographer resolution (spec §2.5): every raw name found in the scan → Resolved (a server
//! user, found by search, or a typed display name when the server has no match) / Create on
//! sync (first, last, optional email) / Rejected / Unresolved; and the default photographer for
//! encounters where no name was found.

use finsync_core::manifest::{PhotographerResolution, UserRef};
use leptos::prelude::*;

/// One raw name and what it stands for now.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotographerRow {
    pub raw: String,
    /// Images whose rules give this name.
    pub images: usize,
    pub resolution: PhotographerResolution,
}

/// A server user found by search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserHit {
    pub user_id: String,
    pub display: String,
    pub detail: String,
}

/// The raw-name key of the default photographer's search.
pub const DEFAULT_KEY: &str = "";

fn mode(r: &PhotographerResolution) -> &'static str {
    match r {
        PhotographerResolution::Resolved { .. } => "resolved",
        PhotographerResolution::CreateOnSync { .. } => "create",
        PhotographerResolution::Rejected => "rejected",
        PhotographerResolution::Unresolved => "unresolved",
    }
}

/// The user search box with its hits and a "use the typed name" fallback.
#[component]
fn UserSearch(
    /// Whose search this is (a raw name, or [`DEFAULT_KEY`]).
    key: String,
    initial: String,
    hits: Signal<(String, Vec<UserHit>)>,
    search_error: Signal<Option<String>>,
    on_search: Callback<(String, String)>,
    on_pick: Callback<UserRef>,
) -> impl IntoView {
    let query = RwSignal::new(initial);
    let (k1, k2, k3, k4) = (key.clone(), key.clone(), key.clone(), key);
    let mine = move || hits.with(|(k, h)| if *k == k1 { h.clone() } else { Vec::new() });
    let searched = Signal::derive(move || hits.with(|(k, _)| *k == k2));
    view! {
        <div class="row small">
            <input
                type="search"
                placeholder="search server users"
                data-testid="user-search"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" {
                        ev.prevent_default();
                        on_search.run((k3.clone(), query.get_untracked()));
                    }
                }
            />
            <button
                type="button"
                data-testid="user-search-go"
                on:click=move |_| on_search.run((k4.clone(), query.get_untracked()))
            >
                "Search"
            </button>
            <button
                type="button"
                data-testid="user-typed"
                title="Use the name as typed (when the server has no such user yet)"
                disabled=move || query.with(|q| q.trim().is_empty())
                on:click=move |_| {
                    let name = query.get_untracked().trim().to_string();
                    on_pick
                        .run(UserRef {
                            user_id: format!("name:{name}"),
                            display: name,
                        });
                }
            >
                "Use typed name"
            </button>
        </div>
        {move || search_error.get().filter(|_| searched.get()).map(|e| view! { <p class="error small">{e}</p> })}
        <ul class="plain small">
            {move || {
                let list = mine();
                if list.is_empty() && searched.get() {
                    return view! { <li class="muted">"No server user matches."</li> }.into_any();
                }
                list.into_iter()
                    .map(|h| {
                        let pick = UserRef {
                            user_id: h.user_id.clone(),
                            display: h.display.clone(),
                        };
                        view! {
                            <li>
                                <button type="button" data-testid="user-hit" on:click=move |_| on_pick.run(pick.clone())>
                                    {h.display.clone()}
                                </button>
                                " "
                                <span class="muted">{h.detail.clone()}</span>
                            </li>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </ul>
    }
}

#[component]
pub fn Photographers(
    rows: Signal<Vec<PhotographerRow>>,
    hits: Signal<(String, Vec<UserHit>)>,
    search_error: Signal<Option<String>>,
    default_photographer: Signal<Option<UserRef>>,
    on_set: Callback<(String, PhotographerResolution)>,
    on_search: Callback<(String, String)>,
    on_default: Callback<Option<UserRef>>,
) -> impl IntoView {
    let row = move |r: PhotographerRow| {
        let raw = r.raw.clone();
        let current = {
            let raw = raw.clone();
            move || {
                rows.with(|rs| {
                    rs.iter()
                        .find(|x| x.raw == raw)
                        .map(|x| x.resolution.clone())
                        .unwrap_or(PhotographerResolution::Unresolved)
                })
            }
        };
        // The chosen option; "resolved" stays chosen while a user is searched for.
        let chosen = RwSignal::new(mode(&r.resolution));
        let set = {
            let raw = raw.clone();
            move |res: PhotographerResolution| on_set.run((raw.clone(), res))
        };
        let set2 = set.clone();
        let set3 = set.clone();
        let raw2 = raw.clone();
        let cur2 = current.clone();
        let cur3 = current.clone();
        let create_field = move |which: u8, value: String| {
            let (mut first, mut last, mut email) = match cur3() {
                PhotographerResolution::CreateOnSync {
                    first_name,
                    last_name,
                    email,
                } => (first_name, last_name, email),
                _ => (String::new(), String::new(), None),
            };
            match which {
                0 => first = value.trim().to_string(),
                1 => last = value.trim().to_string(),
                _ => email = Some(value.trim().to_string()).filter(|e| !e.is_empty()),
            }
            set3(PhotographerResolution::CreateOnSync {
                first_name: first,
                last_name: last,
                email,
            });
        };
        let cf1 = create_field.clone();
        let cf2 = create_field.clone();
        let create_value = move |which: u8| {
            let cur = cur2.clone();
            move || match cur() {
                PhotographerResolution::CreateOnSync {
                    first_name,
                    last_name,
                    email,
                } => match which {
                    0 => first_name,
                    1 => last_name,
                    _ => email.unwrap_or_default(),
                },
                _ => String::new(),
            }
        };
        let status_text = {
            let current = current.clone();
            move || match current() {
                PhotographerResolution::Resolved { display, .. } => format!("✓ {display}"),
                PhotographerResolution::CreateOnSync { .. } => "created on sync".into(),
                PhotographerResolution::Rejected => "rejected".into(),
                PhotographerResolution::Unresolved => "unresolved".into(),
            }
        };
        let unresolved = Signal::derive({
            let current = current.clone();
            move || current() == PhotographerResolution::Unresolved
        });
        let on_pick = Callback::new(move |u: UserRef| {
            set2(PhotographerResolution::Resolved {
                user_id: u.user_id,
                display: u.display,
            })
        });
        view! {
            <tr data-testid="photographer" data-raw=raw.clone()>
                <td>
                    <strong>{raw.clone()}</strong>
                    <div class="muted small">{format!("{} image(s)", r.images)}</div>
                </td>
                <td>
                    <select
                        aria-label=format!("Resolution of {raw}")
                        data-testid="phot-status"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            match v.as_str() {
                                "resolved" => chosen.set("resolved"),
                                "create" => {
                                    chosen.set("create");
                                    set(PhotographerResolution::create_from(&raw2));
                                }
                                "rejected" => {
                                    chosen.set("rejected");
                                    set(PhotographerResolution::Rejected);
                                }
                                _ => {
                                    chosen.set("unresolved");
                                    set(PhotographerResolution::Unresolved);
                                }
                            }
                        }
                    >
                        {[
                            ("unresolved", "Unresolved"),
                            ("resolved", "Resolved (server user)"),
                            ("create", "Create on sync"),
                            ("rejected", "Rejected"),
                        ]
                            .into_iter()
                            .map(|(v, l)| view! { <option value=v selected=move || chosen.get() == v>{l}</option> })
                            .collect_view()}
                    </select>
                    <div
                        class="small"
                        class:error=unresolved
                        class:ok=move || !unresolved.get()
                        data-testid="phot-state"
                    >
                        {status_text}
                    </div>
                </td>
                <td>
                    <Show when=move || chosen.get() == "resolved">
                        <UserSearch
                            key=r.raw.clone()
                            initial=r.raw.clone()
                            hits=hits
                            search_error=search_error
                            on_search=on_search
                            on_pick=on_pick
                        />
                    </Show>
                    <Show when=move || chosen.get() == "create">
                        <div class="row small">
                            <input
                                type="text"
                                placeholder="First name"
                                aria-label="First name"
                                data-testid="create-first"
                                prop:value=create_value(0)
                                on:change={
                                    let f = cf1.clone();
                                    move |ev| f(0, event_target_value(&ev))
                                }
                            />
                            <input
                                type="text"
                                placeholder="Last name"
                                aria-label="Last name"
                                data-testid="create-last"
                                prop:value=create_value(1)
                                on:change={
                                    let f = cf2.clone();
                                    move |ev| f(1, event_target_value(&ev))
                                }
                            />
                            <input
                                type="email"
                                placeholder="Email (optional)"
                                aria-label="Email"
                                data-testid="create-email"
                                prop:value=create_value(2)
                                on:change={
                                    let f = create_field.clone();
                                    move |ev| f(2, event_target_value(&ev))
                                }
                            />
                        </div>
                    </Show>
                </td>
            </tr>
        }
    };
    let pick_default = Callback::new(move |u: UserRef| on_default.run(Some(u)));
    view! {
        <div class="chain" data-testid="photographers">
            <h3>"Photographers"</h3>
            <Show
                when=move || !rows.with(Vec::is_empty)
                fallback=|| view! { <p class="muted small">"No photographer names found with these rules. Press Preview after changing them."</p> }
            >
                <p class="small" data-testid="phot-summary">
                    {move || {
                        let open = rows.with(|r| r.iter().filter(|x| x.resolution == PhotographerResolution::Unresolved).count());
                        if open == 0 {
                            "Every name is resolved, created or rejected.".to_string()
                        } else {
                            format!("{open} name(s) still unresolved: approval needs every name handled.")
                        }
                    }}
                </p>
                <table class="review photographers">
                    <thead>
                        <tr>
                            <th scope="col">"Name in the files"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Details"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || rows.get() key=|r| r.raw.clone() children=row />
                    </tbody>
                </table>
            </Show>
            <h3>"Default photographer"</h3>
            <p class="small">
                "For encounters where no name was found anywhere: "
                <strong data-testid="default-photographer">
                    {move || default_photographer.get().map(|u| u.display).unwrap_or_else(|| "none".into())}
                </strong>
                " "
                <Show when=move || default_photographer.with(Option::is_some)>
                    <button type="button" class="small" on:click=move |_| on_default.run(None)>
                        "Clear"
                    </button>
                </Show>
            </p>
            <UserSearch
                key=DEFAULT_KEY.to_string()
                initial=String::new()
                hits=hits
                search_error=search_error
                on_search=on_search
                on_pick=pick_default
            />
        </div>
    }
}
