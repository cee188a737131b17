//! The review toolbar (spec §2.6): status filter with counts and the approval percentage,
//! Approve Selected / Deny Selected / Approve All / Reset All, and the bulk license.

use finsync_core::manifest::License;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Which records the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Pending,
    Approved,
    Denied,
    Incomplete,
}

/// Records per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub all: usize,
    pub pending: usize,
    pub approved: usize,
    pub denied: usize,
    pub incomplete: usize,
}

impl Counts {
    fn of(&self, f: Filter) -> usize {
        match f {
            Filter::All => self.all,
            Filter::Pending => self.pending,
            Filter::Approved => self.approved,
            Filter::Denied => self.denied,
            Filter::Incomplete => self.incomplete,
        }
    }
}

pub const LICENSES: [License; 3] = [
    License::Public,
    License::PublicAttribution,
    License::PrivateOrganisation,
];

pub fn license_id(l: License) -> &'static str {
    match l {
        License::Public => "public",
        License::PublicAttribution => "publicAttribution",
        License::PrivateOrganisation => "privateOrganisation",
    }
}

pub fn license_from_id(s: &str) -> Option<License> {
    LICENSES.into_iter().find(|l| license_id(*l) == s)
}

#[component]
pub fn ReviewToolbar(
    counts: Signal<Counts>,
    filter: Signal<Filter>,
    selected: Signal<usize>,
    busy: Signal<bool>,
    on_filter: Callback<Filter>,
    on_approve_selected: Callback<()>,
    on_deny_selected: Callback<()>,
    on_approve_all: Callback<()>,
    on_reset_all: Callback<()>,
    /// A license for the selected records (all not denied when none is selected).
    on_license: Callback<License>,
) -> impl IntoView {
    let tab = move |f: Filter, label: &'static str, id: &'static str| {
        view! {
            <button
                type="button"
                data-testid=id
                aria-pressed=move || (filter.get() == f).to_string()
                on:click=move |_| on_filter.run(f)
            >
                {move || format!("{label} ({})", counts.get().of(f))}
            </button>
        }
    };
    let approval = move || {
        let c = counts.get();
        if c.all == 0 {
            "0 %".to_string()
        } else {
            format!("{:.0} %", c.approved as f64 * 100.0 / c.all as f64)
        }
    };
    view! {
        <div class="stack">
            <div class="row spread">
                <div class="filters" role="group" aria-label="Filter by status">
                    {tab(Filter::All, "All", "filter-all")}
                    {tab(Filter::Pending, "Pending", "filter-pending")}
                    {tab(Filter::Approved, "Approved", "filter-approved")}
                    {tab(Filter::Denied, "Denied", "filter-denied")}
                    {tab(Filter::Incomplete, "Incomplete", "filter-incomplete")}
                </div>
                <span data-testid="approval-percent">{move || format!("{} approved", approval())}</span>
            </div>
            <div class="row">
                <button
                    type="button"
                    data-testid="approve-selected"
                    disabled=move || busy.get() || selected.get() == 0
                    on:click=move |_| on_approve_selected.run(())
                >
                    {move || format!("Approve Selected ({})", selected.get())}
                </button>
                <button
                    type="button"
                    data-testid="deny-selected"
                    disabled=move || busy.get() || selected.get() == 0
                    on:click=move |_| on_deny_selected.run(())
                >
                    "Deny Selected"
                </button>
                <button
                    type="button"
                    class="primary"
                    data-testid="approve-all"
                    disabled=move || busy.get()
                    on:click=move |_| on_approve_all.run(())
                >
                    "Approve All"
                </button>
                <button type="button" data-testid="reset-all" disabled=move || busy.get() on:click=move |_| on_reset_all.run(())>
                    "Reset All"
                </button>
                <label class="small">
                    {move || if selected.get() > 0 { "License for the selected: " } else { "License for all: " }}
                    <select
                        data-testid="bulk-license"
                        prop:value=""
                        on:change=move |ev| {
                            if let Some(l) = license_from_id(&event_target_value(&ev)) {
                                on_license.run(l);
                            }
                            // Back to "choose": the next choice is a new bulk action.
                            if let Some(el) = ev
                                .target()
                                .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
                            {
                                el.set_value("");
                            }
                        }
                    >
                        <option value="">"— choose —"</option>
                        {LICENSES
                            .into_iter()
                            .map(|l| view! { <option value=license_id(l)>{l.to_string()}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
        </div>
    }
}
