//! The audit log as clients see it: security events, their types, and a page of them; and
//! (server only) where events are stored. Events are written by the services, each in the
//! same transaction as the change it records.

#[cfg(feature = "ssr")]
pub mod repository;

use serde::{Deserialize, Serialize};

/// What happened. The wire names are the contract's (`shared/spec/http-api.md`, part 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum EventType {
    #[serde(rename = "user.registered")]
    UserRegistered,
    #[serde(rename = "login.succeeded")]
    LoginSucceeded,
    #[serde(rename = "login.failed")]
    LoginFailed,
    #[serde(rename = "login.throttled")]
    LoginThrottled,
    #[serde(rename = "refresh.replayed")]
    RefreshReplayed,
    #[serde(rename = "logout")]
    Logout,
    #[serde(rename = "sign_out_everywhere")]
    SignOutEverywhere,
    #[serde(rename = "login.ended")]
    LoginEnded,
    #[serde(rename = "password.changed")]
    PasswordChanged,
    #[serde(rename = "password.reset_link_created")]
    PasswordResetLinkCreated,
    #[serde(rename = "password.reset")]
    PasswordReset,
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "mfa.enabled")]
    MfaEnabled,
    #[serde(rename = "mfa.disabled")]
    MfaDisabled,
    #[serde(rename = "mfa.failed")]
    MfaFailed,
    #[serde(rename = "recovery_code.used")]
    RecoveryCodeUsed,
    #[serde(rename = "recovery_codes.replaced")]
    RecoveryCodesReplaced,
    #[serde(rename = "key.rotated")]
    KeyRotated,
}

impl EventType {
    /// Every type, in the order the audit page's filter lists them.
    pub const ALL: [EventType; 20] = [
        EventType::UserRegistered,
        EventType::LoginSucceeded,
        EventType::LoginFailed,
        EventType::LoginThrottled,
        EventType::RefreshReplayed,
        EventType::Logout,
        EventType::SignOutEverywhere,
        EventType::LoginEnded,
        EventType::PasswordChanged,
        EventType::PasswordResetLinkCreated,
        EventType::PasswordReset,
        EventType::ProfileUpdated,
        EventType::UserUpdated,
        EventType::UserDeleted,
        EventType::MfaEnabled,
        EventType::MfaDisabled,
        EventType::MfaFailed,
        EventType::RecoveryCodeUsed,
        EventType::RecoveryCodesReplaced,
        EventType::KeyRotated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserRegistered => "user.registered",
            EventType::LoginSucceeded => "login.succeeded",
            EventType::LoginFailed => "login.failed",
            EventType::LoginThrottled => "login.throttled",
            EventType::RefreshReplayed => "refresh.replayed",
            EventType::Logout => "logout",
            EventType::SignOutEverywhere => "sign_out_everywhere",
            EventType::LoginEnded => "login.ended",
            EventType::PasswordChanged => "password.changed",
            EventType::PasswordResetLinkCreated => "password.reset_link_created",
            EventType::PasswordReset => "password.reset",
            EventType::ProfileUpdated => "profile.updated",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeleted => "user.deleted",
            EventType::MfaEnabled => "mfa.enabled",
            EventType::MfaDisabled => "mfa.disabled",
            EventType::MfaFailed => "mfa.failed",
            EventType::RecoveryCodeUsed => "recovery_code.used",
            EventType::RecoveryCodesReplaced => "recovery_codes.replaced",
            EventType::KeyRotated => "key.rotated",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The event in plain words, as a person reads it in a list.
    pub fn label(self) -> &'static str {
        match self {
            EventType::UserRegistered => "Account created",
            EventType::LoginSucceeded => "Signed in",
            EventType::LoginFailed => "Failed sign-in",
            EventType::LoginThrottled => "Sign-in blocked after repeated failures",
            EventType::RefreshReplayed => "A stolen or reused session was stopped",
            EventType::Logout => "Signed out",
            EventType::SignOutEverywhere => "Signed out everywhere",
            EventType::LoginEnded => "Signed out a device",
            EventType::PasswordChanged => "Password changed",
            EventType::PasswordResetLinkCreated => "Password reset link created",
            EventType::PasswordReset => "Password reset with a link",
            EventType::ProfileUpdated => "Profile updated",
            EventType::UserUpdated => "Account changed by an admin",
            EventType::UserDeleted => "Account deleted",
            EventType::MfaEnabled => "Two-factor authentication turned on",
            EventType::MfaDisabled => "Two-factor authentication turned off",
            EventType::MfaFailed => "Wrong authentication code",
            EventType::RecoveryCodeUsed => "Recovery code used",
            EventType::RecoveryCodesReplaced => "New recovery codes made",
            EventType::KeyRotated => "Signing key rotated",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One security event. `user_id` is whom it is about, `actor_id` who caused it (`None`
/// when nobody authenticated did). `detail` never holds a password, token, hash or code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: String,
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub user_id: Option<String>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// A page of the audit log, newest first; `next_before` continues it (`None`: no older).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub items: Vec<Event>,
    pub next_before: Option<String>,
}

/// A person's own events, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventList {
    pub items: Vec<Event>,
}

/// An event as the pages show it: in plain words, with the usernames of whom it is about and
/// who caused it (as they are now; a deleted account's as it was at deletion).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub id: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub kind: EventType,
    /// "Signed in from 127.0.0.1, Chrome on Linux".
    pub text: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub ip: Option<String>,
}

/// A page of [`EventLine`]s, newest first; `next_before` continues it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLines {
    pub items: Vec<EventLine>,
    pub next_before: Option<String>,
}

/// Who made a request: its address (as throttling sees it) and its `User-Agent`, cut to
/// [`MAX_USER_AGENT_CHARS`]. Recorded on the logins it starts and the events it causes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: std::net::IpAddr,
    pub user_agent: Option<String>,
}

pub const MAX_USER_AGENT_CHARS: usize = 256;

impl ClientInfo {
    pub fn new(ip: std::net::IpAddr, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect::<String>())
            .filter(|ua| !ua.trim().is_empty());
        Self { ip, user_agent }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_reads_back_from_its_wire_name() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(EventType::parse("login"), None);
    }

    #[test]
    fn user_agents_are_cut_and_cleaned() {
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let long = "x".repeat(300);
        assert_eq!(ClientInfo::new(ip, Some(&long)).user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
        assert_eq!(ClientInfo::new(ip, Some("a\nb")).user_agent.as_deref(), Some("ab"));
        assert_eq!(ClientInfo::new(ip, Some("  ")).user_agent, None);
    }
}
