//! Choosing a folder: the File System Access picker where the browser has one, and an
//! `<input webkitdirectory>` that works in every browser (and that tests drive).

use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn FolderPicker(
    /// `true` when `showDirectoryPicker` exists.
    has_picker: bool,
    disabled: Signal<bool>,
    /// "Choose folder…" was pressed.
    on_choose: Callback<()>,
    /// A folder was selected through the file input.
    on_file_list: UnsyncCallback<web_sys::FileList>,
) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    input.on_load(|el| {
        // Not a standard attribute, so the view macro does not know it.
        let _ = el.set_attribute("webkitdirectory", "");
    });
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
    view! {
        <section class="card" aria-labelledby="folder-heading">
            <h2 id="folder-heading">"Photos"</h2>
            <p class="muted">"Pick the folder that holds one encounter's photos."</p>
            <div class="row">
                <Show when=move || has_picker>
                    <button
                        type="button"
                        data-testid="choose-folder"
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
                        data-testid="folder-input"
                        disabled=move || disabled.get()
                        on:change=on_change
                    />
                </label>
            </div>
        </section>
    }
}
