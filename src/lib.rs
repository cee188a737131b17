//! finsync, the browser app. Read ARCHITECTURE.md first.
//!
//! * [`ui`] — Leptos components: render state, emit intents, do no I/O.
//! * [`app`] — the root component: owns the state and runs intents through the adapters.
//! * Browser adapters: [`store`] (IndexedDB), [`files`] (folder access), [`api`] (sync API
//!   over HTTP), [`blob_put`] (PUT a File to a SAS URL), [`sync`] (plans and the driver that runs the core engine).

pub mod api;
pub mod app;
pub mod blob_put;
pub mod files;
pub mod store;
pub mod sync;
pub mod ui;

/// Entry point called by `main.rs` (trunk's binary).
pub fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
