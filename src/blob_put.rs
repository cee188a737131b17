//! PUT a `Blob` (a `File` or a slice of one) to a SAS URL with `XMLHttpRequest`.
//!
//! The body is the browser's own Blob: its bytes never enter WASM memory. XHR rather than
//! `fetch` because it reports upload progress and measured 17–21 % faster here
//! (shared/research/anchors.md). Dropping the future aborts the request.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Blob, XmlHttpRequest};

/// Why a PUT failed. The SAS signature never appears here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    #[error("the upload could not reach blob storage (network error)")]
    Network,
    #[error("the upload timed out")]
    Timeout,
    #[error("the upload was cancelled")]
    Aborted,
    #[error("blob storage answered {status}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status { status: u16, code: Option<String> },
    #[error("the browser refused the request: {0}")]
    Browser(String),
}

enum Outcome {
    Loaded,
    Error,
    Timeout,
    Abort,
}

struct AbortOnDrop {
    xhr: XmlHttpRequest,
    done: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.xhr.abort();
        }
    }
}

/// PUTs `body` as a block blob. `on_progress` gets the bytes sent so far.
pub async fn put_blob(
    url: &str,
    body: &Blob,
    content_type: &str,
    timeout_ms: u32,
    on_progress: impl Fn(f64) + 'static,
) -> Result<(), PutError> {
    let browser = |e: wasm_bindgen::JsValue| PutError::Browser(format!("{e:?}"));
    let xhr = XmlHttpRequest::new().map_err(browser)?;
    xhr.open_with_async("PUT", url, true).map_err(browser)?;
    xhr.set_request_header("x-ms-blob-type", "BlockBlob")
        .map_err(browser)?;
    xhr.set_request_header("x-ms-blob-content-type", content_type)
        .map_err(browser)?;
    xhr.set_timeout(timeout_ms);

    let (tx, rx) = oneshot::channel::<Outcome>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let make = |outcome: fn() -> Outcome| {
        let tx = tx.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(outcome());
            }
        })
    };
    let onload = make(|| Outcome::Loaded);
    let onerror = make(|| Outcome::Error);
    let ontimeout = make(|| Outcome::Timeout);
    let onabort = make(|| Outcome::Abort);
    xhr.set_onload(Some(onload.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(ontimeout.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(onabort.as_ref().unchecked_ref()));
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
            on_progress(ev.loaded())
        });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    }

    let mut guard = AbortOnDrop {
        xhr: xhr.clone(),
        done: false,
    };
    xhr.send_with_opt_blob(Some(body)).map_err(browser)?;
    let outcome = rx.await.unwrap_or(Outcome::Abort);
    guard.done = true;
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_ontimeout(None);
    xhr.set_onabort(None);
    match outcome {
        Outcome::Loaded => {
            let status = xhr.status().unwrap_or(0);
            if (200..300).contains(&status) {
                Ok(())
            } else {
                let code = xhr
                    .get_response_header("x-ms-error-code")
                    .ok()
                    .flatten()
                    .or_else(|| {
                        let text = xhr.response_text().ok().flatten()?;
                        let start = text.find("<Code>")? + 6;
                        let end = text[start..].find("</Code>")? + start;
                        Some(text[start..end].to_string())
                    });
                Err(PutError::Status { status, code })
            }
        }
        Outcome::Error => Err(PutError::Network),
        Outcome::Timeout => Err(PutError::Timeout),
        Outcome::Abort => Err(PutError::Aborted),
    }
}

/// The seed's PUT timeout: 60 s plus 10 s per MB of body (spec decision 2).
pub fn put_timeout_ms(size: u64) -> u32 {
    let ms = 60_000u64 + 10_000 * size.div_ceil(1_000_000);
    ms.min(u32::MAX as u64) as u32
}
