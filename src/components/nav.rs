//! The navigation bar on every page.

use crate::{browser::Session, fns::auth::logout};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn NavBar() -> impl IntoView {
    let session = Session::get();
    view! {
        <nav class="topbar" aria-label="Main">
            <a class="brand" href="/">"Gatehouse"</a>
            <ul class="nav-links">
                {move || match session.user() {
                    None => {
                        view! {
                            <li><a href="/login">"Log in"</a></li>
                            <li><a href="/signup">"Sign up"</a></li>
                        }
                            .into_any()
                    }
                    Some(user) => {
                        let is_admin = session.is_admin();
                        view! {
                            <li><a href="/me">{user.username}</a></li>
                            {is_admin.then(|| view! {
                                <li><a href="/admin/users">"Users"</a></li>
                                <li><a href="/admin/audit">"Audit"</a></li>
                            })}
                            <li><LogoutButton/></li>
                        }
                            .into_any()
                    }
                }}
            </ul>
        </nav>
    }
}

/// "Log out": a real form (it works before the WASM loads), handled in place once hydrated.
#[component]
pub fn LogoutButton() -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    let pending = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            // Whatever the server says, this browser forgets the session.
            let _ = logout().await;
            session.signed_out(None, true);
            pending.set(false);
            navigate("/login", Default::default());
        });
    };
    view! {
        <form method="post" action="/fn/logout" class="inline-form" on:submit=on_submit>
            <button type="submit" class="link-button" disabled=move || pending.get()>"Log out"</button>
        </form>
    }
}
