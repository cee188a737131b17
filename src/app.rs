//! The root component: the app's shell (header, status bar, navigation) and the state every
//! page shares ([`AppState`], provided as context). Pages live in [`crate::pages`].

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::activity::{self, Category};
use crate::api;
use crate::keys::KeyState;
use crate::pages::{
    activity::ActivityPage, discover::DiscoverPage, review::ReviewPage, settings::SettingsPage,
    sync::SyncPage, Page,
};
use crate::store::{DbEvent, Settings, Store, StoredSession};
use crate::sync::lock;
use crate::ui::connection::{Connection, ConnectionBar};

/// State shared by every page. All fields are signals, so the struct is `Copy`.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The open database; `None` until it is open (or if it cannot be opened).
    pub store: RwSignal<Option<Store>, LocalStorage>,
    pub settings: RwSignal<Settings>,
    pub connection: RwSignal<Connection>,
    /// This browser's API keys with their statuses, one per population ([`crate::keys`]).
    pub keys: RwSignal<Vec<KeyState>>,
    /// The sign-in session, while it lasts.
    pub session: RwSignal<Option<StoredSession>>,
    /// The population new folder uploads and new manifests go to (the status bar's choice).
    pub chosen_population: RwSignal<Option<i64>>,
    /// Keys are being provisioned.
    pub provisioning: StoredValue<bool>,
    /// The last error that is not tied to one page element.
    pub error: RwSignal<Option<String>>,
    pub page: RwSignal<Page>,
    /// A sync runs (set by the Sync page); the update prompt waits for it to end.
    pub syncing: RwSignal<bool>,
}

impl AppState {
    /// Saves settings, logs the change (without the key) and re-checks the server.
    pub fn save_settings(self, s: Settings) {
        let before = self.settings.get_untracked();
        self.settings.set(s.clone());
        if let Some(st) = self.store.get_untracked() {
            let error = self.error;
            spawn_local(async move {
                if let Err(e) = st.save_settings(&s).await {
                    error.set(Some(e.to_string()));
                    return;
                }
                let mut changed = Vec::new();
                if before.server_url != s.server_url {
                    changed.push(format!("server URL → {}", s.server_url));
                }
                if before.api_key != s.api_key {
                    changed.push("pasted API key replaced".to_string());
                }
                if before.concurrency != s.concurrency {
                    changed.push(format!("parallel uploads → {}", s.concurrency));
                }
                if !changed.is_empty() {
                    activity::log(
                        &st,
                        Category::Settings,
                        "Settings saved",
                        &changed.join("; "),
                        true,
                    )
                    .await;
                }
            });
        }
        self.check_server();
    }
}

#[component]
pub fn App() -> impl IntoView {
    let state = AppState {
        store: RwSignal::new_local(None),
        settings: RwSignal::new(Settings::default()),
        connection: RwSignal::new(Connection::Unconfigured),
        keys: RwSignal::new(Vec::new()),
        session: RwSignal::new(None),
        chosen_population: RwSignal::new(None),
        provisioning: StoredValue::new(false),
        error: RwSignal::new(None),
        page: RwSignal::new(Page::from_hash()),
        syncing: RwSignal::new(false),
    };
    provide_context(state);
    crate::pages::follow_hash(state.page);

    // Open the database and load the settings (or the development server's demo settings).
    spawn_local(async move {
        let s = match Store::open_with(crate::store::DB_NAME, move |event| {
            state.error.set(Some(event.message().to_string()))
        })
        .await
        {
            Ok(s) => s,
            Err(e) => {
                state.error.set(Some(format!(
                    "{e}. finsync keeps its state in this browser's IndexedDB; private windows or strict privacy settings can block it."
                )));
                return;
            }
        };
        let stored = s.settings().await.unwrap_or_else(|e| {
            state.error.set(Some(e.to_string()));
            None
        });
        let initial = match stored {
            Some(v) => v,
            None => match api::demo_config().await {
                Some(d) => {
                    let v = Settings {
                        server_url: d.server_url,
                        api_key: d.api_key,
                        ..Settings::default()
                    };
                    if let Err(e) = s.save_settings(&v).await {
                        state.error.set(Some(e.to_string()));
                    }
                    v
                }
                None => Settings::default(),
            },
        };
        // The open may have waited for another tab (DbEvent::Blocked): that is over now.
        if state.error.get_untracked().as_deref() == Some(DbEvent::Blocked.message()) {
            state.error.set(None);
        }
        // Keys and a session stored before their server was recorded belong to this server.
        if let Err(e) = s
            .adopt_unowned(&crate::store::server_origin(&initial.server_url))
            .await
        {
            state.error.set(Some(e.to_string()));
        }
        // The sign-in session, unless it has expired (then it is forgotten).
        match s.session().await {
            Ok(Some(session)) if !session.expired(js_sys::Date::now()) => {
                state.session.set(Some(session))
            }
            Ok(Some(_)) => {
                if let Err(e) = s.delete_session().await {
                    state.error.set(Some(e.to_string()));
                }
            }
            Ok(None) => {}
            Err(e) => state.error.set(Some(e.to_string())),
        }
        state.settings.set(initial);
        state.store.set(Some(s));
        state.check_server();
        lock::request_persistence().await;
    });
    // Re-check the server when the browser comes back online, and every minute.
    crate::pages::on_window_event("online", move || state.check_server());
    crate::pages::on_window_event("offline", move || {
        state.connection.set(Connection::Unreachable(
            "This browser is offline. Syncs pause and resume by themselves.".into(),
        ))
    });
    crate::pages::every(60_000, move || state.check_server());
    // A new version is installed and waiting (public/sw-register.js): offer to reload.
    let update_ready = RwSignal::new(update_waiting());
    crate::pages::on_window_event("finsync-update-ready", move || update_ready.set(true));

    let nav = move |page: Page, label: &'static str, testid: &'static str| {
        view! {
            <a
                href=page.hash()
                data-testid=testid
                aria-current=move || (state.page.get() == page).then_some("page")
            >
                {label}
            </a>
        }
    };
    view! {
        <header class="app-header">
            <div>
                <h1>"finsync"</h1>
                <p class="muted">
                    "Field photos to the identification server, straight from your browser."
                </p>
            </div>
            <nav class="tabs" aria-label="Pages">
                {nav(Page::Sync, "Sync", "nav-sync")}
                {nav(Page::Discover, "Discover", "nav-discover")}
                {nav(Page::Settings, "Settings", "nav-settings")}
                {nav(Page::Activity, "Activity log", "nav-activity")}
            </nav>
        </header>
        <ConnectionBar
            connection=state.connection.into()
            keys=Signal::derive(move || state.key_lines())
            populations=Signal::derive(move || state.ready_populations())
            chosen=Signal::derive(move || state.upload_population().map(|p| p.id))
            on_choose=Callback::new(move |id| state.chosen_population.set(Some(id)))
            concurrency=Signal::derive(move || state.settings.with(|s| s.concurrency))
            on_concurrency=Callback::new(move |n| {
                state.save_settings(Settings { concurrency: n, ..state.settings.get_untracked() })
            })
        />
        // Never during a sync: the reload would interrupt it.
        <Show when=move || update_ready.get() && !state.syncing.get()>
            <div class="banner" role="status" data-testid="update-prompt">
                <p>"New version — reload to use it."</p>
                <button type="button" class="primary" data-testid="update-reload" on:click=|_| apply_update()>
                    "Reload"
                </button>
            </div>
        </Show>
        {move || {
            state
                .error
                .get()
                .map(|e| {
                    view! {
                        <div class="banner banner-error" role="alert" data-testid="app-error">
                            <p>{e}</p>
                            <button type="button" on:click=move |_| state.error.set(None)>
                                "Dismiss"
                            </button>
                        </div>
                    }
                })
        }}
        // Every page stays mounted (a running sync keeps its state while you look elsewhere);
        // only the current one is shown.
        <main>
            <div hidden=move || state.page.get() != Page::Sync>
                <SyncPage />
            </div>
            <div hidden=move || state.page.get() != Page::Settings>
                <SettingsPage />
            </div>
            <div hidden=move || state.page.get() != Page::Activity>
                <ActivityPage />
            </div>
            <div hidden=move || state.page.get() != Page::Discover>
                <DiscoverPage />
            </div>
            <div hidden=move || state.page.get() != Page::Review>
                <ReviewPage />
            </div>
        </main>
    }
}

/// Whether public/sw-register.js has found a new version waiting to take over.
fn update_waiting() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .is_some_and(|e| e.has_attribute("data-update-ready"))
}

/// Asks public/sw-register.js to switch to the waiting version; it reloads the page.
fn apply_update() {
    if let (Some(w), Ok(ev)) = (
        web_sys::window(),
        web_sys::Event::new("finsync-update-apply"),
    ) {
        let _ = w.dispatch_event(&ev);
    }
}
