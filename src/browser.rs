//! The signed-in state in the browser, and how protected server functions are called.
//!
//! The access token lives in `localStorage` (gloo-storage) and goes out as
//! `Authorization: Bearer` through `fns::client::AuthClient`. The refresh token never reaches this
//! code: it is an `HttpOnly` cookie the `refresh` and `logout` server functions use.

use crate::{
    domain::is_field_message,
    error::AppError,
    fns::{
        auth::{SignedIn, refresh},
        client::storage,
    },
    users::{EMAIL_TAKEN, USERNAME_TAKEN, User},
};
use leptos::prelude::*;
use std::future::Future;

/// Shown on the login page when a session ended because the account was disabled.
pub const DISABLED_NOTICE: &str = "Your account has been disabled";

/// Who is signed in, for every component. Provided once by `App`.
#[derive(Clone, Copy)]
pub struct Session {
    user: RwSignal<Option<User>>,
    notice: RwSignal<Option<&'static str>>,
    seeded: StoredValue<bool>,
}

impl Session {
    pub fn provide() -> Self {
        let session = Self { user: RwSignal::new(None), notice: RwSignal::new(None), seeded: StoredValue::new(false) };
        provide_context(session);
        session
    }

    pub fn get() -> Self {
        expect_context::<Self>()
    }

    pub fn user(&self) -> Option<User> {
        self.user.get()
    }

    /// The person, without subscribing to changes.
    pub fn user_untracked(&self) -> Option<User> {
        self.user.get_untracked()
    }

    pub fn is_admin(&self) -> bool {
        self.user.with(|u| u.as_ref().is_some_and(|u| u.role == crate::domain::Role::Admin))
    }

    /// What the server knew while rendering (from the refresh cookie): who is looking, or why
    /// nobody is (a disabled account); only the first answer counts.
    pub fn seed_once(&self, user: Option<User>, notice: Option<&'static str>) {
        if !self.seeded.get_value() {
            self.seeded.set_value(true);
            self.user.set(user);
            self.notice.set(notice);
        }
    }

    /// The person's account changed (their own edit): the page shows it as it is now.
    pub fn updated(&self, user: User) {
        self.user.set(Some(user));
    }

    pub fn signed_in(&self, info: SignedIn) {
        storage::store(&info.access_token);
        self.notice.set(None);
        self.user.set(Some(info.user));
    }

    /// Forgets the session in this tab; `broadcast` tells the other tabs as well.
    pub fn signed_out(&self, notice: Option<&'static str>, broadcast: bool) {
        storage::clear(broadcast);
        self.notice.set(notice);
        self.user.set(None);
    }

    /// Why the person was signed out, once.
    pub fn notice(&self) -> Option<&'static str> {
        self.notice.get()
    }
}

/// The error a plain form post (no JavaScript) of server function `path` came back with: the
/// server redirects to the form's page with it in the query (`__path`, `__err`). Anyone can
/// write such a link, so only words the server itself says survive ([`only_server_words`]).
pub fn form_error_from_url(path: &str) -> Option<AppError> {
    let query = leptos_router::hooks::use_query_map();
    let query = query.read_untracked();
    (query.get("__path").as_deref() == Some(path))
        .then(|| query.get("__err"))
        .flatten()
        .map(|err| only_server_words(leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(&err)))
}

/// An error read from a URL, reduced to what the server can say: a field message is kept
/// only when that field's parser gives it, a 409 only with its own sentence, and other free
/// text becomes fixed words. A crafted link cannot put a phishing line on the page.
pub fn only_server_words(error: AppError) -> AppError {
    match error {
        AppError::Validation(fields) => AppError::Validation(
            fields.into_iter().filter(|(field, message)| is_field_message(field, message)).collect(),
        ),
        AppError::Conflict { field, message } if [USERNAME_TAKEN, EMAIL_TAKEN].contains(&message.as_str()) => {
            AppError::Conflict { field, message }
        }
        AppError::Conflict { .. }
        | AppError::BadRequest(_)
        | AppError::Forbidden(_)
        | AppError::UnsupportedMediaType(_) => AppError::bad_request("The request could not be understood"),
        known_words => known_words,
    }
}

/// Puts `text` on the clipboard (where the browser allows it; nothing on the server).
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast as _;
        let clipboard = web_sys::window()
            .map(|w| w.navigator())
            .and_then(|n| js_sys::Reflect::get(&n, &"clipboard".into()).ok())
            .filter(|c| !c.is_undefined());
        if let Some(clipboard) = clipboard
            && let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into())
            && let Ok(write) = write.dyn_into::<js_sys::Function>()
        {
            let _ = write.call1(&clipboard, &text.into());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Calls a protected server function with the stored access token. Without a token, or when
/// the call answers that the token is no longer good, it refreshes once from the cookie and
/// tries again; when that fails the session ends here (and the page shows `/login`).
pub async fn authed<T, F, Fut>(session: Session, call: F) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    if storage::load().is_none() {
        renew(session, None).await?;
    }
    let sent_with = storage::load();
    let result = match call().await {
        Err(AppError::InvalidToken | AppError::Unauthenticated) => {
            renew(session, sent_with).await?;
            call().await
        }
        other => other,
    };
    match result {
        Err(AppError::AccountDisabled) => {
            session.signed_out(Some(DISABLED_NOTICE), true);
            Err(AppError::AccountDisabled)
        }
        Err(AppError::InvalidToken | AppError::Unauthenticated) => {
            session.signed_out(None, true);
            Err(AppError::InvalidToken)
        }
        other => other,
    }
}

/// What a renewal did: refreshed (with the new session), or found that another tab had
/// already stored a fresh access token.
#[derive(Clone)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // only browsers have other tabs
enum Renewed {
    Refreshed(SignedIn),
    ByAnotherTab,
}

type Renewal = futures::future::Shared<futures::future::LocalBoxFuture<'static, Result<Renewed, AppError>>>;

thread_local! {
    /// The renewal under way in this tab, if any: calls that find their token expired at the
    /// same moment share it.
    static RENEWAL: std::cell::RefCell<Option<Renewal>> = const { std::cell::RefCell::new(None) };
}

/// Gets a fresh access token. A refresh token works once, so refreshes are serialised: in
/// this tab by sharing one renewal, across tabs by a Web Lock, inside which a tab first
/// looks whether another one has stored a token newer than the one that failed.
async fn renew(session: Session, failed_token: Option<String>) -> Result<(), AppError> {
    use futures::FutureExt as _;
    let renewal = RENEWAL.with(|slot| {
        slot.borrow_mut().get_or_insert_with(|| cross_tab::refresh_once(failed_token).boxed_local().shared()).clone()
    });
    let outcome = renewal.await;
    RENEWAL.with(|slot| slot.borrow_mut().take());
    match outcome {
        Ok(Renewed::Refreshed(info)) => {
            session.signed_in(info);
            Ok(())
        }
        Ok(Renewed::ByAnotherTab) => Ok(()),
        // An outage (or a busy moment) says nothing about the session: it stays, and so does
        // the cookie (the server removes it only when its token can never work again).
        Err(e @ (AppError::Unavailable | AppError::Internal | AppError::TooManyRequests { .. })) => Err(e),
        Err(AppError::AccountDisabled) => {
            session.signed_out(Some(DISABLED_NOTICE), true);
            Err(AppError::AccountDisabled)
        }
        Err(_) => {
            session.signed_out(None, true);
            Err(AppError::InvalidToken)
        }
    }
}

/// Runs the refresh under the `gatehouse-refresh` Web Lock, which every tab of this origin
/// shares (`navigator.locks`; where a browser lacks it, the refresh runs unlocked).
#[cfg(feature = "hydrate")]
mod cross_tab {
    use super::{Renewed, refresh, storage};
    use crate::error::AppError;
    use std::{cell::RefCell, rc::Rc};
    use wasm_bindgen::{JsValue, prelude::*};

    #[wasm_bindgen(inline_js = "export function gatehouse_with_lock(name, task) { \
        return navigator.locks ? navigator.locks.request(name, () => task()) : task(); }")]
    extern "C" {
        fn gatehouse_with_lock(name: &str, task: &Closure<dyn FnMut() -> js_sys::Promise>) -> js_sys::Promise;
    }

    pub async fn refresh_once(failed_token: Option<String>) -> Result<Renewed, AppError> {
        let outcome: Rc<RefCell<Option<Result<Renewed, AppError>>>> = Rc::new(RefCell::new(None));
        let slot = Rc::clone(&outcome);
        let task = Closure::once(move || {
            wasm_bindgen_futures::future_to_promise(async move {
                let stored = storage::load();
                let result = if stored.is_some() && stored != failed_token {
                    Ok(Renewed::ByAnotherTab)
                } else {
                    refresh().await.map(|info| {
                        // Stored before the lock is released, so a waiting tab finds it.
                        storage::store(&info.access_token);
                        Renewed::Refreshed(info)
                    })
                };
                *slot.borrow_mut() = Some(result);
                Ok(JsValue::UNDEFINED)
            })
        });
        let _ = wasm_bindgen_futures::JsFuture::from(gatehouse_with_lock("gatehouse-refresh", &task)).await;
        drop(task);
        outcome.take().unwrap_or(Err(AppError::Unavailable))
    }
}

/// On the server nothing is refreshed this way (it never holds access tokens).
#[cfg(not(feature = "hydrate"))]
mod cross_tab {
    use super::{Renewed, refresh};
    use crate::error::AppError;

    pub async fn refresh_once(_failed_token: Option<String>) -> Result<Renewed, AppError> {
        refresh().await.map(Renewed::Refreshed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn words_a_url_puts_in_an_error_survive_only_when_the_server_says_them() {
        let crafted = AppError::Validation(BTreeMap::from([
            ("username".into(), "Your account is suspended: call 555-0100".into()),
            ("password".into(), "Password must be at least 8 characters".into()),
        ]));
        let Some(fields) = only_server_words(crafted).fields().cloned() else { panic!("still a validation error") };
        assert_eq!(fields.len(), 1);
        assert_eq!(fields["password"], "Password must be at least 8 characters");
        assert_eq!(only_server_words(AppError::taken("email", EMAIL_TAKEN)), AppError::taken("email", EMAIL_TAKEN));
        let phishing = only_server_words(AppError::taken("username", "Visit evil.example to unlock"));
        assert!(!phishing.to_string().contains("evil"), "{phishing}");
        assert!(!only_server_words(AppError::Forbidden("Visit evil.example".into())).to_string().contains("evil"));
        assert_eq!(only_server_words(AppError::InvalidGrant), AppError::InvalidGrant);
    }
}
