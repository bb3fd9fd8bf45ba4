//! The HTML shell and the router table: the map of every page.

use crate::{
    browser::{DISABLED_NOTICE, Session},
    components::nav::NavBar,
    error::AppError,
    fns::{auth::viewer, client::SIGNED_OUT_KEY},
    pages::{
        admin_audit::AdminAuditPage, admin_user::AdminUserPage, admin_users::AdminUsersPage, home::HomePage,
        login::LoginPage, me::MePage, not_found::NotFound, reset_password::ResetPasswordPage, security::SecurityPage,
        signup::SignupPage,
    },
    users::User,
};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    Lazy, LazyRoute, ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
    lazy_route,
};

/// The document around every page, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The CSP names this response's nonce, which Leptos puts on its own inline scripts.
    #[cfg(feature = "ssr")]
    crate::http::security::set_page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.ico"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session = Session::provide();
    // Who is looking, from the refresh cookie, resolved before the page is sent: no
    // signed-out flash on first paint or reload.
    provide_context(Viewer(Resource::new_blocking(|| (), |()| viewer())));
    // Logging out in one tab signs out every other open tab.
    Effect::new(move || {
        let handle = window_event_listener(leptos::ev::storage, move |event| {
            if event.key().as_deref() == Some(SIGNED_OUT_KEY) {
                session.signed_out(None, false);
            }
        });
        on_cleanup(move || handle.remove());
    });

    // The route table stays at the top level (not inside a Suspense), so that the server
    // registers every path.
    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Title formatter=|page: String| format!("{page} · Gatehouse")/>
        <Router>
            <SessionReady><NavBar/></SessionReady>
            <main id="main">
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=|| view! { <SessionReady><HomePage/></SessionReady> } ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signup") view={Lazy::<SignupRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("me") view={Lazy::<MeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("me"), StaticSegment("security")) view={Lazy::<SecurityRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("reset-password") view={Lazy::<ResetPasswordRoute>::new()} ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("users"))
                        view={Lazy::<AdminUsersRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("users"), ParamSegment("id"))
                        view={Lazy::<AdminUserRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("audit"))
                        view={Lazy::<AdminAuditRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The server's answer to "who is looking", shared by every [`SessionReady`].
#[derive(Clone, Copy)]
struct Viewer(Resource<Result<Option<User>, AppError>>);

/// Renders its children once the server has said who is looking, seeding the session with
/// that answer the first time only (later answers would be stale: the person may have signed
/// in or out since).
#[component]
fn SessionReady(children: ChildrenFn) -> impl IntoView {
    let Viewer(viewer) = expect_context::<Viewer>();
    let session = Session::get();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let seen = viewer.await;
                let notice = matches!(seen, Err(AppError::AccountDisabled)).then_some(DISABLED_NOTICE);
                session.seed_once(seen.ok().flatten(), notice);
                children.with_value(|children| children())
            })}
        </Suspense>
    }
}

// Every page but the home page is its own WASM chunk (`cargo leptos build --split`), loaded
// when the page is first shown: the bundle every visitor downloads holds the router, the
// session and the home page only. The impls are written out on purpose: generated by
// one `macro_rules!`, `#[lazy_route]` gave every chunk the same hash suffix and one page load
// in twelve never finished hydrating in the end-to-end screenshots test.

struct LoginRoute;

#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><LoginPage/></SessionReady> }.into_any()
    }
}

struct SignupRoute;

#[lazy_route]
impl LazyRoute for SignupRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><SignupPage/></SessionReady> }.into_any()
    }
}

struct MeRoute;

#[lazy_route]
impl LazyRoute for MeRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><MePage/></SessionReady> }.into_any()
    }
}

struct AdminUsersRoute;

#[lazy_route]
impl LazyRoute for AdminUsersRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><AdminUsersPage/></SessionReady> }.into_any()
    }
}

struct SecurityRoute;

#[lazy_route]
impl LazyRoute for SecurityRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><SecurityPage/></SessionReady> }.into_any()
    }
}

struct ResetPasswordRoute;

#[lazy_route]
impl LazyRoute for ResetPasswordRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><ResetPasswordPage/></SessionReady> }.into_any()
    }
}

struct AdminUserRoute;

#[lazy_route]
impl LazyRoute for AdminUserRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><AdminUserPage/></SessionReady> }.into_any()
    }
}

struct AdminAuditRoute;

#[lazy_route]
impl LazyRoute for AdminAuditRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionReady><AdminAuditPage/></SessionReady> }.into_any()
    }
}
