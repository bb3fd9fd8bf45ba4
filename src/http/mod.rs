//! HTTP plumbing under every route: body limit, cache rules, the status of server-function
//! errors, security headers, the request span, and the small parsers both doors share
//! (bearer credentials, the refresh cookie, the same-origin rule, the client's address).
//! It imports nothing of Gatehouse but `error`: every layer above may use it.

pub mod bearer;
pub mod body;
pub mod client_address;
pub mod cookie;
pub mod cors;
pub mod origin;
pub mod owner;
pub mod private;
pub mod security;
pub mod trace;
