//! The browser's door: Leptos server functions under `/fn/`, thin conversions onto the same
//! services the JSON API calls. Each is a public HTTP endpoint and checks its caller itself.

pub mod account;
pub mod auth;
pub mod client;
#[cfg(feature = "ssr")]
pub mod context;
pub mod users;
