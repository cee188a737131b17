//! A chip input (known individuals): type an ID and press Enter or a comma to add it (several
//! at once, separated by commas), × to remove one.

use leptos::prelude::*;

#[component]
pub fn Chips(
    chips: Signal<Vec<String>>,
    /// Why the last input was refused (e.g. not the population's ID format).
    error: Signal<Option<String>>,
    on_add: Callback<String>,
    on_remove: Callback<String>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let commit = move || {
        let t = text.get_untracked();
        for part in t.split(',') {
            let p = part.trim();
            if !p.is_empty() {
                on_add.run(p.to_string());
            }
        }
        text.set(String::new());
    };
    view! {
        <div class="chips" data-testid="chips">
            <For
                each=move || chips.get()
                key=|c| c.clone()
                children=move |c| {
                    let c2 = c.clone();
                    view! {
                        <span class="chip" data-testid="chip">
                            {c.clone()}
                            <button
                                type="button"
                                aria-label=format!("Remove {c}")
                                on:click=move |_| on_remove.run(c2.clone())
                            >
                                "×"
                            </button>
                        </span>
                    }
                }
            />
            <input
                type="text"
                placeholder="ID, Enter"
                aria-label="Add known individual"
                data-testid="chip-input"
                prop:value=move || text.get()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    text.set(v.clone());
                    if v.ends_with(',') {
                        commit();
                    }
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" {
                        ev.prevent_default();
                        commit();
                    }
                }
            />
        </div>
        {move || error.get().map(|e| view! { <p class="error small">{e}</p> })}
    }
}
