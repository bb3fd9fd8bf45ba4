//! `/me/security`: change the password, see and end one's logins, delete the account, and
//! read one's recent security activity.

use crate::{
    browser::{Session, authed},
    components::{
        alert::{Alert, sentence},
        dialog::ConfirmDialog,
        field::Field,
    },
    error::AppError,
    fns::account::{change_password, delete_account, end_my_login, my_history, my_logins},
    users::LoginSession,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_navigate};

/// Shown on the home page after the person deleted their account.
pub const ACCOUNT_DELETED_NOTICE: &str = "Your account was deleted";
pub const PASSWORD_CHANGED: &str = "Password changed. Other devices were signed out.";

#[component]
pub fn SecurityPage() -> impl IntoView {
    let session = Session::get();
    let signed_in_on_arrival = session.user_untracked().is_some();
    let present = Memo::new(move |_| session.user().is_some());
    // Set when the person deleted their account here: they go home, not to the login page.
    let deleted = RwSignal::new(false);
    // Lists are fetched in the browser with the bearer token, once hydrated (the server
    // rendered the placeholders).
    let mounted = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    view! {
        <Title text="Security"/>
        {move || match present.get() {
            false if deleted.get() => view! { <Redirect path="/"/> }.into_any(),
            false if signed_in_on_arrival => view! { <Redirect path="/login"/> }.into_any(),
            false => view! { <Redirect path="/login?next=/me/security"/> }.into_any(),
            true => view! {
                <section class="card" aria-labelledby="security-heading">
                    <h1 id="security-heading">"Security"</h1>
                    <p><a href="/me">"Back to your profile"</a></p>
                </section>
                <PasswordSection/>
                <Show when=move || mounted.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    <LoginsSection/>
                    <HistorySection/>
                </Show>
                <DeleteSection deleted=deleted/>
            }
            .into_any(),
        }}
    }
}

#[component]
fn PasswordSection() -> impl IntoView {
    let session = Session::get();
    let mounted = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<(), AppError>>);
    let field_error = move |name: &str| outcome.with(|o| o.as_ref().and_then(|o| o.as_ref().err()?.message_for(name)));
    let alert = Signal::derive(move || {
        outcome.with(|o| match o {
            Some(Err(e)) if e.message_for("current_password").is_none() && e.message_for("new_password").is_none() => {
                Some(sentence(e))
            }
            _ => None,
        })
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        outcome.set(None);
        leptos::task::spawn_local(async move {
            let (c, n) = (current.get_untracked(), new.get_untracked());
            let result = authed(session, || change_password(c.clone(), n.clone())).await;
            if result.is_ok() {
                current.set(String::new());
                new.set(String::new());
            }
            outcome.set(Some(result));
            pending.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <form method="post" on:submit=on_submit novalidate>
                <Alert message=alert/>
                <Field id="current-password" name="current_password" label="Current password" kind="password"
                    autocomplete="current-password" value=current
                    error=Signal::derive(move || field_error("current_password"))/>
                <Field id="new-password" name="new_password" label="New password" kind="password"
                    autocomplete="new-password" value=new hint="At least 8 characters"
                    error=Signal::derive(move || field_error("new_password"))/>
                <p role="status" class="status">
                    {move || matches!(outcome.get(), Some(Ok(()))).then_some(PASSWORD_CHANGED)}
                </p>
                // Enabled once hydrated: a form sent before would go nowhere useful.
                <button type="submit" class="button primary" disabled=move || pending.get() || !mounted.get()>
                    {move || if pending.get() { "Changing…" } else { "Change password" }}
                </button>
            </form>
        </section>
    }
}

#[component]
fn LoginsSection() -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    let message = RwSignal::new(None::<String>);
    let logins = LocalResource::new(move || async move { authed(session, my_logins).await });
    let end = Callback::new(move |login: LoginSession| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let id = login.id.clone();
            match authed(session, || end_my_login(id.clone())).await {
                Ok(()) if login.current == Some(true) => {
                    // This browser's own login: it is signed out now.
                    session.signed_out(None, true);
                    navigate("/login", Default::default());
                }
                Ok(()) => {
                    message.set(None);
                    logins.refetch();
                }
                Err(e) => message.set(Some(sentence(&e))),
            }
        });
    });
    view! {
        <section class="card wide" aria-labelledby="logins-heading">
            <h2 id="logins-heading">"Where you're signed in"</h2>
            <Alert message=message/>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match logins.await {
                        Err(e) => view! { <Alert message=Signal::stored(Some(sentence(&e)))/> }.into_any(),
                        Ok(items) => view! { <LoginTable items=items on_end=end/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A table of live logins, with "Sign out" per row ("This device" marks the caller's).
#[component]
pub fn LoginTable(items: Vec<LoginSession>, on_end: Callback<LoginSession>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="muted">"No live sign-ins."</p> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|login| {
            let device = login.device.clone().or_else(|| login.user_agent.clone()).unwrap_or_else(|| "Unknown device".into());
            let this = login.current == Some(true);
            let label = format!("Sign out {device}");
            view! {
                <tr>
                    <th scope="row">{device}{this.then(|| view! { " " <span class="badge">"This device"</span> })}</th>
                    <td>{login.ip.clone().unwrap_or_else(|| "—".into())}</td>
                    <td><time datetime=login.created_at.clone()>{short_time(&login.created_at)}</time></td>
                    <td><time datetime=login.last_used_at.clone()>{short_time(&login.last_used_at)}</time></td>
                    <td class="row-actions">
                        <button type="button" class="button small" aria-label=label on:click=move |_| on_end.run(login.clone())>
                            "Sign out"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Device"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last active"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// `2026-11-30T21:04:05.123Z` as `2026-11-30 21:04 UTC`.
pub fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

#[component]
fn HistorySection() -> impl IntoView {
    let session = Session::get();
    let history = LocalResource::new(move || async move { authed(session, my_history).await });
    view! {
        <section class="card wide" aria-labelledby="history-heading">
            <h2 id="history-heading">"Recent security activity"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <Alert message=Signal::stored(Some(sentence(&e)))/> }.into_any(),
                        Ok(items) => view! {
                            <ul class="events">
                                {items.into_iter().map(|event| view! {
                                    <li>
                                        <time datetime=event.at.clone()>{short_time(&event.at)}</time>
                                        " "
                                        <span>{event.text}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DeleteSection(deleted: RwSignal<bool>) -> impl IntoView {
    let session = Session::get();
    let mounted = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    let navigate = use_navigate();
    let password = RwSignal::new(String::new());
    let confirming = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let failure = RwSignal::new(None::<AppError>);
    let field_error = Signal::derive(move || failure.with(|f| f.as_ref()?.message_for("password")));
    let alert = Signal::derive(move || {
        failure.with(|f| f.as_ref().filter(|e| e.message_for("password").is_none()).map(sentence))
    });
    let delete = Callback::new(move |()| {
        pending.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let p = password.get_untracked();
            match authed(session, || delete_account(p.clone())).await {
                Ok(()) => {
                    deleted.set(true);
                    session.signed_out(Some(ACCOUNT_DELETED_NOTICE), true);
                    navigate("/", Default::default());
                }
                Err(e) => failure.set(Some(e)),
            }
            pending.set(false);
        });
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        if password.get_untracked().is_empty() {
            failure.set(Some(AppError::field("password", "Enter your password to delete your account")));
        } else {
            confirming.set(true);
        }
    };
    view! {
        <section class="card" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete account"</h2>
            <p>"Your account, its sign-ins and its tokens are deleted for good. Your username becomes free for anyone."</p>
            <form method="post" on:submit=on_submit novalidate>
                <Alert message=alert/>
                <Field id="delete-password" name="password" label="Password" kind="password"
                    autocomplete="current-password" value=password error=field_error/>
                <button type="submit" class="button danger" disabled=move || pending.get() || !mounted.get()>"Delete my account"</button>
            </form>
            <ConfirmDialog
                id="delete-account-dialog"
                open=confirming
                question="Delete your account?".to_owned()
                details="This cannot be undone. You will be signed out everywhere.".to_owned()
                confirm="Delete my account"
                on_confirm=delete
            />
        </section>
    }
}
