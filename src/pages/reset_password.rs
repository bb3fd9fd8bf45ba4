//! `/reset-password#token=…`: set a new password with a link an admin made. The token is in
//! the fragment, which the browser never sends: it is read here, in the browser, and taken
//! out of the address bar at once.

use crate::{
    components::{
        alert::{Alert, sentence},
        field::Field,
    },
    error::AppError,
    fns::auth::reset_password,
};
use leptos::prelude::*;
use leptos_meta::Title;

pub const LINK_INVALID: &str = "This link is no longer valid. Ask an administrator for a new one.";
pub const PASSWORD_RESET: &str = "Your password was changed. Log in with the new one.";
const MISMATCH: &str = "The passwords do not match";

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = RwSignal::new(None::<String>);
    let read = RwSignal::new(false);
    Effect::new(move || {
        token.set(token_from_fragment());
        read.set(true);
    });
    let new = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<(), AppError>>);
    let mismatch = RwSignal::new(false);
    let new_error = Signal::derive(move || outcome.with(|o| o.as_ref()?.as_ref().err()?.message_for("new_password")));
    let again_error = Signal::derive(move || mismatch.get().then(|| MISMATCH.to_owned()));
    let alert = Signal::derive(move || {
        outcome.with(|o| match o {
            Some(Err(AppError::InvalidGrant)) => Some(LINK_INVALID.to_owned()),
            Some(Err(e)) if e.message_for("new_password").is_none() => Some(sentence(e)),
            _ => None,
        })
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        outcome.set(None);
        let (password, repeated) = (new.get_untracked(), again.get_untracked());
        mismatch.set(password != repeated);
        if password != repeated {
            return;
        }
        let Some(token) = token.get_untracked() else {
            outcome.set(Some(Err(AppError::InvalidGrant)));
            return;
        };
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = reset_password(token, password).await;
            if result.is_ok() {
                // Spent: it leaves the address bar and the history entry.
                forget_fragment();
            }
            outcome.set(Some(result));
            pending.set(false);
        });
    };
    view! {
        <Title text="Set a new password"/>
        <section class="card narrow" aria-labelledby="reset-heading">
            <h1 id="reset-heading">"Set a new password"</h1>
            {move || match (read.get(), token.with(Option::is_some), outcome.with(|o| matches!(o, Some(Ok(()))))) {
                (_, _, true) => view! {
                    <p role="status" class="success">{PASSWORD_RESET}</p>
                    <p><a class="button primary" href="/login">"Log in"</a></p>
                }
                .into_any(),
                (true, false, _) => view! { <p role="alert" class="form-error">{LINK_INVALID}</p> }.into_any(),
                _ => view! {
                    <form on:submit=on_submit novalidate>
                        <Alert message=alert/>
                        <Field id="reset-new-password" name="new_password" label="New password" kind="password"
                            autocomplete="new-password" value=new hint="At least 8 characters" error=new_error/>
                        <Field id="reset-confirm-password" name="confirm_password" label="Confirm new password"
                            kind="password" autocomplete="new-password" value=again error=again_error/>
                        <button type="submit" class="button primary" disabled=move || pending.get() || !read.get()>
                            {move || if pending.get() { "Setting…" } else { "Set password" }}
                        </button>
                    </form>
                }
                .into_any(),
            }}
        </section>
    }
}

/// The `token` of `#token=…`. `None` on the server, which never sees the fragment.
fn token_from_fragment() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let hash = web_sys::window()?.location().hash().ok()?;
        hash.trim_start_matches('#')
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// Takes the fragment out of the address bar and of this history entry.
fn forget_fragment() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window()
        && let (Ok(history), Ok(path)) = (window.history(), window.location().pathname())
    {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
}
