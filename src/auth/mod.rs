//! Authentication: password hashing, tokens, logins, and the service both doors (the JSON
//! API and the server functions) call. Server only, except the types the pages share.

#[cfg(feature = "ssr")]
pub mod common_passwords;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod sessions;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod tokens;
#[cfg(feature = "ssr")]
pub mod web;

pub mod functions;
