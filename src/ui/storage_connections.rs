//! Settings → Azure storage connections: the saved connections (credentials masked), a form to
//! add one (SAS token + blob endpoint, or a connection string, and the container to check it
//! on), and Delete. The page checks and saves; this component only reports intents.

use finsync_core::cloud::StorageConnection;
use leptos::prelude::*;

/// What the person typed into the add form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnection {
    pub name: String,
    pub account: String,
    /// `true`: connection string; `false`: SAS token.
    pub use_connection_string: bool,
    /// Empty: `https://<account>.blob.core.windows.net`.
    pub blob_endpoint: String,
    pub token: String,
    pub connection_string: String,
    /// The container the live check lists (the one to scan).
    pub container: String,
}

/// The result of the last add, shown under the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    Added(String),
    Refused(String),
}

#[component]
pub fn StorageConnections(
    connections: Signal<Vec<StorageConnection>>,
    /// A check is running.
    busy: Signal<bool>,
    outcome: Signal<Option<AddOutcome>>,
    /// Warnings about a token that was saved (IP restriction, expiring soon, …).
    warnings: Signal<Vec<String>>,
    on_add: Callback<NewConnection>,
    on_delete: Callback<String>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let use_cs = RwSignal::new(false);
    let endpoint = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let cs = RwSignal::new(String::new());
    let container = RwSignal::new(String::new());
    let confirm: RwSignal<Option<String>> = RwSignal::new(None);
    // A saved connection clears the secret fields, so they do not stay on screen.
    Effect::new(move |_| {
        if let Some(AddOutcome::Added(_)) = outcome.get() {
            token.set(String::new());
            cs.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        on_add.run(NewConnection {
            name: name.get_untracked().trim().to_string(),
            account: account.get_untracked().trim().to_string(),
            use_connection_string: use_cs.get_untracked(),
            blob_endpoint: endpoint.get_untracked().trim().to_string(),
            token: token.get_untracked().trim().to_string(),
            connection_string: cs.get_untracked().trim().to_string(),
            container: container.get_untracked().trim().to_string(),
        });
    };
    let default_endpoint = move || {
        let a = account.get();
        if a.trim().is_empty() {
            "https://<account>.blob.core.windows.net".to_string()
        } else {
            format!("https://{}.blob.core.windows.net", a.trim())
        }
    };
    view! {
        <section class="card" aria-labelledby="azure-heading" data-testid="azure-connections">
            <h2 id="azure-heading">"Azure storage connections"</h2>
            <p class="muted">
                "For photo archives already in Azure Blob Storage: Discover lists a container and reads only the start and end of each image; at sync the server copies the images itself. "
                <strong>"The credentials stay in this browser only"</strong>
                " (its local database). They are never logged or sent to the sync server; the server only receives a read-only link to each image it copies. Forget this browser deletes them."
            </p>
            <ul class="plain" data-testid="azure-connection-list">
                {move || {
                    let list = connections.get();
                    if list.is_empty() {
                        return view! { <li class="muted">"No connection yet."</li> }.into_any();
                    }
                    list.into_iter()
                        .map(|c| {
                            let id = c.id.clone();
                            let id2 = c.id.clone();
                            let id3 = c.id.clone();
                            let endpoint = c.blob_endpoint().unwrap_or_default();
                            view! {
                                <li class="row" data-testid="azure-connection">
                                    <span>
                                        <strong>{c.name.clone()}</strong>
                                        " — account " {c.account.clone()} " · " {endpoint} " · "
                                        <span data-testid="azure-connection-credentials">{c.masked()}</span>
                                    </span>
                                    <Show
                                        when=move || confirm.get().as_deref() == Some(id.as_str())
                                        fallback=move || {
                                            let id = id2.clone();
                                            view! {
                                                <button type="button" data-testid="azure-connection-delete" on:click=move |_| confirm.set(Some(id.clone()))>
                                                    "Delete…"
                                                </button>
                                            }
                                        }
                                    >
                                        {
                                            let id = id3.clone();
                                            view! {
                                                <button type="button" class="danger" data-testid="azure-connection-delete-confirm" on:click=move |_| {
                                                    confirm.set(None);
                                                    on_delete.run(id.clone());
                                                }>"Delete its credentials"</button>
                                                <button type="button" on:click=move |_| confirm.set(None)>"Keep"</button>
                                            }
                                        }
                                    </Show>
                                </li>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
            </ul>
            <form class="settings" on:submit=submit aria-label="Add an Azure storage connection">
                <h3>"Add a connection"</h3>
                <label>
                    "Name"
                    <input type="text" name="azure-name" required placeholder="Lab archive" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Storage account name"
                    <input type="text" name="azure-account" required placeholder="mylabstorage" prop:value=move || account.get() on:input=move |ev| account.set(event_target_value(&ev)) />
                </label>
                <fieldset class="row">
                    <legend>"Credentials"</legend>
                    <label>
                        <input type="radio" name="azure-auth" value="sas" prop:checked=move || !use_cs.get() on:change=move |_| use_cs.set(false) />
                        "SAS token (Read + List)"
                    </label>
                    <label>
                        <input type="radio" name="azure-auth" value="cs" data-testid="azure-auth-cs" prop:checked=move || use_cs.get() on:change=move |_| use_cs.set(true) />
                        "Connection string (full account access)"
                    </label>
                </fieldset>
                <Show
                    when=move || use_cs.get()
                    fallback=move || view! {
                        <label>
                            "Blob endpoint"
                            <input name="azure-endpoint" type="url" placeholder=default_endpoint prop:value=move || endpoint.get() on:input=move |ev| endpoint.set(event_target_value(&ev)) />
                        </label>
                        <label>
                            "SAS token"
                            <input name="azure-token" type="password" autocomplete="off" placeholder="sv=…&ss=b&srt=sco&sp=rl&se=…&sig=…" prop:value=move || token.get() on:input=move |ev| token.set(event_target_value(&ev)) />
                        </label>
                    }
                >
                    <label>
                        "Connection string"
                        <input name="azure-connection-string" type="password" autocomplete="off" placeholder="DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…" prop:value=move || cs.get() on:input=move |ev| cs.set(event_target_value(&ev)) />
                    </label>
                </Show>
                <label>
                    "Container to check it on"
                    <input type="text" name="azure-container" required placeholder="photos" prop:value=move || container.get() on:input=move |ev| container.set(event_target_value(&ev)) />
                </label>
                <p class="muted">
                    "On Add, finsync checks the token's permissions, resource types and expiry, then lists one name of the container from this page (the account needs a CORS rule for this site; see the README)."
                </p>
                <button type="submit" class="primary" data-testid="azure-add" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…" } else { "Check and add" }}
                </button>
            </form>
            {move || outcome.get().map(|o| match o {
                AddOutcome::Added(text) => view! { <p class="notice" role="status" data-testid="azure-added">{text}</p> }.into_any(),
                AddOutcome::Refused(text) => view! { <p class="error" role="alert" data-testid="azure-refused">{text}</p> }.into_any(),
            })}
            {move || {
                let w = warnings.get();
                (!w.is_empty()).then(|| view! {
                    <ul class="warning" data-testid="azure-warnings">
                        {w.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}
                    </ul>
                })
            }}
        </section>
    }
}
