//! Thumbnails: object URLs of the image files themselves, made when a thumbnail scrolls into
//! view and revoked when it leaves (or its component unmounts), so at most the visible images
//! are held by URL.
//!
//! # Usage
//!
//! ```ignore
//! let thumbs = Thumbs::new();
//! // <Thumb url=move || thumbs.url(&path) on_visible=… thumbs.show(path) on_hidden=… thumbs.hide(path) />
//! ```

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::access;

/// Object URLs by relative path, with how many thumbnails show each.
#[derive(Clone, Copy)]
pub struct Thumbs {
    urls: RwSignal<HashMap<String, String>>,
    /// Problems by path (e.g. the folder is not open), shown instead of the picture.
    problems: RwSignal<HashMap<String, String>>,
    wanted: StoredValue<HashMap<String, usize>>,
}

impl Default for Thumbs {
    fn default() -> Self {
        Self::new()
    }
}

fn revoke(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

impl Thumbs {
    pub fn new() -> Thumbs {
        Thumbs {
            urls: RwSignal::new(HashMap::new()),
            problems: RwSignal::new(HashMap::new()),
            wanted: StoredValue::new(HashMap::new()),
        }
    }

    /// The URL of `path`, if made (tracked: a reactive reader updates when it is).
    pub fn url(self, path: &str) -> Option<String> {
        self.urls.with(|u| u.get(path).cloned())
    }

    /// Why `path` has no thumbnail, if it cannot have one (tracked).
    pub fn problem(self, path: &str) -> Option<String> {
        self.problems.with(|u| u.get(path).cloned())
    }

    /// A thumbnail of `path` became visible: make its URL (once) if the folder is open.
    pub fn show(self, path: String) {
        let mut first = false;
        self.wanted.update_value(|w| {
            let n = w.entry(path.clone()).or_insert(0);
            *n += 1;
            first = *n == 1;
        });
        if !first || self.urls.with_untracked(|u| u.contains_key(&path)) {
            return;
        }
        if let Some(why) = access::in_azure(&path) {
            self.problems.update(|p| {
                p.insert(path, why);
            });
            return;
        }
        spawn_local(async move {
            match access::file(&path).await {
                Ok(file) => {
                    let Ok(url) = web_sys::Url::create_object_url_with_blob(&file) else {
                        return;
                    };
                    // Hidden again while the file was found: do not keep the URL.
                    let still = self
                        .wanted
                        .try_with_value(|w| w.get(&path).copied().unwrap_or(0) > 0)
                        .unwrap_or(false);
                    if still {
                        self.problems.update(|p| {
                            p.remove(&path);
                        });
                        if let Some(old) = self
                            .urls
                            .try_update(|u| u.insert(path.clone(), url.clone()))
                            .flatten()
                        {
                            revoke(&old);
                        }
                    } else {
                        revoke(&url);
                    }
                }
                Err(e) => {
                    let _ = self.problems.try_update(|p| p.insert(path, e.to_string()));
                }
            }
        });
    }

    /// A thumbnail of `path` left the view or unmounted.
    pub fn hide(self, path: String) {
        let mut last = false;
        let _ = self.wanted.try_update_value(|w| {
            if let Some(n) = w.get_mut(&path) {
                *n = n.saturating_sub(1);
                last = *n == 0;
                if last {
                    w.remove(&path);
                }
            }
        });
        if last {
            if let Some(Some(url)) = self.urls.try_update(|u| u.remove(&path)) {
                revoke(&url);
            }
        }
    }

    /// Revokes every URL (a new preview replaces the old one).
    pub fn clear(self) {
        let _ = self.wanted.try_update_value(HashMap::clear);
        if let Some(old) = self.urls.try_update(std::mem::take) {
            for url in old.values() {
                revoke(url);
            }
        }
        let _ = self.problems.try_update(HashMap::clear);
    }

    /// How many object URLs are alive (for tests and the page's counters).
    pub fn live(self) -> usize {
        self.urls.with_untracked(HashMap::len)
    }
}
