//! `/login`: username and password; back to `?next=` (local paths only) or `/me`.

use crate::{
    browser::{Session, form_error_from_url},
    components::{
        alert::{Alert, sentence},
        field::Field,
        submit::SubmitButton,
    },
    domain::next_path,
    error::AppError,
    fns::auth::Login,
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
    let action = ServerAction::<Login>::new();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let username_input = NodeRef::<leptos::html::Input>::new();
    let navigate = use_navigate();

    Effect::new(move || {
        if let Some(Ok(info)) = action.value().get() {
            session.signed_in(info);
            navigate(&next_path(next.get_untracked().as_deref()), Default::default());
        }
    });
    let from_url = StoredValue::new(form_error_from_url(<Login as leptos::server_fn::ServerFn>::PATH));
    let error = Signal::derive(move || match action.value().get().or_else(|| from_url.get_value().map(Err)) {
        // Throttled: say how long to wait (the same words whether the account exists or not).
        Some(Err(e @ (AppError::Unavailable | AppError::Internal | AppError::TooManyRequests { .. }))) => {
            Some(sentence(&e))
        }
        Some(Err(_)) => Some(WRONG_CREDENTIALS.to_owned()),
        _ => None,
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
        <Title text="Log in"/>
        // Only a person already signed in when the page opens is sent on; signing in here
        // navigates to `next` itself.
        {session.user_untracked().is_some().then(|| view! { <Redirect path="/me"/> })}
        <section class="card narrow" aria-labelledby="login-heading">
            <h1 id="login-heading">"Log in"</h1>
            {move || session.notice().map(|notice| view! { <p class="notice" role="status">{notice}</p> })}
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
        </section>
    }
}
