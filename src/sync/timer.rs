//! Time for the driver: a monotonic clock (`performance.now()`) and a sleep future that clears
//! its `setTimeout` when dropped.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

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

/// Resolves after `ms` milliseconds; dropping it cancels the timer.
pub struct Sleep {
    shared: Rc<RefCell<Shared>>,
    handle: Option<i32>,
    _callback: Option<Closure<dyn FnMut()>>,
}

pub fn sleep(ms: u64) -> Sleep {
    let shared = Rc::new(RefCell::new(Shared {
        fired: false,
        waker: None,
    }));
    let inner = shared.clone();
    let callback = Closure::<dyn FnMut()>::new(move || {
        let mut s = inner.borrow_mut();
        s.fired = true;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    });
    let ms = ms.min(i32::MAX as u64) as i32;
    let handle = web_sys::window().and_then(|w| {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.as_ref().unchecked_ref(),
            ms,
        )
        .ok()
    });
    if handle.is_none() {
        // No window (should not happen in the app): fire at once rather than hang.
        shared.borrow_mut().fired = true;
    }
    Sleep {
        shared,
        handle,
        _callback: Some(callback),
    }
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
        if let (Some(h), Some(w)) = (self.handle, web_sys::window()) {
            w.clear_timeout_with_handle(h);
        }
    }
}
