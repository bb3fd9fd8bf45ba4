//! `/me`: the signed-in person's profile, with "Log out" and "Sign out everywhere".

use crate::{
    browser::{Session, authed},
    components::{alert::Alert, nav::LogoutButton},
    fns::auth::sign_out_everywhere,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_navigate};

#[component]
pub fn MePage() -> impl IntoView {
    let session = Session::get();
    let signed_in_on_arrival = session.user_untracked().is_some();
    let navigate = use_navigate();
    let pending = RwSignal::new(false);
    let failed = RwSignal::new(None::<&'static str>);
    let everywhere = move |_| {
        pending.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match authed(session, sign_out_everywhere).await {
                Ok(()) => {
                    session.signed_out(None, true);
                    navigate("/login", Default::default());
                }
                // A signed-out session is shown by the redirect below; anything else stays here.
                Err(e) if session.user().is_some() => {
                    failed.set(Some(if e.status() >= 500 {
                        "Gatehouse could not sign you out; try again"
                    } else {
                        "That did not work; try again"
                    }));
                }
                Err(_) => {}
            }
            pending.set(false);
        });
    };

    view! {
        <Title text="Your profile"/>
        {move || match session.user() {
            // A visitor who arrives signed out comes back here after logging in; a person who
            // signs out on this page (or in another tab) just goes to the login page.
            None if signed_in_on_arrival => view! { <Redirect path="/login"/> }.into_any(),
            None => view! { <Redirect path="/login?next=/me"/> }.into_any(),
            Some(user) => {
                let since = user.created_at.get(..10).unwrap_or(&user.created_at).to_owned();
                view! {
                    <section class="card" aria-labelledby="me-heading">
                        <h1 id="me-heading">{user.username.clone()}</h1>
                        <dl class="profile">
                            <dt>"Username"</dt><dd>{user.username}</dd>
                            <dt>"Email"</dt><dd>{user.email.unwrap_or_else(|| "—".into())}</dd>
                            <dt>"Full name"</dt><dd>{user.full_name.unwrap_or_else(|| "—".into())}</dd>
                            <dt>"Role"</dt><dd>{user.role.as_str()}</dd>
                            <dt>"Member since"</dt><dd><time datetime=user.created_at.clone()>{since}</time></dd>
                        </dl>
                        <Alert message=Signal::derive(move || failed.get().map(str::to_owned))/>
                        <div class="actions">
                            <LogoutButton/>
                            <button type="button" class="button" on:click=everywhere.clone() disabled=move || pending.get()>
                                "Sign out everywhere"
                            </button>
                        </div>
                    </section>
                }
                .into_any()
            }
        }}
    }
}
