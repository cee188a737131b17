//! Settings: server URL, the pasted API key (masked) and parallel uploads.

use leptos::prelude::*;

use crate::store::Settings;

#[component]
pub fn SettingsForm(settings: Signal<Settings>, on_save: Callback<Settings>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let concurrency = RwSignal::new(2u8);
    let auto_resume = RwSignal::new(true);
    // Follow the stored settings whenever they change (first load, demo pre-fill).
    Effect::new(move |_| {
        let s = settings.get();
        url.set(s.server_url);
        key.set(s.api_key);
        concurrency.set(s.concurrency);
        auto_resume.set(s.auto_resume);
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        on_save.run(Settings {
            server_url: url.get_untracked().trim().to_string(),
            api_key: key.get_untracked().trim().to_string(),
            concurrency: concurrency.get_untracked(),
            auto_resume: auto_resume.get_untracked(),
        });
    };
    view! {
        <form class="card settings" on:submit=submit aria-label="Settings">
            <h2>"Settings"</h2>
            <label>
                "Server URL"
                <input
                    type="url"
                    name="server-url"
                    placeholder="https://sync.example.org"
                    required
                    prop:value=move || url.get()
                    on:input=move |ev| url.set(event_target_value(&ev))
                />
            </label>
            <label>
                "API key"
                <input
                    type="password"
                    name="api-key"
                    autocomplete="off"
                    placeholder="fsk_…"
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                />
            </label>
            <label>
                "Parallel uploads"
                <select
                    name="concurrency"
                    on:change=move |ev| {
                        concurrency.set(event_target_value(&ev).parse().unwrap_or(2))
                    }
                    prop:value=move || concurrency.get().to_string()
                >
                    <option value="1">"1 (slow or unstable connection)"</option>
                    <option value="2">"2 (default)"</option>
                    <option value="3">"3"</option>
                    <option value="4">"4 (fast connection)"</option>
                </select>
            </label>
            <label class="check">
                <input
                    type="checkbox"
                    name="auto-resume"
                    prop:checked=move || auto_resume.get()
                    on:change=move |ev| auto_resume.set(event_target_checked(&ev))
                />
                "Resume an interrupted sync by itself when the folder is still accessible"
            </label>
            <p class="muted small">
                "A pasted key is used for its own population; signing in (below) gets keys for your other populations. Keys are kept in this browser only and sent only to this server."
            </p>
            <button type="submit">"Save settings"</button>
        </form>
    }
}
