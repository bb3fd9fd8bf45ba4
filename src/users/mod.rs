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
    /// Whether the account has a second factor (TOTP) on.
    #[serde(default)]
    pub mfa_enabled: bool,
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

/// One live login (a signed-in browser or client), as its owner or an admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginSession {
    pub id: String,
    /// RFC 3339, UTC: when the password login started it.
    pub created_at: String,
    /// RFC 3339, UTC: its last password or refresh grant.
    pub last_used_at: String,
    /// The `User-Agent` it was started with, cut to 256 characters.
    pub user_agent: Option<String>,
    /// The user agent in words ("Chrome on Linux"), when it can be read.
    pub device: Option<String>,
    /// The client address it was started from.
    pub ip: Option<String>,
    /// Whether it is the caller's own login (absent in an admin's view of someone's logins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
}

/// The caller's or a user's live logins, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginList {
    pub items: Vec<LoginSession>,
}

/// A single-use password reset link, for an admin to hand to the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResetLink {
    /// `<public origin>/reset-password#token=<token>`: the token is in the fragment, which
    /// browsers never send to a server or in a `Referer`.
    pub reset_url: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// A second factor being set up: the secret for the person's authenticator app, as text,
/// as an `otpauth://` URL and as a QR code (inline SVG). It works once confirmed with a code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TotpSetup {
    /// RFC 4648 base32, no padding (SHA-1, 6 digits, 30 s).
    pub secret: String,
    pub otpauth_url: String,
    /// An `<svg>` element with `role="img"` and a text alternative.
    pub qr_svg: String,
}

/// Recovery codes, shown this once: each works once in place of an authentication code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

// Neither the secret nor a code ever reaches a log through `Debug`.
impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSetup").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodes").field("count", &self.recovery_codes.len()).finish_non_exhaustive()
    }
}

/// What a wrong, spent or unknown authentication or recovery code is told (one sentence for
/// all).
pub const WRONG_CODE: &str = "That code didn't work";
/// Why a second factor cannot be set up again.
pub const MFA_ALREADY_ON: &str = "Two-factor authentication is already on";
/// Why there is nothing to turn off, replace or remove.
pub const MFA_NOT_ON: &str = "Two-factor authentication is not on";
