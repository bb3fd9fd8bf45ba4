//! `/`: what Gatehouse is, and how to reach it from code.

use crate::browser::Session;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    // Toggling works only once the WASM has hydrated the page: the end-to-end test relies
    // on it to prove hydration happened.
    let session = Session::get();
    let (show_api, set_show_api) = signal(false);

    view! {
        <Title text="Accounts and sign-in"/>
        <section class="hero">
            {move || session.notice().map(|notice| view! { <p class="notice" role="status">{notice}</p> })}
            <h1>"Gatehouse"</h1>
            <p class="lead">
                "Accounts and sign-in for your applications: sign up, log in, and keep your "
                "session safe. Passwords are hashed with Argon2id; sessions use short-lived "
                "access tokens and rotating refresh tokens."
            </p>
            {move || match session.user() {
                None => view! {
                    <div class="actions">
                        <a class="button primary" href="/signup">"Create an account"</a>
                        <a class="button" href="/login">"Log in to your account"</a>
                    </div>
                }
                .into_any(),
                Some(user) => view! {
                    <p class="actions">"Signed in as " <a href="/me">{user.username}</a></p>
                }
                .into_any(),
            }}
        </section>
        <section class="card" aria-labelledby="api-heading">
            <h2 id="api-heading">"For developers"</h2>
            <p>"The same accounts answer a JSON API under " <code>"/api/v1"</code> "."</p>
            <button
                type="button"
                class="button"
                aria-expanded=move || show_api.get().to_string()
                aria-controls="api-quick-start"
                on:click=move |_| set_show_api.update(|shown| *shown = !*shown)
            >
                {move || if show_api.get() { "Hide the API quick start" } else { "Show the API quick start" }}
            </button>
            <div id="api-quick-start" hidden=move || !show_api.get()>
                <pre><code>{API_EXAMPLE}</code></pre>
            </div>
        </section>
    }
}

const API_EXAMPLE: &str = "\
# Create an account
curl -X POST http://127.0.0.1:3000/api/v1/auth/register \\
     -H 'Content-Type: application/json' \\
     -d '{\"username\":\"ada\",\"password\":\"a long passphrase\"}'

# Log in (OAuth2 password grant)
curl -X POST http://127.0.0.1:3000/api/v1/auth/token \\
     -d username=ada -d 'password=a long passphrase'

# Who am I?
curl http://127.0.0.1:3000/api/v1/users/me -H 'Authorization: Bearer <access_token>'";
