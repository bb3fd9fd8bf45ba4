//! `/admin/users`: every account in pages of 50, searchable; disable, enable, promote, demote.

use crate::{
    browser::{Session, authed},
    components::alert::{Alert, sentence},
    domain::Role,
    fns::users::{list_users, update_user},
    users::User,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let session = Session::get();
    // Only a change of who may see the page re-renders it; a refreshed token (which
    // re-stores the same person) must not reset the search and the page.
    let access = Memo::new(move |_| (session.user().is_some(), session.is_admin()));
    view! {
        <Title text="Users"/>
        {move || match access.get() {
            (false, _) => view! { <Redirect path="/login?next=/admin/users"/> }.into_any(),
            (true, false) => view! { <Forbidden/> }.into_any(),
            (true, true) => view! { <UserTable/> }.into_any(),
        }}
    }
}

/// The 403 page, with the 403 status when rendered on the server.
#[component]
pub fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::FORBIDDEN);
    }
    view! {
        <section class="card" aria-labelledby="forbidden-heading">
            <h1 id="forbidden-heading">"You do not have access to this page"</h1>
            <p>"This page is for admins. " <a href="/me">"Go to your profile"</a></p>
        </section>
    }
}

#[component]
fn UserTable() -> impl IntoView {
    let session = Session::get();
    let search = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let offset = RwSignal::new(0_i64);
    let message = RwSignal::new(None::<String>);
    // The user whose change is in flight: that row's buttons wait for the answer.
    let busy = RwSignal::new(None::<String>);
    // The list is fetched in the browser, with the bearer token. It is shown only once the
    // page is hydrated: the server rendered the placeholder, and a list that arrived during
    // hydration would not match that HTML.
    let mounted = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    let users = LocalResource::new(move || {
        let (q, offset) = (query.get(), offset.get());
        async move { authed(session, || list_users(q.clone(), offset)).await }
    });
    let run_search = move || {
        let text = search.get_untracked();
        if text != query.get_untracked() || offset.get_untracked() != 0 {
            offset.set(0);
            query.set(text);
        }
    };
    let change = move |user: User, role: Option<Role>, disabled: Option<bool>| {
        busy.set(Some(user.id.clone()));
        leptos::task::spawn_local(async move {
            let id = user.id.clone();
            let outcome = authed(session, || update_user(id.clone(), role, disabled)).await;
            busy.set(None);
            match outcome {
                Ok(updated) => {
                    message.set(Some(format!("{} updated", updated.username)));
                    users.refetch();
                }
                Err(e) => message.set(Some(sentence(&e))),
            }
        });
    };

    view! {
        <section class="card wide" aria-labelledby="users-heading">
            <h1 id="users-heading">"Users"</h1>
            <form class="search" role="search" on:submit=move |ev| { ev.prevent_default(); run_search(); }>
                <label for="user-search">"Search"</label>
                <input
                    id="user-search"
                    type="search"
                    placeholder="Username or email"
                    prop:value=move || search.get()
                    on:input=move |ev| { search.set(event_target_value(&ev)); run_search(); }
                />
            </form>
            <Alert message=message/>
            <Show when=move || mounted.get() fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => view! { <Alert message=Signal::stored(Some(sentence(&e)))/> }.into_any(),
                        Ok(page) => {
                            let total = page.total;
                            let first = if total == 0 { 0 } else { page.offset + 1 };
                            let last = (page.offset + page.items.len() as i64).min(total);
                            let (at_start, at_end) = (page.offset == 0, page.offset + page.limit >= total);
                            let size = page.limit;
                            let rows = page.items.into_iter().map(|user| view! { <UserRow user=user.clone() busy=busy on_change=change/> }).collect_view();
                            view! {
                                <div class="table-scroll">
                                    <table>
                                        <caption class="muted">{format!("Showing {first}–{last} of {total}")}</caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">"Username"</th>
                                                <th scope="col">"Email"</th>
                                                <th scope="col">"Role"</th>
                                                <th scope="col">"Status"</th>
                                                <th scope="col">"Created"</th>
                                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    <button type="button" class="button" disabled=at_start
                                        on:click=move |_| offset.update(|o| *o = (*o - size).max(0))>"Previous"</button>
                                    <button type="button" class="button" disabled=at_end
                                        on:click=move |_| offset.update(|o| *o += size)>"Next"</button>
                                </nav>
                            }
                            .into_any()
                        }
                    }
                })}
            </Transition>
            </Show>
        </section>
    }
}

#[component]
fn UserRow(
    user: User,
    busy: RwSignal<Option<String>>,
    on_change: impl Fn(User, Option<Role>, Option<bool>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let created = user.created_at.get(..10).unwrap_or(&user.created_at).to_owned();
    let (toggle_label, new_disabled) = if user.disabled { ("Enable", false) } else { ("Disable", true) };
    let (role_label, new_role) = match user.role {
        Role::Admin => ("Make user", Role::User),
        Role::User => ("Make admin", Role::Admin),
    };
    let row_id = user.id.clone();
    let pending = move || busy.with(|b| b.as_deref() == Some(row_id.as_str()));
    let for_status = user.clone();
    let for_role = user.clone();
    view! {
        <tr>
            <th scope="row"><a href=format!("/admin/users/{}", user.id)>{user.username.clone()}</a></th>
            <td>{user.email.clone().unwrap_or_default()}</td>
            <td>{user.role.as_str()}</td>
            <td>{if user.disabled { "disabled" } else { "active" }}</td>
            <td><time datetime=user.created_at.clone()>{created}</time></td>
            <td class="row-actions">
                <button type="button" class="button small" disabled=pending.clone()
                    on:click=move |_| on_change(for_status.clone(), None, Some(new_disabled))>
                    {toggle_label}
                </button>
                <button type="button" class="button small" disabled=pending
                    on:click=move |_| on_change(for_role.clone(), Some(new_role), None)>
                    {role_label}
                </button>
            </td>
        </tr>
    }
}
