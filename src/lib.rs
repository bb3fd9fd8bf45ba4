//! Gatehouse: accounts and JWT authentication, as a Leptos web app and a JSON API.

pub mod app;
pub mod audit;
pub mod browser;
pub mod components;
pub mod domain;
pub mod error;
pub mod fns;
pub mod pages;
pub mod users;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod prometheus;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod telemetry;

/// The browser entry point: hydrate the server-rendered page. Every page but the home page
/// is a WASM chunk of its own (`cargo leptos build --split`), so hydration is asynchronous:
/// it finishes once the current page's chunk has arrived.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let Some(body) = leptos::prelude::document().body() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body, app::App).await.forget();
        // A marker for the browser tests: from here on, the page is interactive.
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &"__gatehouseHydrated".into(), &true.into());
        }
    });
}
