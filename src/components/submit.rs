//! The submit button of a form whose server function may be in flight.

use leptos::prelude::*;

/// Disabled while `pending`, and says so: `busy` ("Logging in…") instead of `idle`.
#[component]
pub fn SubmitButton(pending: Memo<bool>, idle: &'static str, busy: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class="button primary" disabled=move || pending.get()>
            {move || if pending.get() { busy } else { idle }}
        </button>
    }
}
