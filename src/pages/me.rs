//! `/me`: the signed-in person's profile, with "Edit profile", "Security", "Log out" and
//! "Sign out everywhere".

use crate::{
    browser::{Session, authed},
    components::{
        alert::{Alert, sentence},
        field::Field,
        nav::LogoutButton,
    },
    error::AppError,
    fns::{account::update_profile, auth::sign_out_everywhere},
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
    let saved = RwSignal::new(false);
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
                        <ProfileEditor saved=saved/>
                        <p><a href="/me/security">"Security"</a></p>
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

/// What the profile form says when the email is another account's.
pub const EMAIL_IN_USE: &str = "That email is already in use";

/// "Edit profile": an inline form for the email and full name. `saved` outlives it: saving
/// re-renders the profile (and so this form) with the new values.
#[component]
fn ProfileEditor(saved: RwSignal<bool>) -> impl IntoView {
    let session = Session::get();
    let open = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let full_name = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let failure = RwSignal::new(None::<AppError>);
    let start = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        if let Some(user) = session.user_untracked() {
            email.set(user.email.unwrap_or_default());
            full_name.set(user.full_name.unwrap_or_default());
        }
        failure.set(None);
        saved.set(false);
        open.set(true);
    };
    let email_error = Signal::derive(move || {
        failure.with(|f| match f.as_ref()? {
            AppError::Conflict { field: Some(field), .. } if field == "email" => Some(EMAIL_IN_USE.to_owned()),
            other => other.message_for("email"),
        })
    });
    let name_error = Signal::derive(move || failure.with(|f| f.as_ref()?.message_for("full_name")));
    let alert = Signal::derive(move || {
        failure.with(|f| {
            let e = f.as_ref()?;
            (e.message_for("email").is_none() && e.message_for("full_name").is_none()).then(|| sentence(e))
        })
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        failure.set(None);
        leptos::task::spawn_local(async move {
            let (e, n) = (email.get_untracked(), full_name.get_untracked());
            match authed(session, || update_profile(e.clone(), n.clone())).await {
                Ok(user) => {
                    session.updated(user);
                    saved.set(true);
                    open.set(false);
                }
                Err(e) => failure.set(Some(e)),
            }
            pending.set(false);
        });
    };
    view! {
        <p role="status" class="status">{move || saved.get().then_some("Profile saved")}</p>
        <Show
            when=move || open.get()
            fallback=move || view! { <p><a href="#profile-email" on:click=start>"Edit profile"</a></p> }
        >
            <form class="profile-form" method="post" on:submit=on_submit novalidate>
                <Alert message=alert/>
                <Field id="profile-email" name="email" label="Email" kind="email" autocomplete="email"
                    value=email error=email_error/>
                <Field id="profile-full-name" name="full_name" label="Full name" autocomplete="name"
                    value=full_name error=name_error/>
                <div class="actions">
                    <button type="submit" class="button primary" disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save profile" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </Show>
    }
}
