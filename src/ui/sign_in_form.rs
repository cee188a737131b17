//! Getting an API key by signing in (spec §3.1: the app provisions a key for this browser per
//! population). The password is only passed on to the intent, never kept.

use finsync_core::api::PopulationMembership;
use leptos::prelude::*;

#[component]
pub fn SignInForm(
    busy: Signal<bool>,
    /// Populations offered after sign-in when there are several.
    choices: Signal<Vec<PopulationMembership>>,
    message: Signal<Option<String>>,
    on_sign_in: Callback<(String, String)>,
    on_choose: Callback<i64>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        on_sign_in.run((email.get_untracked(), password.get_untracked()));
        password.set(String::new());
    };
    view! {
        <form class="card settings" on:submit=submit aria-labelledby="signin-heading">
            <h2 id="signin-heading">"Get an API key"</h2>
            <p class="muted small">
                "Sign in with your account on this server; finsync creates a key for this browser and forgets your password."
            </p>
            <label>
                "Email"
                <input
                    type="email"
                    name="email"
                    autocomplete="username"
                    required
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Password"
                <input
                    type="password"
                    name="password"
                    autocomplete="current-password"
                    required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
            </label>
            <button type="submit" data-testid="sign-in" disabled=move || busy.get()>
                {move || if busy.get() { "Signing in…" } else { "Sign in and get a key" }}
            </button>
            {move || message.get().map(|m| view! { <p role="status" data-testid="sign-in-message">{m}</p> })}
            <Show when=move || !choices.with(Vec::is_empty)>
                <p>"Which population will this browser sync?"</p>
                <ul class="choices">
                    {move || {
                        choices
                            .get()
                            .into_iter()
                            .map(|p| {
                                let id = p.id;
                                view! {
                                    <li>
                                        <button type="button" on:click=move |_| on_choose.run(id)>
                                            {format!("{} ({})", p.name, p.organisation)}
                                        </button>
                                        {(!p.sync_enabled).then(|| view! { <span class="muted small">" browser sync is off"</span> })}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
        </form>
    }
}
