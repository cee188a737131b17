//! Time for the driver: a monotonic clock (`performance.now()`) and a sleep future that clears
//! its `setTimeout` when dropped.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// Milliseconds on the page's monotonic clock.
pub fn now_ms() -> u64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now().max(0.0) as u64)
        .unwrap_or(0)
}

struct Shared {
    fired: bool,
    waker: Option<Waker>,
}

thread_local! {
    /// The sleeps whose timer has not fired yet, by the id their timer passes back.
    static WAITING: RefCell<HashMap<u32, Rc<RefCell<Shared>>>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    /// The one callback of every timer, never dropped: a timer that fires after its sleep was
    /// dropped (a page's fake clock may still hold it) finds no sleep and does nothing, where
    /// a closure per sleep, dropped with it, threw "closure invoked … after being dropped".
    static CALLBACK: Closure<dyn Fn(JsValue)> = Closure::new(|id: JsValue| {
        let Some(id) = id.as_f64() else { return };
        if let Some(shared) = WAITING.with(|w| w.borrow_mut().remove(&(id as u32))) {
            let mut s = shared.borrow_mut();
            s.fired = true;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    });
}

/// Resolves after `ms` milliseconds; dropping it cancels the timer.
pub struct Sleep {
    shared: Rc<RefCell<Shared>>,
    id: u32,
    handle: Option<i32>,
}

pub fn sleep(ms: u64) -> Sleep {
    let shared = Rc::new(RefCell::new(Shared {
        fired: false,
        waker: None,
    }));
    let id = NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    });
    WAITING.with(|w| w.borrow_mut().insert(id, shared.clone()));
    let ms = ms.min(i32::MAX as u64) as i32;
    let handle = web_sys::window().and_then(|w| {
        CALLBACK.with(|cb| {
            w.set_timeout_with_callback_and_timeout_and_arguments_1(
                cb.as_ref().unchecked_ref(),
                ms,
                &JsValue::from(id),
            )
            .ok()
        })
    });
    if handle.is_none() {
        // No window (should not happen in the app): fire at once rather than hang.
        WAITING.with(|w| w.borrow_mut().remove(&id));
        shared.borrow_mut().fired = true;
    }
    Sleep { shared, id, handle }
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.shared.borrow_mut();
        if s.fired {
            Poll::Ready(())
        } else {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        WAITING.with(|w| w.borrow_mut().remove(&self.id));
        if let (Some(h), Some(w)) = (self.handle, web_sys::window()) {
            w.clear_timeout_with_handle(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// A timer that still fires after its sleep was dropped — a clock that did not clear it,
    /// as Playwright's fake clock racing the page did in the e2e tests — does nothing: no
    /// error reaches the page.
    #[wasm_bindgen_test]
    async fn a_timer_firing_after_its_sleep_was_dropped_does_nothing() {
        let window = web_sys::window().unwrap();
        let errors = js_sys::Array::new();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new({
            let errors = errors.clone();
            move |e: web_sys::Event| {
                let message = js_sys::Reflect::get(&e, &"message".into()).unwrap_or_default();
                errors.push(&message);
                e.prevent_default();
            }
        });
        window
            .add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref())
            .unwrap();
        let clear = js_sys::Reflect::get(&window, &"clearTimeout".into()).unwrap();
        js_sys::Reflect::set(
            &window,
            &"clearTimeout".into(),
            &js_sys::Function::new_no_args(""),
        )
        .unwrap();
        drop(sleep(1));
        js_sys::Reflect::set(&window, &"clearTimeout".into(), &clear).unwrap();
        // A live sleep still fires, after the forgotten timer has.
        sleep(40).await;
        window
            .remove_event_listener_with_callback("error", on_error.as_ref().unchecked_ref())
            .unwrap();
        assert_eq!(errors.length(), 0, "errors: {:?}", errors.to_vec());
        assert!(WAITING.with(|w| w.borrow().is_empty()));
    }
}
