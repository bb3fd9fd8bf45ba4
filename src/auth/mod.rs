//! Authentication (server only): password hashing, tokens, logins and their refresh tokens,
//! throttling, and the service both doors (the JSON API and the server functions) call.

pub mod agents;
pub mod cache;
pub mod common_passwords;
pub mod keys;
pub mod logins;
pub mod mfa;
pub mod password;
pub mod resets;
pub mod service;
pub mod throttle;
pub mod tokens;
pub mod totp;
