//! Settings: server, pasted key and parallel uploads; this browser's keys per population
//! (Re-provision) and sign-in; Azure storage connections (checked, then kept
//! in this browser only); how much this browser stores and whether it may evict it; and
//! "forget this browser".

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

use crate::activity::{self, Category};
use crate::app::AppState;
use crate::ui::api_keys::ApiKeyList;
use crate::ui::human_bytes;
use crate::ui::settings_form::SettingsForm;
use crate::ui::sign_in_form::SignInForm;
use crate::ui::storage_connections::{AddOutcome, NewConnection, StorageConnections};
use finsync_core::cloud::{ConnectionAuth, StorageConnection};

/// Builds the connection the person described (the token's or URL's parts sorted out), or
/// says which field is missing.
fn connection_of(n: &NewConnection) -> Result<StorageConnection, String> {
    if n.name.is_empty() || n.account.is_empty() || n.container.is_empty() {
        return Err(
            "Fill in the name, the storage account name and the container to check.".into(),
        );
    }
    let auth = if n.use_connection_string {
        if n.connection_string.is_empty() {
            return Err("Paste the connection string (Access keys → Connection string).".into());
        }
        ConnectionAuth::ConnectionString {
            value: n.connection_string.clone(),
        }
    } else {
        let (url_endpoint, token) = finsync_core::sas_token::split_sas_url(&n.token);
        if token.is_empty() {
            return Err(
                "Paste the SAS token (the part after the ? of a SAS URL, starting with sv=)."
                    .into(),
            );
        }
        let blob_endpoint = Some(n.blob_endpoint.trim_end_matches('/').to_string())
            .filter(|e| !e.is_empty())
            .or(url_endpoint)
            .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", n.account));
        ConnectionAuth::SasToken {
            blob_endpoint,
            token,
        }
    };
    Ok(StorageConnection {
        id: crate::discovery::model::new_id("conn"),
        name: n.name.clone(),
        account: n.account.clone(),
        auth,
        created_at: crate::discovery::model::now_iso(),
    })
}

#[derive(Debug, Clone, PartialEq)]
struct StorageInfo {
    usage: f64,
    quota: f64,
    persisted: bool,
}

async fn storage_info() -> Option<StorageInfo> {
    let storage = web_sys::window()?.navigator().storage();
    let estimate = JsFuture::from(storage.estimate().ok()?).await.ok()?;
    let get = |k: &str| {
        js_sys::Reflect::get(&estimate, &k.into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    let persisted = JsFuture::from(storage.persisted().ok()?)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Some(StorageInfo {
        usage: get("usage"),
        quota: get("quota"),
        persisted,
    })
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let state = expect_context::<AppState>();
    let info: RwSignal<Option<StorageInfo>> = RwSignal::new(None);
    let confirm_forget = RwSignal::new(false);
    // Refresh the storage figures whenever the page is shown.
    Effect::new(move |_| {
        if state.page.get() == crate::pages::Page::Settings {
            spawn_local(async move { info.set(storage_info().await) });
        }
    });
    let on_save = Callback::new(move |s| state.save_settings(s));

    // Azure storage connections: loaded when the page shows, checked before they are saved.
    let connections: RwSignal<Vec<StorageConnection>> = RwSignal::new(Vec::new());
    let checking = RwSignal::new(false);
    let add_outcome: RwSignal<Option<AddOutcome>> = RwSignal::new(None);
    let token_warnings: RwSignal<Vec<String>> = RwSignal::new(Vec::new());
    let reload_connections = move || {
        if let Some(st) = state.store.get_untracked() {
            spawn_local(async move {
                match st.connections().await {
                    Ok(c) => connections.set(c),
                    Err(e) => state.error.set(Some(e.to_string())),
                }
            });
        }
    };
    Effect::new(move |_| {
        if state.page.get() == crate::pages::Page::Settings && state.store.with(Option::is_some) {
            reload_connections();
        }
    });
    let on_add_connection = Callback::new(move |n: NewConnection| {
        token_warnings.set(Vec::new());
        let conn = match connection_of(&n) {
            Ok(c) => c,
            Err(text) => {
                add_outcome.set(Some(AddOutcome::Refused(text)));
                return;
            }
        };
        let now = crate::azure::now_unix();
        let warnings = match conn.check_credentials(now) {
            Ok(report) => report
                .map(|r| r.warnings.iter().map(|w| w.to_string()).collect())
                .unwrap_or_default(),
            Err(text) => {
                add_outcome.set(Some(AddOutcome::Refused(text)));
                return;
            }
        };
        let Some(st) = state.store.get_untracked() else {
            return;
        };
        checking.set(true);
        add_outcome.set(None);
        spawn_local(async move {
            let container = n.container.clone();
            match crate::azure::check_container(&conn, &container).await {
                Err(e) => add_outcome.set(Some(AddOutcome::Refused(format!("Not added: {e}")))),
                Ok(()) => match st.save_connection(&conn).await {
                    Ok(()) => {
                        activity::log(
                            &st,
                            Category::Settings,
                            "Storage connection added",
                            &format!(
                                "{} (account {}), checked on container {container}",
                                conn.name, conn.account
                            ),
                            true,
                        )
                        .await;
                        token_warnings.set(warnings);
                        add_outcome.set(Some(AddOutcome::Added(format!(
                            "Connection “{}” added: the container “{container}” can be listed from this page. Scan it on the Discover page.",
                            conn.name
                        ))));
                        reload_connections();
                    }
                    Err(e) => add_outcome.set(Some(AddOutcome::Refused(e.to_string()))),
                },
            }
            checking.set(false);
        });
    });
    let on_delete_connection = Callback::new(move |id: String| {
        let Some(st) = state.store.get_untracked() else {
            return;
        };
        let name = connections.with_untracked(|c| {
            c.iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        });
        spawn_local(async move {
            match st.delete_connection(&id).await {
                Ok(()) => {
                    activity::log(
                        &st,
                        Category::Settings,
                        "Storage connection deleted",
                        &name,
                        true,
                    )
                    .await;
                    add_outcome.set(None);
                    token_warnings.set(Vec::new());
                }
                Err(e) => state.error.set(Some(e.to_string())),
            }
            reload_connections();
        });
    });

    // Sign in (the session is kept until it expires); the Sync page provisions the keys.
    let signing_in = RwSignal::new(false);
    let sign_in_message: RwSignal<Option<String>> = RwSignal::new(None);
    let on_sign_in = Callback::new(move |(email, password): (String, String)| {
        signing_in.set(true);
        sign_in_message.set(None);
        spawn_local(async move {
            let text = match state.sign_in(email, password).await {
                Ok(t) | Err(t) => t,
            };
            sign_in_message.set(Some(text));
            signing_in.set(false);
        });
    });
    let on_sign_out = Callback::new(move |_| {
        state.sign_out();
        sign_in_message.set(Some("Signed out. The keys of this browser stay.".into()));
    });
    let signed_in = Signal::derive(move || {
        state
            .current_session()
            .map(|s| format!("Signed in as {} until {}.", s.user, s.expires_at))
    });
    let key_message: RwSignal<Option<String>> = RwSignal::new(None);
    let on_reprovision = Callback::new(move |population: i64| {
        key_message.set(Some(match state.reprovision(population) {
            Ok(()) => "Creating a new key…".into(),
            Err(e) => e,
        }));
    });
    let forget = move |_| {
        spawn_local(async move {
            // Close our connection first, or the deletion waits for it forever.
            state.store.set(None);
            let result =
                match indexed_db_futures::database::Database::delete_by_name(crate::store::DB_NAME)
                {
                    Ok(req) => req.await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
            match result {
                Ok(()) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().set_hash("#/sync");
                        let _ = w.location().reload();
                    }
                }
                Err(e) => state
                    .error
                    .set(Some(format!("could not clear this browser's data: {e}"))),
            }
        });
    };
    view! {
        <div class="layout page">
            <div class="stack">
                <SettingsForm settings=state.settings.into() on_save=on_save />
                <ApiKeyList
                    keys=Signal::derive(move || state.key_lines())
                    message=key_message.into()
                    on_reprovision=on_reprovision
                />
                <SignInForm
                    busy=signing_in.into()
                    signed_in=signed_in
                    message=sign_in_message.into()
                    on_sign_in=on_sign_in
                    on_sign_out=on_sign_out
                />
            </div>
            <div class="stack">
                <StorageConnections
                    connections=connections.into()
                    busy=checking.into()
                    outcome=add_outcome.into()
                    warnings=token_warnings.into()
                    on_add=on_add_connection
                    on_delete=on_delete_connection
                />
                <section class="card" aria-labelledby="storage-heading">
                    <h2 id="storage-heading">"Storage in this browser"</h2>
                    {move || match info.get() {
                        None => view! { <p class="muted">"Storage figures are not available in this browser."</p> }.into_any(),
                        Some(i) => view! {
                            <p data-testid="storage-usage">
                                {format!("{} used of {} available to this site.", human_bytes(i.usage), human_bytes(i.quota))}
                            </p>
                            <p data-testid="storage-persisted">
                                {if i.persisted {
                                    "Persistent: the browser will not clear finsync's data to free space."
                                } else {
                                    "Not persistent: under storage pressure the browser may clear finsync's data. Bookmarking the page or installing it usually makes the browser grant persistence."
                                }}
                            </p>
                        }.into_any(),
                    }}
                </section>
                <section class="card" aria-labelledby="forget-heading">
                    <h2 id="forget-heading">"Forget this browser"</h2>
                    <p class="muted">
                        "Deletes everything finsync keeps here: settings and API key, planned encounters, sync progress and the activity log. Nothing on the server and none of your photos are touched."
                    </p>
                    <Show
                        when=move || confirm_forget.get()
                        fallback=move || view! {
                            <button type="button" data-testid="forget" on:click=move |_| confirm_forget.set(true)>
                                "Forget this browser…"
                            </button>
                        }
                    >
                        <p class="error" role="alert">"This cannot be undone. Unfinished syncs will have to start from their folders again."</p>
                        <div class="row">
                            <button type="button" class="danger" data-testid="forget-confirm" on:click=forget>
                                "Delete all local data"
                            </button>
                            <button type="button" on:click=move |_| confirm_forget.set(false)>"Keep it"</button>
                        </div>
                    </Show>
                </section>
            </div>
        </div>
    }
}
