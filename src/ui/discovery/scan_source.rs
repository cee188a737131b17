//! Choosing the folder to scan: the File System Access picker (handle remembered), an
//! `<input webkitdirectory>` for every browser, and dropping a folder onto the card.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn ScanSource(
    /// `true` when `showDirectoryPicker` exists.
    has_picker: bool,
    disabled: Signal<bool>,
    /// Set when the page needs a folder chosen again (resume, re-scan, reconnect): its name.
    awaiting: Signal<Option<String>>,
    on_choose: Callback<()>,
    on_file_list: UnsyncCallback<web_sys::FileList>,
    /// A drop on the card; the page reads the folder from it synchronously.
    on_drop: UnsyncCallback<web_sys::DragEvent>,
    on_cancel_awaiting: Callback<()>,
) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    input.on_load(|el| {
        // Not a standard attribute, so the view macro does not know it.
        let _ = el.set_attribute("webkitdirectory", "");
    });
    let dragging = RwSignal::new(false);
    let on_change = move |ev: leptos::ev::Event| {
        let Some(el) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(list) = el.files() {
            if list.length() > 0 {
                on_file_list.run(list);
            }
        }
    };
    // Choosing the same folder again must fire `change` again; clearing on click (not after
    // `change`) keeps the FileList just handed out intact.
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(el) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            el.set_value("");
        }
    };
    view! {
        <section
            class="card drop-zone"
            class:dragging=move || dragging.get()
            aria-labelledby="scan-heading"
            data-testid="scan-source"
            on:dragover=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(false);
                on_drop.run(ev);
            }
        >
            <h2 id="scan-heading">"Scan a folder"</h2>
            {move || match awaiting.get() {
                Some(name) => {
                    view! {
                        <div class="banner-inline" data-testid="awaiting-folder">
                            <p>
                                "Choose the folder “" <strong>{name}</strong>
                                "” again: this browser cannot keep access to a folder chosen that way."
                            </p>
                            <button type="button" on:click=move |_| on_cancel_awaiting.run(())>
                                "Not now"
                            </button>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <p class="muted">
                            "finsync reads only the start of each image (its metadata) and a fingerprint; nothing leaves this browser until you sync. You can also drop a folder here."
                        </p>
                    }
                        .into_any()
                }
            }}
            <div class="row">
                <Show when=move || has_picker>
                    <button
                        type="button"
                        class="primary"
                        data-testid="scan-choose-folder"
                        disabled=move || disabled.get()
                        on:click=move |_| on_choose.run(())
                    >
                        "Choose folder…"
                    </button>
                </Show>
                <label class=if has_picker { "file-label secondary" } else { "file-label" }>
                    {if has_picker { "…or select it here" } else { "Select a folder" }}
                    <input
                        node_ref=input
                        type="file"
                        multiple
                        data-testid="scan-folder-input"
                        disabled=move || disabled.get()
                        on:change=on_change
                        on:click=on_click
                    />
                </label>
            </div>
        </section>
    }
}
