//! One tab drives a sync: an exclusive Web Lock (`navigator.locks`) held for as long as the
//! returned [`SyncLock`] lives ([`acquire`] takes other named locks the same way, waiting). Browsers without Web Locks get the lock unconditionally.

use futures::channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

const LOCK_NAME: &str = "finsync-sync";

/// Held while a sync runs; dropping it releases the lock.
pub struct SyncLock {
    _release: Option<oneshot::Sender<()>>,
}

/// Takes the sync lock if no other tab holds it; `None` when another tab is syncing.
pub async fn try_acquire() -> Option<SyncLock> {
    request(LOCK_NAME, true).await
}

/// Takes the exclusive Web Lock `name`, waiting while another tab holds it (`None` only if
/// the browser refuses the request).
pub async fn acquire(name: &str) -> Option<SyncLock> {
    request(name, false).await
}

async fn request(name: &str, if_available: bool) -> Option<SyncLock> {
    let Some(window) = web_sys::window() else {
        return Some(SyncLock { _release: None });
    };
    let navigator = window.navigator();
    let locks = js_sys::Reflect::get(&navigator, &"locks".into()).unwrap_or(JsValue::UNDEFINED);
    if locks.is_undefined() {
        return Some(SyncLock { _release: None });
    }
    let request: js_sys::Function =
        match js_sys::Reflect::get(&locks, &"request".into()).map(|f| f.dyn_into()) {
            Ok(Ok(f)) => f,
            _ => return Some(SyncLock { _release: None }),
        };
    let (got_tx, got_rx) = oneshot::channel::<bool>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let mut got_tx = Some(got_tx);
    let mut release_rx = Some(release_rx);
    let callback = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |lock: JsValue| {
        let acquired = !lock.is_null();
        if let Some(tx) = got_tx.take() {
            let _ = tx.send(acquired);
        }
        match (acquired, release_rx.take()) {
            (true, Some(rx)) => future_to_promise(async move {
                let _ = rx.await;
                Ok(JsValue::UNDEFINED)
            }),
            _ => js_sys::Promise::resolve(&JsValue::UNDEFINED),
        }
    });
    let options = js_sys::Object::new();
    if if_available {
        let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    }
    let promise = request.call3(
        &locks,
        &name.into(),
        &options,
        callback.as_ref().unchecked_ref(),
    );
    // The callback must outlive the request; it is small and runs once.
    callback.forget();
    if let Ok(p) = promise {
        // Errors of the whole request surface here; we only need the callback's answer.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(js_sys::Promise::from(p)).await;
        });
    }
    match got_rx.await {
        Ok(true) => Some(SyncLock {
            _release: Some(release_tx),
        }),
        _ => None,
    }
}

/// Asks the browser not to evict this origin's storage (best effort; the answer is shown in
/// Settings later).
pub async fn request_persistence() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let storage = window.navigator().storage();
    match storage.persist() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        Err(_) => false,
    }
}
