//! The user as clients see it, and (server only) where users are stored.

#[cfg(feature = "ssr")]
pub mod repository;
#[cfg(feature = "ssr")]
pub mod service;

use crate::domain::Role;

/// The 409 sentences of a registration that collides with an existing account.
pub const USERNAME_TAKEN: &str = "That username is already taken";
pub const EMAIL_TAKEN: &str = "That email address is already in use";
use serde::{Deserialize, Serialize};

/// The wire form of a user. It has no password, hash or token field, by construction:
/// the stored row (`repository::UserRow`) is a different type and is never serialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Role,
    pub disabled: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// One page of the admin user list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub items: Vec<User>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}
