//! A lazy thumbnail: says when it scrolls into view (IntersectionObserver, 200 px ahead) and
//! when it leaves or unmounts, and shows the URL it is given.

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

type Observer = (IntersectionObserver, Closure<dyn FnMut(js_sys::Array)>);

#[component]
pub fn Thumb(
    path: String,
    url: Signal<Option<String>>,
    problem: Signal<Option<String>>,
    on_visible: Callback<String>,
    on_hidden: Callback<String>,
) -> impl IntoView {
    let el: NodeRef<leptos::html::Div> = NodeRef::new();
    let observer: StoredValue<Option<Observer>, LocalStorage> = StoredValue::new_local(None);
    let shown = StoredValue::new(false);
    let name = path.rsplit('/').next().unwrap_or_default().to_string();
    let p = path.clone();
    el.on_load(move |div| {
        let cb = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            for e in entries.iter() {
                let e: IntersectionObserverEntry = e.unchecked_into();
                let now = e.is_intersecting();
                if now != shown.get_value() {
                    shown.set_value(now);
                    if now {
                        on_visible.run(p.clone());
                    } else {
                        on_hidden.run(p.clone());
                    }
                }
            }
        });
        let init = IntersectionObserverInit::new();
        init.set_root_margin("200px");
        if let Ok(obs) = IntersectionObserver::new_with_options(cb.as_ref().unchecked_ref(), &init)
        {
            obs.observe(&div);
            observer.set_value(Some((obs, cb)));
        }
    });
    let gone = path.clone();
    on_cleanup(move || {
        let _ = observer.try_update_value(|o| {
            if let Some((obs, _)) = o.take() {
                obs.disconnect();
            }
        });
        if shown.try_get_value() == Some(true) {
            on_hidden.run(gone);
        }
    });
    let alt = name.clone();
    view! {
        <div class="thumb" node_ref=el title=path data-testid="thumb">
            {move || match (url.get(), problem.get()) {
                (Some(u), _) => view! { <img src=u alt=alt.clone() decoding="async" /> }.into_any(),
                (None, Some(p)) if p.starts_with("in Azure") => {
                    view! { <span class="in-azure" title=p data-testid="thumb-in-azure">"in Azure"</span> }.into_any()
                }
                (None, Some(p)) => view! { <span title=p>"no preview"</span> }.into_any(),
                (None, None) => view! { <span>"…"</span> }.into_any(),
            }}
        </div>
    }
}
