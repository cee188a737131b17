//! A few dedicated workers of one script that answer requests by id — what the scan's file
//! reader ([`crate::discovery::reader`]) and the upload's block hasher
//! ([`crate::block_hasher`]) share.
//!
//! Each request is a plain object; the pool sets its `id`, posts it to the next worker in turn
//! and resolves with the reply that carries the same `id` (a worker may answer with one reply or
//! an array of them). When a worker cannot be created, fails to load (a missing file, a policy),
//! throws, or sends a reply that cannot be read, the pool drops all of them: every request
//! waiting and every later one resolves with `None`, and the caller does the work in the page.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};

/// Workers of one script, or none (the work happens in the page).
#[derive(Clone)]
pub struct WorkerPool(Rc<Inner>);

struct Inner {
    /// Empty: no worker (any more).
    workers: RefCell<Vec<Worker>>,
    /// Round robin over `workers`.
    turn: Cell<usize>,
    next_id: Cell<u32>,
    /// Requests waiting for their reply; `None` is sent when the workers are gone.
    waiting: RefCell<HashMap<u32, oneshot::Sender<Option<JsValue>>>>,
    /// Requests of [`WorkerPool::ask_batched`] not posted yet.
    queue: RefCell<Vec<JsValue>>,
    /// A flush of `queue` is due (a microtask is on its way).
    flushing: Cell<bool>,
    #[allow(clippy::type_complexity)]
    handlers: RefCell<
        Option<(
            Closure<dyn FnMut(MessageEvent)>,
            Closure<dyn FnMut(JsValue)>,
        )>,
    >,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in self.workers.get_mut().drain(..) {
            w.terminate();
        }
    }
}

impl WorkerPool {
    /// Up to `count` workers of the script at `url`; none when none can be created.
    pub fn new(url: &str, count: usize) -> WorkerPool {
        let pool = WorkerPool::none();
        let workers: Vec<Worker> = (0..count).filter_map(|_| Worker::new(url).ok()).collect();
        if workers.is_empty() {
            return pool;
        }
        let weak: Weak<Inner> = Rc::downgrade(&pool.0);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |e: MessageEvent| {
                let Some(inner) = weak.upgrade() else { return };
                let data = e.data();
                if js_sys::Array::is_array(&data) {
                    let replies: js_sys::Array = data.unchecked_into();
                    for reply in replies.iter() {
                        inner.answer(reply);
                    }
                } else {
                    inner.answer(data);
                }
                // Requests held back while the workers had enough to do go now if they run low.
                inner.flush_when_due(&weak);
            }
        });
        // `error` (the script did not load, or threw) and `messageerror` (a reply that could not
        // be read): from here on the page does the work, waiting requests included.
        let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_e: JsValue| {
            if let Some(inner) = weak.upgrade() {
                inner.fail();
            }
        });
        for worker in &workers {
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            let _ = worker.add_event_listener_with_callback(
                "messageerror",
                on_error.as_ref().unchecked_ref(),
            );
        }
        *pool.0.workers.borrow_mut() = workers;
        *pool.0.handlers.borrow_mut() = Some((on_message, on_error));
        pool
    }

    /// A pool without workers: every request answers `None`.
    pub fn none() -> WorkerPool {
        WorkerPool(Rc::new(Inner {
            workers: RefCell::new(Vec::new()),
            turn: Cell::new(0),
            next_id: Cell::new(0),
            waiting: RefCell::new(HashMap::new()),
            queue: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            handlers: RefCell::new(None),
        }))
    }

    /// How many workers there are (0 once one failed).
    pub fn len(&self) -> usize {
        self.0.workers.borrow().len()
    }

    /// Whether requests go to workers (until one fails).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives `request` an id and a place among the waiting; `None` without workers.
    fn enter(&self, request: &js_sys::Object) -> Option<oneshot::Receiver<Option<JsValue>>> {
        if self.is_empty() {
            return None;
        }
        let id = self.0.next_id.get();
        self.0.next_id.set(id.wrapping_add(1));
        set(request, "id", &JsValue::from(id));
        let (tx, rx) = oneshot::channel();
        self.0.waiting.borrow_mut().insert(id, tx);
        Some(rx)
    }

    /// Posts `request` (its `id` set here) to the next worker, in a message of its own; the
    /// reply, or `None` when there is no worker (any more).
    pub async fn ask(&self, request: js_sys::Object) -> Option<JsValue> {
        let rx = self.enter(&request)?;
        self.0.post_to_next(&request);
        // A dropped sender (the workers failed meanwhile) counts as no worker.
        rx.await.ok().flatten()
    }

    /// [`WorkerPool::ask`], but posted in batches: requests wait (in the page) until
    /// [`BATCH_MIN`] of them are queued or the workers have fewer than [`LOW_WATER`] posted
    /// requests left, then go together a microtask later, in one array to one worker (it wakes
    /// once for many; every message costs both threads a task, a deserialisation and an
    /// event, more than a request does).
    pub async fn ask_batched(&self, request: js_sys::Object) -> Option<JsValue> {
        let rx = self.enter(&request)?;
        self.0.queue.borrow_mut().push(request.into());
        self.0.flush_when_due(&Rc::downgrade(&self.0));
        rx.await.ok().flatten()
    }
}

/// Requests of [`WorkerPool::ask_batched`] posted in one message once this many are queued…
pub const BATCH_MIN: usize = 4;
/// … or at once while fewer than this many posted ones are still unanswered (the workers are
/// about to run dry).
pub const LOW_WATER: usize = 4;

impl Inner {
    /// Requests posted and not answered yet (`waiting` holds the queued ones too).
    fn posted(&self) -> usize {
        self.waiting
            .borrow()
            .len()
            .saturating_sub(self.queue.borrow().len())
    }

    /// Schedules a flush of the queue (a microtask later, so the requests of the current poll
    /// go together) when it is due: [`BATCH_MIN`] queued, or the workers running low.
    fn flush_when_due(&self, weak: &Weak<Inner>) {
        let queued = self.queue.borrow().len();
        if self.flushing.get() || queued == 0 || (queued < BATCH_MIN && self.posted() >= LOW_WATER)
        {
            return;
        }
        self.flushing.set(true);
        let weak = weak.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(inner) = weak.upgrade() {
                inner.flush();
            }
        });
    }

    /// Hands a reply to the request with its `id`.
    fn answer(&self, reply: JsValue) {
        let id = get(&reply, "id").as_f64();
        let tx = id.and_then(|id| self.waiting.borrow_mut().remove(&(id as u32)));
        if let Some(tx) = tx {
            let _ = tx.send(Some(reply));
        }
    }

    /// Posts the queued requests in one message to the next worker in turn.
    fn flush(&self) {
        self.flushing.set(false);
        let batch: js_sys::Array = self.queue.borrow_mut().drain(..).collect();
        if batch.length() > 0 {
            self.post_to_next(&batch);
        }
    }

    /// Posts `message` to the next worker in turn; when it cannot be posted, the pool fails.
    fn post_to_next(&self, message: &JsValue) {
        let posted = {
            let workers = self.workers.borrow();
            let turn = self.turn.get();
            self.turn.set(turn.wrapping_add(1));
            workers
                .get(turn % workers.len().max(1))
                .is_some_and(|w| w.post_message(message).is_ok())
        };
        if !posted {
            self.fail();
        }
    }

    /// A worker is unusable: drop them all and let everything waiting be done in the page.
    fn fail(&self) {
        for w in self.workers.borrow_mut().drain(..) {
            w.terminate();
        }
        self.queue.borrow_mut().clear();
        let waiting: Vec<_> = self
            .waiting
            .borrow_mut()
            .drain()
            .map(|(_, tx)| tx)
            .collect();
        for tx in waiting {
            let _ = tx.send(None);
        }
    }
}

/// A `blob:` URL of a worker script's `source`: the crate's browser tests, where no bundle is
/// served, load the workers from it.
#[cfg(test)]
pub fn blob_script_url(source: &str) -> String {
    let parts = js_sys::Array::of1(&JsValue::from_str(source));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("text/javascript");
    web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
        .and_then(|b| web_sys::Url::create_object_url_with_blob(&b))
        .unwrap_or_default()
}

/// Sets `key` of a request object.
pub fn set(o: &js_sys::Object, key: &str, v: &JsValue) {
    let _ = js_sys::Reflect::set(o, &key.into(), v);
}

/// `key` of a reply (undefined when it has none).
pub fn get(o: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(o, &key.into()).unwrap_or(JsValue::UNDEFINED)
}
