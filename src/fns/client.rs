//! How protected server functions are called from the browser: with the access token kept
//! in `localStorage` (gloo-storage), sent as `Authorization: Bearer`.

use leptos::server_fn::{
    client::{Client, browser::BrowserClient},
    error::FromServerFnError,
    request::browser::BrowserRequest,
    response::browser::BrowserResponse,
};
use std::future::Future;

/// `localStorage` key of the access token.
pub const ACCESS_TOKEN_KEY: &str = "gatehouse.access_token";
/// `localStorage` key written on logout, so every other open tab signs out too.
pub const SIGNED_OUT_KEY: &str = "gatehouse.signed_out";

/// The server function client of protected calls: the browser's `fetch`, plus the bearer
/// access token from `localStorage`.
pub struct AuthClient;

impl<E, IS, OS> Client<E, IS, OS> for AuthClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = storage::load() {
            req.headers().set("Authorization", &format!("Bearer {token}"));
        }
        <BrowserClient as Client<E, IS, OS>>::send(req)
    }

    #[allow(refining_impl_trait)]
    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<bytes::Bytes, bytes::Bytes>> + Send + 'static,
                impl futures::Sink<bytes::Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}

/// `localStorage` in the browser; nothing on the server, which never holds access tokens.
#[cfg(feature = "hydrate")]
pub mod storage {
    use super::{ACCESS_TOKEN_KEY, SIGNED_OUT_KEY};
    use gloo_storage::{LocalStorage, Storage as _};

    pub fn load() -> Option<String> {
        LocalStorage::get::<String>(ACCESS_TOKEN_KEY).ok()
    }

    pub fn store(token: &str) {
        let _ = LocalStorage::set(ACCESS_TOKEN_KEY, token);
    }

    pub fn clear(broadcast: bool) {
        LocalStorage::delete(ACCESS_TOKEN_KEY);
        if broadcast {
            // A new value each time, so the `storage` event fires in every other tab.
            let _ = LocalStorage::set(SIGNED_OUT_KEY, js_sys::Date::now());
        }
    }
}

#[cfg(not(feature = "hydrate"))]
pub mod storage {
    pub fn load() -> Option<String> {
        None
    }

    pub fn store(_token: &str) {}

    pub fn clear(_broadcast: bool) {}
}
