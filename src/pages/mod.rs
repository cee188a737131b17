//! Pages, chosen by the URL hash (`#/sync`, `#/settings`, `#/activity`, `#/discover`,
//! `#/review/<manifest id>`), and the few window
//! helpers the shell needs (events, intervals).

pub mod activity;
pub mod discover;
pub mod review;
pub mod settings;
pub mod sync;

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Sync,
    Settings,
    Activity,
    Discover,
    /// `#/review/<manifest id>`; the review page reads the id from the hash.
    Review,
}

impl Page {
    pub fn hash(self) -> &'static str {
        match self {
            Page::Sync => "#/sync",
            Page::Settings => "#/settings",
            Page::Activity => "#/activity",
            Page::Discover => "#/discover",
            Page::Review => "#/review/",
        }
    }

    fn parse(hash: &str) -> Page {
        match hash {
            "#/settings" => Page::Settings,
            "#/activity" => Page::Activity,
            "#/discover" => Page::Discover,
            h if h.starts_with("#/review/") => Page::Review,
            _ => Page::Sync,
        }
    }

    /// The page the address bar names now.
    pub fn from_hash() -> Page {
        let hash = web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default();
        Page::parse(&hash)
    }
}

/// Calls `f` on every `event` of the window, for the life of the app.
pub fn on_window_event(event: &str, f: impl Fn() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let cb = Closure::<dyn FnMut()>::new(f);
    if window
        .add_event_listener_with_callback(event, cb.as_ref().unchecked_ref())
        .is_ok()
    {
        // Lives as long as the page: the app never unmounts its shell.
        cb.forget();
    }
}

/// Calls `f` every `ms` milliseconds, for the life of the app.
pub fn every(ms: i32, f: impl Fn() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let cb = Closure::<dyn FnMut()>::new(f);
    if window
        .set_interval_with_callback_and_timeout_and_arguments_0(cb.as_ref().unchecked_ref(), ms)
        .is_ok()
    {
        cb.forget();
    }
}

/// Keeps `page` equal to the address bar's hash (links, back and forward buttons).
pub fn follow_hash(page: RwSignal<Page>) {
    on_window_event("hashchange", move || page.set(Page::from_hash()));
}

/// Offers `text` as a file download named `name`.
pub fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        if let Ok(a) = doc.create_element("a") {
            let _ = a.set_attribute("href", &url);
            let _ = a.set_attribute("download", name);
            if let Ok(a) = a.dyn_into::<web_sys::HtmlElement>() {
                a.click();
            }
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
