//! `/admin/users/{id}`: one account for an admin: its details; disable or enable, promote or
//! demote, a password reset link, deletion; its live logins; its last events.

use crate::{
    browser::{Session, authed, copy_text},
    components::{
        alert::{Alert, sentence},
        dialog::ConfirmDialog,
    },
    domain::Role,
    fns::users::{
        AccountDetail, create_reset_link, delete_user, end_user_login, remove_user_mfa, update_user, user_detail,
    },
    pages::{
        admin_users::Forbidden,
        security::{LoginTable, short_time},
    },
    users::{LoginSession, ResetLink},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_navigate, use_params_map},
};

#[component]
pub fn AdminUserPage() -> impl IntoView {
    let session = Session::get();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let access = Memo::new(move |_| (session.user().is_some(), session.is_admin()));
    view! {
        <Title text="Account"/>
        {move || match access.get() {
            (false, _) => {
                // Only an id's own characters go into the link back.
                let id: String = id.get().chars().filter(|c| c.is_ascii_hexdigit() || *c == '-').collect();
                view! { <Redirect path=format!("/login?next=/admin/users/{id}")/> }.into_any()
            }
            (true, false) => view! { <Forbidden/> }.into_any(),
            (true, true) => view! { <Account id=id/> }.into_any(),
        }}
    }
}

#[component]
fn Account(id: Memo<String>) -> impl IntoView {
    let session = Session::get();
    let mounted = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    let detail = LocalResource::new(move || {
        let id = id.get();
        async move { authed(session, || user_detail(id.clone())).await }
    });
    let reload = Callback::new(move |()| detail.refetch());
    view! {
        <Show when=move || mounted.get() fallback=|| view! { <p class="muted">"Loading the account…"</p> }>
            <Transition fallback=|| view! { <p class="muted">"Loading the account…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Err(e) => view! {
                            <section class="card">
                                <h1>"Account"</h1>
                                <Alert message=Signal::stored(Some(sentence(&e)))/>
                                <p><a href="/admin/users">"Back to the users"</a></p>
                            </section>
                        }
                        .into_any(),
                        Ok(detail) => view! { <AccountView detail=detail reload=reload/> }.into_any(),
                    }
                })}
            </Transition>
        </Show>
    }
}

#[component]
fn AccountView(detail: AccountDetail, reload: Callback<()>) -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    let AccountDetail { user, logins, events } = detail;
    let message = RwSignal::new(None::<String>);
    let failure = RwSignal::new(None::<String>);
    let link = RwSignal::new(None::<ResetLink>);
    let copied = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let id = StoredValue::new(user.id.clone());
    let username = user.username.clone();

    let change = move |role: Option<Role>, disabled: Option<bool>| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let id = id.get_value();
            match authed(session, || update_user(id.clone(), role, disabled)).await {
                Ok(updated) => {
                    failure.set(None);
                    message.set(Some(format!("{} updated", updated.username)));
                    reload.run(());
                }
                Err(e) => failure.set(Some(sentence(&e))),
            }
            busy.set(false);
        });
    };
    let make_link = move |_| {
        busy.set(true);
        copied.set(false);
        leptos::task::spawn_local(async move {
            let id = id.get_value();
            match authed(session, || create_reset_link(id.clone())).await {
                Ok(created) => {
                    link.set(Some(created));
                    failure.set(None);
                }
                Err(e) => failure.set(Some(sentence(&e))),
            }
            busy.set(false);
        });
    };
    let delete = Callback::new(move |()| {
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let id = id.get_value();
            match authed(session, || delete_user(id.clone())).await {
                Ok(()) => navigate("/admin/users", Default::default()),
                Err(e) => failure.set(Some(sentence(&e))),
            }
            busy.set(false);
        });
    });
    let removing_mfa = RwSignal::new(false);
    let remove_mfa = Callback::new(move |()| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let id = id.get_value();
            match authed(session, || remove_user_mfa(id.clone())).await {
                Ok(()) => {
                    failure.set(None);
                    message.set(Some("Two-factor authentication removed".to_owned()));
                    reload.run(());
                }
                Err(e) => failure.set(Some(sentence(&e))),
            }
            busy.set(false);
        });
    });
    let end_login = Callback::new(move |login: LoginSession| {
        leptos::task::spawn_local(async move {
            let (id, login_id) = (id.get_value(), login.id.clone());
            match authed(session, || end_user_login(id.clone(), login_id.clone())).await {
                Ok(()) => reload.run(()),
                Err(e) => failure.set(Some(sentence(&e))),
            }
        });
    });

    let (toggle_label, new_disabled) = if user.disabled { ("Enable", false) } else { ("Disable", true) };
    let (role_label, new_role) = match user.role {
        Role::Admin => ("Make user", Role::User),
        Role::User => ("Make admin", Role::Admin),
    };
    let question = format!("Delete {username}?");
    let details = format!(
        "The account {username}, its sign-ins and its tokens are deleted for good. Its events stay in the audit log."
    );
    let created = short_time(&user.created_at);
    view! {
        <Title text=username.clone()/>
        <section class="card" aria-labelledby="account-heading">
            <p><a href="/admin/users">"Back to the users"</a></p>
            <h1 id="account-heading">{username.clone()}</h1>
            <dl class="profile">
                <dt>"Email"</dt><dd>{user.email.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Full name"</dt><dd>{user.full_name.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Role"</dt><dd>{user.role.as_str()}</dd>
                <dt>"Status"</dt><dd>{if user.disabled { "disabled" } else { "active" }}</dd>
                <dt>"Two-factor"</dt><dd>{if user.mfa_enabled { "on" } else { "off" }}</dd>
                <dt>"Created"</dt><dd><time datetime=user.created_at.clone()>{created}</time></dd>
                <dt>"Id"</dt><dd><code>{user.id.clone()}</code></dd>
            </dl>
            <p role="status" class="status">{move || message.get()}</p>
            <Alert message=failure/>
            <div class="actions">
                <button type="button" class="button" disabled=move || busy.get()
                    on:click=move |_| change(None, Some(new_disabled))>{toggle_label}</button>
                <button type="button" class="button" disabled=move || busy.get()
                    on:click=move |_| change(Some(new_role), None)>{role_label}</button>
                <button type="button" class="button" disabled=move || busy.get() on:click=make_link>
                    "Create password reset link"
                </button>
                {user.mfa_enabled.then(|| view! {
                    <button type="button" class="button" disabled=move || busy.get()
                        on:click=move |_| removing_mfa.set(true)>"Remove two-factor authentication"</button>
                })}
                <button type="button" class="button danger" disabled=move || busy.get()
                    on:click=move |_| confirming.set(true)>"Delete user"</button>
            </div>
            {move || link.get().map(|link| {
                let url = link.reset_url.clone();
                view! {
                    <div class="reset-link">
                        <label for="reset-link">"Password reset link"</label>
                        <input id="reset-link" type="text" readonly prop:value=link.reset_url.clone()/>
                        <p class="hint">"Works once, until " <time datetime=link.expires_at.clone()>{short_time(&link.expires_at)}</time>
                            ". Hand it to the person yourself; a newer link voids this one."</p>
                        <button type="button" class="button small" on:click=move |_| { copy_text(&url); copied.set(true); }>
                            "Copy"
                        </button>
                        <span role="status">{move || copied.get().then_some(" Copied")}</span>
                    </div>
                }
            })}
            <ConfirmDialog id="delete-user-dialog" open=confirming question=question details=details
                confirm="Delete user" on_confirm=delete/>
            <ConfirmDialog id="remove-mfa-dialog" open=removing_mfa
                question=format!("Remove two-factor authentication of {username}?")
                details="Do this only for a person whose identity you checked: their next sign-in needs only their password.".to_owned()
                confirm="Remove two-factor authentication" on_confirm=remove_mfa/>
        </section>
        <section class="card wide" aria-labelledby="user-logins-heading">
            <h2 id="user-logins-heading">"Where this account is signed in"</h2>
            <LoginTable items=logins on_end=end_login/>
        </section>
        <section class="card wide" aria-labelledby="user-events-heading">
            <h2 id="user-events-heading">"Recent events"</h2>
            <EventTable items=events.items/>
        </section>
    }
}

/// Events as a table: time, event, user, actor, address.
#[component]
pub fn EventTable(items: Vec<crate::audit::EventLine>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="muted">"No events."</p> }.into_any();
    }
    let who = |id: Option<String>, name: Option<String>| match (id, name) {
        (Some(id), Some(name)) => view! { <a href=format!("/admin/users/{id}")>{name}</a> }.into_any(),
        (Some(id), None) => view! { <span class="muted">{id.get(..8).unwrap_or(&id).to_owned()}</span> }.into_any(),
        (None, _) => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let rows = items
        .into_iter()
        .map(|event| {
            view! {
                <tr>
                    <td><time datetime=event.at.clone()>{short_time(&event.at)}</time></td>
                    <td class="wrap">{event.text.clone()}</td>
                    <td>{who(event.user_id.clone(), event.username.clone())}</td>
                    <td>{who(event.actor_id.clone(), event.actor_name.clone())}</td>
                    <td>{event.ip.clone().unwrap_or_else(|| "—".into())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"User"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Address"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
