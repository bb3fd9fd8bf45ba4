//! The one alert of every form and page, and the one sentence a person reads per error.

use crate::error::AppError;
use leptos::prelude::*;

/// Said when a server function could not be reached (or the service is down).
pub const UNREACHABLE: &str = "Gatehouse could not be reached; check your connection and try again";

/// What a person reads for `error`: the error's own sentence, except that an unreachable
/// service is told as such.
pub fn sentence(error: &AppError) -> String {
    match error {
        AppError::Unavailable => UNREACHABLE.to_owned(),
        other => other.to_string(),
    }
}

/// A message the person must notice, announced by screen readers; hidden while `None`.
#[component]
pub fn Alert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div role="alert" class="form-error" hidden=move || message.with(Option::is_none)>
            {move || message.get().unwrap_or_default()}
        </div>
    }
}
