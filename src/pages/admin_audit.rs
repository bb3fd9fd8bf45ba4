//! `/admin/audit`: the audit log, newest first, filtered by event type and username, paged
//! back with "Older".

use crate::{
    audit::EventType,
    browser::{Session, authed},
    components::alert::{Alert, sentence},
    fns::users::audit_log,
    pages::{admin_user::EventTable, admin_users::Forbidden},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let session = Session::get();
    let access = Memo::new(move |_| (session.user().is_some(), session.is_admin()));
    view! {
        <Title text="Audit log"/>
        {move || match access.get() {
            (false, _) => view! { <Redirect path="/login?next=/admin/audit"/> }.into_any(),
            (true, false) => view! { <Forbidden/> }.into_any(),
            (true, true) => view! { <AuditLog/> }.into_any(),
        }}
    }
}

/// The filters applied, and the pages passed on the way back (each page's `before`).
#[derive(Clone, Debug, Default, PartialEq)]
struct Query {
    kind: String,
    username: String,
    before: Option<String>,
}

#[component]
fn AuditLog() -> impl IntoView {
    let session = Session::get();
    let kind = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let query = RwSignal::new(Query::default());
    // The `before` of each page already seen, so "Newer" can go back.
    let trail = RwSignal::new(Vec::<Option<String>>::new());
    let mounted = RwSignal::new(false);
    let unknown_user = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    let page = LocalResource::new(move || {
        let Query { kind, username, before } = query.get();
        async move { authed(session, || audit_log(kind.clone(), username.clone(), before.clone())).await }
    });
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        trail.set(Vec::new());
        query.set(Query { kind: kind.get_untracked(), username: username.get_untracked(), before: None });
    };
    let options =
        EventType::ALL.into_iter().map(|t| view! { <option value=t.as_str()>{t.label()}</option> }).collect_view();
    view! {
        <section class="card wide" aria-labelledby="audit-heading">
            <h1 id="audit-heading">"Audit log"</h1>
            <form class="filters" on:submit=apply>
                <div class="field">
                    <label for="audit-type">"Event type"</label>
                    <select id="audit-type" name="type" on:change=move |ev| kind.set(event_target_value(&ev))
                        prop:value=move || kind.get()>
                        <option value="">"All events"</option>
                        {options}
                    </select>
                </div>
                <div class="field">
                    <label for="audit-user">"User"</label>
                    <input id="audit-user" name="user" type="search" placeholder="Username"
                        aria-invalid=move || unknown_user.get().then_some("true")
                        aria-describedby=move || unknown_user.get().then_some("audit-user-error")
                        prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/>
                    <p class="field-error" id="audit-user-error" hidden=move || !unknown_user.get()>
                        "No account has that username"
                    </p>
                </div>
                <button type="submit" class="button primary">"Filter"</button>
            </form>
            <Show when=move || mounted.get() fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                    {move || Suspend::new(async move {
                        let result = page.await;
                        unknown_user.set(matches!(&result, Err(e) if e.message_for("user").is_some()));
                        match result {
                            Err(e) if e.message_for("user").is_some() => ().into_any(),
                            Err(e) => view! { <Alert message=Signal::stored(Some(sentence(&e)))/> }.into_any(),
                            Ok(lines) => {
                                let next = lines.next_before.clone();
                                let has_newer = !trail.with(Vec::is_empty);
                                view! {
                                    <EventTable items=lines.items/>
                                    <nav class="pager" aria-label="Pages">
                                        <button type="button" class="button" disabled=!has_newer
                                            on:click=move |_| {
                                                let mut seen = trail.get_untracked();
                                                let before = seen.pop().flatten();
                                                trail.set(seen);
                                                query.update(|q| q.before = before);
                                            }>"Newer"</button>
                                        <button type="button" class="button" disabled=next.is_none()
                                            on:click=move |_| {
                                                let current = query.get_untracked().before;
                                                trail.update(|t| t.push(current));
                                                query.update(|q| q.before = next.clone());
                                            }>"Older"</button>
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
