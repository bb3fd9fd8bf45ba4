//! `/login`: username and password; back to `?next=` (local paths only) or `/me`. On an
//! account with two-factor authentication the same page then asks for a code
//! (`?step=code`) or a recovery code (`?step=recovery`); the login waiting for it lives in
//! an `HttpOnly` cookie, so both steps work without JavaScript too.

use crate::{
    browser::{Session, form_error_from_url},
    components::{
        alert::{Alert, sentence},
        field::Field,
        submit::SubmitButton,
    },
    domain::next_path,
    error::AppError,
    fns::auth::{Login, LoginStep, VerifyLogin, code_step_path},
    users::WRONG_CODE,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_navigate, use_query_map},
};

pub const WRONG_CREDENTIALS: &str = "Incorrect username or password";

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Session::get();
    let query = use_query_map();
    let next = Memo::new(move |_| query.read().get("next"));
    let step = Memo::new(move |_| query.read().get("step"));

    view! {
        <Title text="Log in"/>
        // Only a person already signed in when the page opens is sent on; signing in here
        // navigates to `next` itself.
        {session.user_untracked().is_some().then(|| view! { <Redirect path="/me"/> })}
        <section class="card narrow" aria-labelledby="login-heading">
            <h1 id="login-heading">"Log in"</h1>
            {move || session.notice().map(|notice| view! { <p class="notice" role="status">{notice}</p> })}
            {move || match step.get().as_deref() {
                Some("code") => view! { <CodeStep next recovery=false/> }.into_any(),
                Some("recovery") => view! { <CodeStep next recovery=true/> }.into_any(),
                _ => view! { <PasswordStep next/> }.into_any(),
            }}
        </section>
    }
}

/// The first step: username and password.
#[component]
fn PasswordStep(next: Memo<Option<String>>) -> impl IntoView {
    let session = Session::get();
    let action = ServerAction::<Login>::new();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let username_input = NodeRef::<leptos::html::Input>::new();
    let navigate = use_navigate();

    Effect::new(move || match action.value().get() {
        Some(Ok(LoginStep::SignedIn(info))) => {
            session.signed_in(info);
            navigate(&next_path(next.get_untracked().as_deref()), Default::default());
        }
        Some(Ok(LoginStep::CodeNeeded)) => {
            navigate(&code_step_path("code", next.get_untracked().as_deref()), Default::default());
        }
        _ => {}
    });
    let from_url = StoredValue::new(form_error_from_url(<Login as leptos::server_fn::ServerFn>::PATH));
    let error = Signal::derive(move || {
        match action.value().get().map(|r| r.map(|_| ())).or_else(|| from_url.get_value().map(Err)) {
            // Throttled: say how long to wait (the same words whether the account exists or not).
            Some(Err(e @ (AppError::Unavailable | AppError::Internal | AppError::TooManyRequests { .. }))) => {
                Some(sentence(&e))
            }
            Some(Err(_)) => Some(WRONG_CREDENTIALS.to_owned()),
            _ => None,
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(Login {
            username: username.get_untracked(),
            password: password.get_untracked(),
            next: next.get_untracked(),
        });
    };
    // A failed attempt returns focus to the username for the next try.
    Effect::new(move || {
        if error.with(Option::is_some)
            && let Some(input) = username_input.get()
        {
            let _ = input.focus();
        }
    });

    view! {
        <form method="post" action="/fn/login" novalidate on:submit=on_submit>
            <Alert message=error/>
            <Field
                id="login-username"
                name="username"
                label="Username"
                autocomplete="username"
                value=username
                node_ref=username_input
            />
            <Field
                id="login-password"
                name="password"
                label="Password"
                kind="password"
                autocomplete="current-password"
                value=password
            />
            <input type="hidden" name="next" prop:value=move || next.get().unwrap_or_default()/>
            <SubmitButton pending=action.pending() idle="Log in" busy="Logging in…"/>
        </form>
        <p class="aside">"No account yet? " <a href="/signup">"Create an account"</a></p>
    }
}

/// The second step: an authentication code from the person's app, or one of their recovery
/// codes.
#[component]
fn CodeStep(next: Memo<Option<String>>, recovery: bool) -> impl IntoView {
    let session = Session::get();
    let action = ServerAction::<VerifyLogin>::new();
    let code = RwSignal::new(String::new());
    let code_input = NodeRef::<leptos::html::Input>::new();
    let navigate = use_navigate();

    Effect::new(move || {
        if let Some(Ok(info)) = action.value().get() {
            session.signed_in(info);
            navigate(&next_path(next.get_untracked().as_deref()), Default::default());
        }
    });
    let from_url = StoredValue::new(form_error_from_url(<VerifyLogin as leptos::server_fn::ServerFn>::PATH));
    let error = Signal::derive(move || match action.value().get().or_else(|| from_url.get_value().map(Err)) {
        Some(Err(e @ (AppError::Unavailable | AppError::Internal | AppError::TooManyRequests { .. }))) => {
            Some(sentence(&e))
        }
        Some(Err(_)) => Some(WRONG_CODE.to_owned()),
        _ => None,
    });
    let method = if recovery { "recovery" } else { "code" };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(VerifyLogin {
            code: code.get_untracked(),
            method: Some(method.to_owned()),
            next: next.get_untracked(),
        });
    };
    // The field is where the person types next: on arrival and after a wrong code.
    Effect::new(move || {
        let _ = error.with(Option::is_some);
        if let Some(input) = code_input.get() {
            let _ = input.focus();
        }
    });
    let (label, hint, other, other_text) = if recovery {
        (
            "Recovery code",
            "One of the codes you saved when you turned on two-factor authentication.",
            "code",
            "Use an authentication code",
        )
    } else {
        (
            "Authentication code",
            "The 6-digit code your authenticator app shows for this account.",
            "recovery",
            "Use a recovery code",
        )
    };

    view! {
        <p>"This account has two-factor authentication."</p>
        <form method="post" action="/fn/verify-login" novalidate on:submit=on_submit>
            <Alert message=error/>
            <Field
                id="login-code"
                name="code"
                label=label
                hint=hint
                autocomplete=if recovery { "off" } else { "one-time-code" }
                inputmode=if recovery { "text" } else { "numeric" }
                value=code
                node_ref=code_input
            />
            <input type="hidden" name="method" value=method/>
            <input type="hidden" name="next" prop:value=move || next.get().unwrap_or_default()/>
            <SubmitButton pending=action.pending() idle="Verify" busy="Verifying…"/>
        </form>
        <p class="aside">
            <a href=move || code_step_path(other, next.get().as_deref())>{other_text}</a>
            " · "
            <a href="/login">"Start over"</a>
        </p>
    }
}
