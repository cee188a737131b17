//! Signing in to get API keys (spec §3.1: the app provisions a key for this browser per
//! population when the Sync page opens). The password is only passed on to the intent, never
//! kept; the session lasts until it expires or Sign out.

use leptos::prelude::*;

#[component]
pub fn SignInForm(
    busy: Signal<bool>,
    /// "Signed in as … until …" while a session lasts.
    signed_in: Signal<Option<String>>,
    message: Signal<Option<String>>,
    on_sign_in: Callback<(String, String)>,
    on_sign_out: Callback<()>,
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
                "Sign in with your account on this server. When you open the Sync page, finsync creates a key for this browser for each population you may sync, and forgets your password."
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
                {move || if busy.get() { "Signing in…" } else { "Sign in" }}
            </button>
            {move || message.get().map(|m| view! { <p role="status" data-testid="sign-in-message">{m}</p> })}
            {move || signed_in.get().map(|t| view! {
                <p class="row" data-testid="signed-in">
                    <span>{t}</span>
                    <button type="button" data-testid="sign-out" on:click=move |_| on_sign_out.run(())>"Sign out"</button>
                </p>
            })}
        </form>
    }
}
