//! `/me/security`: change the password, set up or turn off two-factor authentication, see
//! and end one's logins, delete the account, and read one's recent security activity.

use crate::{
    browser::{Session, authed, copy_text},
    components::{
        alert::{Alert, sentence},
        dialog::ConfirmDialog,
        field::Field,
    },
    error::AppError,
    fns::account::{
        change_password, confirm_totp, delete_account, disable_totp, end_my_login, my_history, my_logins,
        new_recovery_codes, recovery_codes_left, start_totp,
    },
    users::{LoginSession, TotpSetup},
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
                <TwoFactorSection/>
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

/// Where the two-factor section stands.
#[derive(Clone, Debug, PartialEq)]
enum TwoFactor {
    /// Nothing under way: a button to set it up (off) or to turn it off / replace codes (on).
    Idle,
    /// Setting up: asking for the password.
    AskPassword,
    /// Setting up: the secret to scan, and a field for the first code.
    Scan(TotpSetup),
    /// The recovery codes, shown this once.
    Codes(Vec<String>),
    /// Turning off: asking for the password and a code.
    TurnOff,
    /// New recovery codes: asking for a code.
    Renew,
}

pub const TWO_FACTOR_ON: &str = "Two-factor authentication is on.";
pub const TWO_FACTOR_OFF: &str = "Two-factor authentication is off.";

#[component]
fn TwoFactorSection() -> impl IntoView {
    let session = Session::get();
    let mounted = RwSignal::new(false);
    Effect::new(move || mounted.set(true));
    let on = Memo::new(move |_| session.user().is_some_and(|u| u.mfa_enabled));
    let stage = RwSignal::new(TwoFactor::Idle);
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let failure = RwSignal::new(None::<AppError>);
    let status = RwSignal::new(None::<&'static str>);
    let confirming = RwSignal::new(false);
    let field_error = move |name: &'static str| Signal::derive(move || failure.with(|f| f.as_ref()?.message_for(name)));
    let alert = Signal::derive(move || {
        failure.with(|f| {
            f.as_ref().filter(|e| e.message_for("password").is_none() && e.message_for("code").is_none()).map(sentence)
        })
    });
    let go = move |next: TwoFactor| {
        failure.set(None);
        status.set(None);
        password.set(String::new());
        code.set(String::new());
        stage.set(next);
    };
    // Marks the account in this tab as it is now (on or off).
    let mark = move |enabled: bool| {
        if let Some(mut user) = session.user_untracked() {
            user.mfa_enabled = enabled;
            session.updated(user);
        }
    };
    // Runs one call of this section, with the pending flag and the failure set.
    let run = move |call: std::pin::Pin<Box<dyn std::future::Future<Output = Result<TwoFactor, AppError>>>>,
                    after: Option<(bool, &'static str)>| {
        pending.set(true);
        failure.set(None);
        leptos::task::spawn_local(async move {
            match call.await {
                Ok(next) => {
                    password.set(String::new());
                    code.set(String::new());
                    if let Some((enabled, said)) = after {
                        mark(enabled);
                        status.set(Some(said));
                    }
                    stage.set(next);
                }
                Err(e) => {
                    // A set-up that expired or was replaced (409): back to the start, saying why.
                    if matches!(e, AppError::Conflict { .. }) {
                        stage.set(TwoFactor::Idle);
                    }
                    failure.set(Some(e));
                }
            }
            pending.set(false);
        });
    };
    let submit_password = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let p = password.get_untracked();
        run(Box::pin(async move { authed(session, || start_totp(p.clone())).await.map(TwoFactor::Scan) }), None);
    };
    let submit_first_code = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let c = code.get_untracked();
        let call = async move {
            authed(session, || confirm_totp(c.clone())).await.map(|r| TwoFactor::Codes(r.recovery_codes))
        };
        run(Box::pin(call), Some((true, "Two-factor authentication turned on.")));
    };
    let submit_renew = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let c = code.get_untracked();
        let call = async move {
            authed(session, || new_recovery_codes(c.clone())).await.map(|r| TwoFactor::Codes(r.recovery_codes))
        };
        run(Box::pin(call), None);
    };
    let submit_turn_off = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        let mut missing = crate::error::FieldErrors::new();
        if password.get_untracked().is_empty() {
            missing.insert("password".into(), "Enter your password".into());
        }
        if code.get_untracked().trim().is_empty() {
            missing.insert("code".into(), "Enter a code from your app, or a recovery code".into());
        }
        if missing.is_empty() { confirming.set(true) } else { failure.set(Some(AppError::Validation(missing))) }
    };
    let turn_off = Callback::new(move |()| {
        let (p, c) = (password.get_untracked(), code.get_untracked());
        let call =
            async move { authed(session, || disable_totp(p.clone(), c.clone())).await.map(|()| TwoFactor::Idle) };
        run(Box::pin(call), Some((false, "Two-factor authentication turned off.")));
    });
    let busy = move || pending.get() || !mounted.get();
    // Each stage's controls replace the ones the person used: focus moves to the first of
    // them, not back to the page's start.
    let section = NodeRef::<leptos::html::Section>::new();
    Effect::new(move |previous: Option<()>| {
        stage.track();
        if previous.is_some() {
            focus_first_control(section);
        }
    });
    let left = LocalResource::new(move || async move {
        if on.get() && stage.with(|s| *s == TwoFactor::Idle) {
            authed(session, recovery_codes_left).await.ok()
        } else {
            None
        }
    });

    view! {
        <section class="card" aria-labelledby="two-factor-heading" node_ref=section>
            <h2 id="two-factor-heading">"Two-factor authentication"</h2>
            <p>{move || if on.get() { TWO_FACTOR_ON } else { TWO_FACTOR_OFF }}
                " With it on, signing in asks for a code from an authenticator app as well as your password."</p>
            <p role="status" class="status">{move || status.get()}</p>
            <Alert message=alert/>
            {move || match stage.get() {
                TwoFactor::Idle if on.get() => view! {
                    <p>{move || left.get().flatten().map(|n| match n {
                        1 => "You have 1 unused recovery code.".to_owned(),
                        n => format!("You have {n} unused recovery codes."),
                    })}</p>
                    <div class="actions">
                        <button type="button" class="button" disabled=busy on:click=move |_| go(TwoFactor::TurnOff)>"Turn off"</button>
                        <button type="button" class="button" disabled=busy on:click=move |_| go(TwoFactor::Renew)>"New recovery codes"</button>
                    </div>
                }.into_any(),
                TwoFactor::Idle => view! {
                    <button type="button" class="button primary" disabled=busy on:click=move |_| go(TwoFactor::AskPassword)>
                        "Set up two-factor authentication"
                    </button>
                }.into_any(),
                TwoFactor::AskPassword => view! {
                    <form method="post" on:submit=submit_password novalidate>
                        <Field id="totp-password" name="password" label="Password" kind="password"
                            autocomplete="current-password" value=password error=field_error("password")/>
                        <div class="actions">
                            <button type="submit" class="button primary" disabled=busy>"Continue"</button>
                            <button type="button" class="button" on:click=move |_| go(TwoFactor::Idle)>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
                TwoFactor::Scan(setup) => view! {
                    <p>"Scan this QR code with your authenticator app, or type the key below into it. Then enter the code it shows."</p>
                    <div class="qr" inner_html=setup.qr_svg.clone()></div>
                    <p>"Key: " <code class="secret" id="totp-secret">{group(&setup.secret)}</code></p>
                    <form method="post" on:submit=submit_first_code novalidate>
                        <Field id="totp-code" name="code" label="Authentication code" autocomplete="one-time-code"
                            inputmode="numeric" value=code error=field_error("code")/>
                        <div class="actions">
                            <button type="submit" class="button primary" disabled=busy>"Turn on"</button>
                            <button type="button" class="button" on:click=move |_| go(TwoFactor::Idle)>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
                TwoFactor::Codes(codes) => view! { <RecoveryCodeList codes=codes on_done=Callback::new(move |()| go(TwoFactor::Idle))/> }.into_any(),
                TwoFactor::TurnOff => view! {
                    <form method="post" on:submit=submit_turn_off novalidate>
                        <Field id="totp-off-password" name="password" label="Password" kind="password"
                            autocomplete="current-password" value=password error=field_error("password")/>
                        <Field id="totp-off-code" name="code" label="Authentication code" autocomplete="one-time-code"
                            hint="From your app, or one of your recovery codes" value=code error=field_error("code")/>
                        <div class="actions">
                            <button type="submit" class="button danger" disabled=busy>"Turn off"</button>
                            <button type="button" class="button" on:click=move |_| go(TwoFactor::Idle)>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
                TwoFactor::Renew => view! {
                    <form method="post" on:submit=submit_renew novalidate>
                        <p>"Your old recovery codes stop working."</p>
                        <Field id="renew-code" name="code" label="Authentication code" autocomplete="one-time-code"
                            hint="From your app, or one of your recovery codes" value=code error=field_error("code")/>
                        <div class="actions">
                            <button type="submit" class="button primary" disabled=busy>"Make new codes"</button>
                            <button type="button" class="button" on:click=move |_| go(TwoFactor::Idle)>"Cancel"</button>
                        </div>
                    </form>
                }.into_any(),
            }}
            <ConfirmDialog
                id="totp-off-dialog"
                open=confirming
                question="Turn off two-factor authentication?".to_owned()
                details="Signing in will ask only for your password.".to_owned()
                confirm="Turn off"
                on_confirm=turn_off
            />
        </section>
    }
}

/// Moves focus to the first field (else button) of `section`, once it is drawn.
fn focus_first_control(section: NodeRef<leptos::html::Section>) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast as _;
        let Some(section) = section.get_untracked() else { return };
        let control = section.query_selector("input:not([type=hidden]), button").ok().flatten();
        if let Some(control) = control.and_then(|c| c.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = control.focus();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = section;
}

/// A secret in groups of four, for reading and typing.
fn group(secret: &str) -> String {
    secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The recovery codes, shown once, with "Copy", "Download" (a `.txt`) and "I have saved
/// these codes".
#[component]
fn RecoveryCodeList(codes: Vec<String>, on_done: Callback<()>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = format!(
        "Gatehouse recovery codes\n\nEach code works once, in place of an authentication code.\n\n{}\n",
        codes.join("\n")
    );
    let download = format!("data:text/plain;charset=utf-8,{}", crate::domain::percent_encode(&text));
    view! {
        <div class="recovery-codes">
            <h3>"Your recovery codes"</h3>
            <p>"Keep these somewhere safe. Each works once if you lose your authenticator app. They are shown only now."</p>
            <ol class="codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ol>
            <div class="actions">
                <button type="button" class="button" on:click=move |_| { copy_text(&text); copied.set(true); }>"Copy"</button>
                <a class="button" href=download download="gatehouse-recovery-codes.txt">"Download"</a>
                <button type="button" class="button primary" on:click=move |_| on_done.run(())>"I have saved these codes"</button>
            </div>
            <span role="status">{move || copied.get().then_some("Copied")}</span>
        </div>
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
