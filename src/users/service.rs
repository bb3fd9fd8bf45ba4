//! Admin operations on users: every rule of listing, reading and changing users, for both
//! doors. Each takes an [`Admin`]: proof, made by the auth service on this very request,
//! that the caller is an admin right now. What ends logins or lifts a throttle is asked of
//! the auth service, which owns those records.

use super::{
    EMAIL_TAKEN, User, UserPage,
    repository::{self, ProfileOutcome, UpdateOutcome},
};
use crate::{
    audit::{
        ClientInfo, Event, EventLine, EventLines, EventPage, EventType,
        repository::{self as audit, Filter, NewEvent},
    },
    auth::{
        agents,
        service::{Admin, AuthService, CurrentUser, LAST_ADMIN},
    },
    db::Db,
    domain::{Email, FullName, Role},
    error::{AppError, FieldErrors},
};
use std::sync::Arc;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;
/// A search longer than any username or email cannot match; SQLite also refuses LIKE
/// patterns of about 50 KB ("pattern too complex").
pub const MAX_QUERY_CHARS: usize = 254;

/// A search and page of the user list, as a caller asked for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// A substring of username or email; blank means everyone.
    pub q: Option<String>,
    /// Rows per page: [`DEFAULT_PAGE_SIZE`] when absent, at most [`MAX_PAGE_SIZE`].
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl ListQuery {
    /// Reads `q`, `limit` and `offset` from query parameters (`get` looks one up). Every
    /// problem is reported at once, in the same words as [`UserService::list`]'s checks.
    pub fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let mut number = |name: &str, min: i64| match get(name).filter(|raw| !raw.is_empty()) {
            None => None,
            Some(raw) => raw.parse::<i64>().map_err(|_| errors.insert(name.into(), at_least(min))).ok(),
        };
        let (limit, offset) = (number("limit", 1), number("offset", 0));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(Self { q: get("q").map(str::to_owned), limit, offset })
    }
}

fn at_least(min: i64) -> String {
    format!("Must be a whole number of at least {min}")
}

/// A change of one's own profile; `None` leaves a field as it is, `Some("")` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub email: Option<String>,
    pub full_name: Option<String>,
}

/// Which events an admin asks for, as raw query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub user_id: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<i64>,
    pub before: Option<String>,
}

impl AuditQuery {
    /// Reads `user_id`, `type`, `limit` and `before` from query parameters.
    pub fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, AppError> {
        let text = |name: &str| get(name).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(Self { user_id: text("user_id"), kind: text("type"), limit: limit_param(&get)?, before: text("before") })
    }
}

/// The `limit` parameter: absent or empty is the default; anything but a number is 422.
pub fn limit_param<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Option<i64>, AppError> {
    match get("limit").filter(|raw| !raw.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| AppError::field("limit", at_least(1))),
    }
}

/// A page size as asked: the default when absent, at most [`MAX_PAGE_SIZE`], 422 below 1.
fn page_size(limit: Option<i64>) -> Result<i64, AppError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 1 => Err(AppError::field("limit", at_least(1))),
        Some(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

/// A change an admin asks for; `None` leaves that attribute as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub struct UserService {
    db: Db,
    auth: Arc<AuthService>,
}

impl UserService {
    pub fn new(db: Db, auth: Arc<AuthService>) -> Self {
        Self { db, auth }
    }

    /// One page of users in creation order, optionally filtered by `q`.
    pub async fn list(&self, _admin: &Admin, query: ListQuery) -> Result<UserPage, AppError> {
        self.list_for_operator(query).await
    }

    /// [`Self::list`] for the operator's command line, who holds the database itself.
    pub async fn list_for_operator(&self, query: ListQuery) -> Result<UserPage, AppError> {
        let mut errors = FieldErrors::new();
        let limit = page_size(query.limit).map_err(|_| errors.insert("limit".into(), at_least(1))).ok();
        let offset = query.offset.unwrap_or(0);
        if offset < 0 {
            errors.insert("offset".into(), at_least(0));
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
            errors.insert("q".into(), format!("Must be at most {MAX_QUERY_CHARS} characters"));
        }
        let (Some(limit), true) = (limit, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let (rows, total) = repository::list(&self.db, q, limit, offset).await?;
        Ok(UserPage { items: rows.iter().map(repository::UserRow::to_user).collect(), total, limit, offset })
    }

    pub async fn get(&self, _admin: &Admin, id: &str) -> Result<User, AppError> {
        let id = user_id(id)?;
        repository::find_by_id(&self.db, &id).await?.map(|row| row.to_user()).ok_or(AppError::NotFound)
    }

    pub async fn update(
        &self,
        admin: &Admin,
        id: &str,
        change: UserChange,
        client: &ClientInfo,
    ) -> Result<User, AppError> {
        if change == UserChange::default() {
            return Err(AppError::field("body", "Send \"role\" and/or \"disabled\""));
        }
        let id = user_id(id)?;
        let event = NewEvent::new(EventType::UserUpdated).actor(&admin.current().user.id).client(client);
        match repository::update_role_status(&self.db, &id, change.role, change.disabled, event).await? {
            UpdateOutcome::NotFound => Err(AppError::NotFound),
            UpdateOutcome::LastAdmin => Err(AppError::conflict(LAST_ADMIN)),
            UpdateOutcome::Updated(row) => {
                if change.disabled == Some(false) {
                    // Enabling is also how an admin unlocks an account that guessers locked.
                    self.auth.unlock(&row.username).await?;
                }
                tracing::info!(
                    admin_id = %admin.current().user.id, user_id = %row.id,
                    role = %row.role, disabled = row.disabled, "user changed by admin"
                );
                Ok(row.to_user())
            }
        }
    }
}

impl UserService {
    /// Changes the caller's email and/or full name (an empty value clears it).
    pub async fn update_profile(
        &self,
        caller: &CurrentUser,
        change: ProfileChange,
        client: &ClientInfo,
    ) -> Result<User, AppError> {
        if change == ProfileChange::default() {
            return Err(AppError::field("body", "Send \"email\" and/or \"full_name\""));
        }
        let mut errors = FieldErrors::new();
        let email = change
            .email
            .as_deref()
            .map(|raw| Email::parse_optional(raw).map_err(|e| errors.insert("email".into(), e.into())).ok().flatten());
        let full_name = change.full_name.as_deref().map(|raw| {
            FullName::parse_optional(raw).map_err(|e| errors.insert("full_name".into(), e.into())).ok().flatten()
        });
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let id = &caller.user.id;
        let event = NewEvent::new(EventType::ProfileUpdated).actor(id).client(client);
        let email = email.as_ref().map(|e| e.as_ref().map(Email::as_str));
        let full_name = full_name.as_ref().map(|n| n.as_ref().map(FullName::as_str));
        match repository::update_profile(&self.db, id, email, full_name, event).await? {
            ProfileOutcome::Updated(row) => Ok(row.to_user()),
            ProfileOutcome::EmailTaken => Err(AppError::taken("email", EMAIL_TAKEN)),
            ProfileOutcome::NotFound => Err(AppError::InvalidToken),
        }
    }

    /// The caller's own security events, newest first.
    pub async fn own_events(&self, caller: &CurrentUser, limit: Option<i64>) -> Result<Vec<Event>, AppError> {
        let filter = Filter { user_id: Some(caller.user.id.clone()), ..Filter::default() };
        Ok(audit::list(&self.db, &filter, page_size(limit)?).await?)
    }

    /// A page of the audit log, newest first.
    pub async fn audit(&self, _admin: &Admin, query: AuditQuery) -> Result<EventPage, AppError> {
        let mut errors = FieldErrors::new();
        let limit = page_size(query.limit).map_err(|_| errors.insert("limit".into(), at_least(1))).ok();
        let kind = query.kind.as_deref().and_then(|raw| {
            EventType::parse(raw).or_else(|| {
                errors.insert("type".into(), "Not an event type".into());
                None
            })
        });
        let user_id = query.user_id.as_deref().and_then(|raw| {
            Uuid::parse_str(raw)
                .map(|id| id.to_string())
                .map_err(|_| errors.insert("user_id".into(), "Not a user id".into()))
                .ok()
        });
        let before = match query.before.as_deref() {
            Some(raw) => {
                let position = audit::position(&self.db, raw).await?;
                if position.is_none() {
                    errors.insert("before".into(), "Not an event id".into());
                }
                position
            }
            None => None,
        };
        let (Some(limit), true) = (limit, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        // One more than the page, to know whether older events exist.
        let mut items = audit::list(&self.db, &Filter { user_id, kind, before }, limit + 1).await?;
        let next_before = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(EventPage { items, next_before })
    }
}

impl UserService {
    /// The caller's last `limit` events, in plain words.
    pub async fn own_history(&self, caller: &CurrentUser, limit: i64) -> Result<Vec<EventLine>, AppError> {
        let events = self.own_events(caller, Some(limit)).await?;
        self.lines(events).await
    }

    /// A page of the audit log in plain words, for the admin pages.
    pub async fn audit_lines(&self, admin: &Admin, query: AuditQuery) -> Result<EventLines, AppError> {
        let page = self.audit(admin, query).await?;
        Ok(EventLines { items: self.lines(page.items).await?, next_before: page.next_before })
    }

    /// The id of the account named `username` (ignoring case), for the audit page's filter.
    pub async fn id_of(&self, _admin: &Admin, username: &str) -> Result<Option<String>, AppError> {
        Ok(repository::find_by_username(&self.db, username).await?.map(|row| row.id))
    }

    async fn lines(&self, events: Vec<Event>) -> Result<Vec<EventLine>, AppError> {
        let mut ids: Vec<&str> =
            events.iter().flat_map(|e| [e.user_id.as_deref(), e.actor_id.as_deref()]).flatten().collect();
        ids.sort_unstable();
        ids.dedup();
        let names = repository::usernames(&self.db, &ids).await?;
        let name = |id: &Option<String>, event: &Event| {
            id.as_ref().and_then(|id| names.get(id).cloned()).or_else(|| {
                // A deleted account's name, as recorded at its deletion.
                (event.kind == EventType::UserDeleted && id == &event.user_id)
                    .then(|| event.detail["username"].as_str().map(str::to_owned))
                    .flatten()
            })
        };
        Ok(events
            .iter()
            .map(|event| EventLine {
                id: event.id.clone(),
                at: event.at.clone(),
                kind: event.kind,
                text: in_words(event),
                user_id: event.user_id.clone(),
                username: name(&event.user_id, event),
                actor_id: event.actor_id.clone(),
                actor_name: name(&event.actor_id, event),
                ip: event.ip.clone(),
            })
            .collect())
    }
}

/// An event in plain words: what happened, and from where and with what when it says.
fn in_words(event: &Event) -> String {
    let detail = |key: &str| event.detail.get(key).and_then(|v| v.as_str());
    let mut text = match (event.kind, detail("reason")) {
        (EventType::LoginFailed, Some("disabled")) => "Sign-in refused: the account is disabled".to_owned(),
        (EventType::LoginFailed, Some("confirmation")) => "Wrong password given to confirm a change".to_owned(),
        (EventType::LoginFailed, _) => "Failed sign-in: wrong password".to_owned(),
        (EventType::MfaDisabled, _) if detail("by") == Some("admin") => {
            "Two-factor authentication removed by an admin".to_owned()
        }
        (EventType::MfaDisabled, _) if detail("by") == Some("operator") => {
            "Two-factor authentication removed by the operator".to_owned()
        }
        (kind, _) => kind.label().to_owned(),
    };
    if event.kind == EventType::UserUpdated || event.kind == EventType::ProfileUpdated {
        let changes: Vec<String> = event
            .detail
            .get("after")
            .and_then(|after| after.as_object())
            .map(|after| {
                after
                    .iter()
                    .map(|(field, value)| {
                        let shown = match value {
                            serde_json::Value::Null => "none".to_owned(),
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        format!("{} → {shown}", field.replace('_', " "))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !changes.is_empty() {
            text = format!("{text}: {}", changes.join(", "));
        }
    }
    if let Some(ip) = &event.ip {
        text = format!("{text} from {ip}");
    }
    if let Some(device) = event.user_agent.as_deref().and_then(agents::describe) {
        text = format!("{text}, {device}");
    }
    text
}

/// Ids that are not UUIDs name no user: 404, like any other unknown id.
fn user_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn query_parameters_become_a_list_query_or_one_error_naming_every_bad_number() {
        let query = ListQuery::from_params(params(&[("q", " al "), ("limit", "10"), ("offset", "")])).unwrap();
        assert_eq!(query, ListQuery { q: Some(" al ".into()), limit: Some(10), offset: None });
        let Err(AppError::Validation(fields)) = ListQuery::from_params(params(&[("limit", "x"), ("offset", "1.5")]))
        else {
            panic!("expected a validation error");
        };
        assert_eq!(fields["limit"], at_least(1));
        assert_eq!(fields["offset"], at_least(0));
    }
}
