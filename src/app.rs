//! The root component: owns the app state (signals), loads it from IndexedDB, and carries out
//! the intents the components emit through the browser adapters.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Client};
use crate::files::{self, Picked};
use crate::store::{FileRecord, Settings, Store};
use crate::ui::connection::{Connection, ConnectionBar};
use crate::ui::file_table::{FileRow, FileTable};
use crate::ui::folder_picker::FolderPicker;
use crate::ui::settings_form::SettingsForm;
use crate::ui::upload_panel::UploadPanel;
use crate::upload::{self, Summary, UploadEvent};

#[component]
pub fn App() -> impl IntoView {
    let store: RwSignal<Option<Store>, LocalStorage> = RwSignal::new_local(None);
    let settings = RwSignal::new(Settings::default());
    let connection = RwSignal::new(Connection::Unconfigured);
    let picked: RwSignal<Option<Picked>, LocalStorage> = RwSignal::new_local(None);
    let records: RwSignal<HashMap<String, FileRecord>> = RwSignal::new(HashMap::new());
    let busy = RwSignal::new(false);
    let phase = RwSignal::new(String::new());
    let bytes = RwSignal::new((0.0, 0.0));
    let summary: RwSignal<Option<Summary>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);

    let check_server = move || {
        let s = settings.get_untracked();
        if s.server_url.is_empty() {
            connection.set(Connection::Unconfigured);
            return;
        }
        connection.set(Connection::Checking);
        spawn_local(async move {
            let client = Client::new(&s.server_url, &s.api_key);
            connection.set(match client.status().await {
                Ok(st) => Connection::Reachable(st),
                Err(e) => Connection::Unreachable(e.to_string()),
            });
        });
    };

    // Load the stored state once: settings (or the dev server's demo settings) and records.
    spawn_local(async move {
        match Store::open(crate::store::DB_NAME).await {
            Ok(s) => {
                let stored = match s.settings().await {
                    Ok(v) => v,
                    Err(e) => {
                        error.set(Some(e.to_string()));
                        None
                    }
                };
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
                                error.set(Some(e.to_string()));
                            }
                            v
                        }
                        None => Settings::default(),
                    },
                };
                settings.set(initial);
                match s.files().await {
                    Ok(files) => records.set(
                        files
                            .into_iter()
                            .map(|r| (r.idempotency_key.clone(), r))
                            .collect(),
                    ),
                    Err(e) => error.set(Some(e.to_string())),
                }
                store.set(Some(s));
                check_server();
            }
            Err(e) => error.set(Some(format!(
                "{e}. finsync keeps its state in this browser's IndexedDB; private windows or strict privacy settings can block it."
            ))),
        }
    });

    let on_save = Callback::new(move |s: Settings| {
        settings.set(s.clone());
        if let Some(st) = store.get_untracked() {
            spawn_local(async move {
                if let Err(e) = st.save_settings(&s).await {
                    error.set(Some(e.to_string()));
                }
            });
        }
        check_server();
    });

    let on_choose = Callback::new(move |_| {
        spawn_local(async move {
            phase.set("Reading the folder…".into());
            match files::pick_directory().await {
                Ok(p) => {
                    phase.set(String::new());
                    picked.set(Some(p));
                }
                Err(files::PickError::Cancelled) => phase.set(String::new()),
                Err(e) => {
                    phase.set(String::new());
                    error.set(Some(e.to_string()));
                }
            }
        });
    });
    let on_file_list = UnsyncCallback::new(move |list: web_sys::FileList| {
        picked.set(Some(files::from_file_list(&list)));
    });

    let on_upload = Callback::new(move |_| {
        let (Some(st), Some(p)) = (store.get_untracked(), picked.get_untracked()) else {
            return;
        };
        let s = settings.get_untracked();
        busy.set(true);
        error.set(None);
        summary.set(None);
        bytes.set((0.0, 0.0));
        spawn_local(async move {
            let client = Client::new(&s.server_url, &s.api_key);
            let emit = move |ev: UploadEvent| match ev {
                UploadEvent::Phase(t) => phase.set(t),
                UploadEvent::File(r) => records.update(|m| {
                    m.insert(r.idempotency_key.clone(), r);
                }),
                UploadEvent::Bytes { sent, total } => bytes.set((sent, total)),
            };
            match upload::run(&client, &st, &p, s.concurrency as usize, emit).await {
                Ok(sum) => {
                    // Keep the driver's "Nothing to upload" message when that was the outcome.
                    if sum.uploaded + sum.failed > 0 {
                        phase.set("Done.".into());
                    }
                    summary.set(Some(sum));
                }
                Err(e) => {
                    phase.set(String::new());
                    error.set(Some(e.to_string()));
                }
            }
            busy.set(false);
        });
    });

    let rows = Signal::derive(move || {
        let by_path: HashMap<(String, u64), FileRecord> = records.with(|m| {
            m.values()
                .map(|r| ((r.relative_path.clone(), r.size), r.clone()))
                .collect()
        });
        match picked.get() {
            Some(p) => p
                .images
                .iter()
                .map(|f| {
                    let rec = by_path.get(&(f.relative_path.clone(), f.size()));
                    FileRow {
                        path: f.relative_path.clone(),
                        size: f.size(),
                        status: rec.map(|r| r.status),
                        error: rec.and_then(|r| r.error.clone()),
                    }
                })
                .collect(),
            None => {
                let mut v: Vec<FileRow> = by_path
                    .into_values()
                    .map(|r| FileRow {
                        path: r.relative_path,
                        size: r.size,
                        status: Some(r.status),
                        error: r.error,
                    })
                    .collect();
                v.sort_by(|a, b| a.path.cmp(&b.path));
                v
            }
        }
    });
    let picked_summary = move || {
        picked.with(|p| {
            p.as_ref().map(|p| {
                format!(
                    "{}: {} images; skipped {} hidden/system, {} RAW, {} other files.",
                    p.root,
                    p.images.len(),
                    p.skipped_hidden,
                    p.skipped_raw,
                    p.skipped_other
                )
            })
        })
    };
    let key_ready = move || matches!(connection.get(), Connection::Reachable(ref s) if s.key_status == finsync_core::api::KeyStatus::Ready);
    let image_count =
        Signal::derive(move || picked.with(|p| p.as_ref().map_or(0, |p| p.images.len())));
    let can_upload = Signal::derive(move || key_ready() && image_count.get() > 0);

    view! {
        <header class="app-header">
            <h1>"finsync"</h1>
            <p class="muted">"Field photos to the identification server, straight from your browser."</p>
        </header>
        <ConnectionBar connection=connection.into() />
        <main class="layout">
            <SettingsForm settings=settings.into() on_save=on_save />
            <div class="stack">
                <FolderPicker
                    has_picker=files::has_directory_picker()
                    disabled=busy.into()
                    on_choose=on_choose
                    on_file_list=on_file_list
                />
                <UploadPanel
                    can_upload=can_upload
                    busy=busy.into()
                    phase=phase.into()
                    bytes=bytes.into()
                    summary=summary.into()
                    error=error.into()
                    image_count=image_count
                    on_upload=on_upload
                />
                <section class="card" aria-labelledby="files-heading">
                    <h2 id="files-heading">"Images"</h2>
                    <p class="muted" data-testid="picked-summary">
                        {move || picked_summary().unwrap_or_else(|| "Files synced from this browser earlier:".into())}
                    </p>
                    <FileTable rows=rows />
                </section>
            </div>
        </main>
    }
}
