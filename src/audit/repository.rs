//! Events in SQL. An event is written with [`record!`] inside the transaction of the change
//! it records: a rolled-back change leaves no event, and no change commits without one.

use super::{ClientInfo, Event, EventType};
use crate::db::{Db, now_micros, rfc3339, with_pool};
use serde_json::{Map, Value};
use uuid::Uuid;

/// An event about to be written.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: String,
    pub at: i64,
    pub kind: EventType,
    pub user_id: Option<String>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    detail: Map<String, Value>,
}

impl NewEvent {
    pub fn new(kind: EventType) -> Self {
        Self {
            id: Uuid::now_v7().to_string(),
            at: now_micros(),
            kind,
            user_id: None,
            actor_id: None,
            ip: None,
            user_agent: None,
            detail: Map::new(),
        }
    }

    /// Whom the event is about.
    pub fn user(mut self, id: &str) -> Self {
        self.user_id = Some(id.to_owned());
        self
    }

    /// Who caused it.
    pub fn actor(mut self, id: &str) -> Self {
        self.actor_id = Some(id.to_owned());
        self
    }

    /// The request that caused it.
    pub fn client(mut self, client: &ClientInfo) -> Self {
        self.ip = Some(client.ip.to_string());
        self.user_agent.clone_from(&client.user_agent);
        self
    }

    /// Adds one entry to `detail`. Never a password, token, hash, secret or code.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    pub fn detail_text(&self) -> String {
        Value::Object(self.detail.clone()).to_string()
    }
}

/// Writes `$event` (a `&NewEvent`) with `$executor` (a transaction, `&mut *tx`); evaluates
/// to `Result<(), sqlx::Error>`. A macro, not a function, so the one text serves both
/// databases inside [`with_pool!`].
macro_rules! record {
    ($executor:expr, $event:expr) => {{
        let event: &$crate::audit::repository::NewEvent = $event;
        sqlx::query(
            "INSERT INTO audit_events (id, at, type, user_id, actor_id, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&event.id)
        .bind(event.at)
        .bind(event.kind.as_str())
        .bind(&event.user_id)
        .bind(&event.actor_id)
        .bind(&event.ip)
        .bind(&event.user_agent)
        .bind(event.detail_text())
        .execute($executor)
        .await
        .map(|_| ())
    }};
}
pub(crate) use record;

/// Writes one event in a transaction of its own: for events that record no other change
/// (a failed login).
pub async fn insert(db: &Db, event: &NewEvent) -> Result<(), sqlx::Error> {
    with_pool!(db, pool => record!(pool, event))
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    at: i64,
    #[sqlx(rename = "type")]
    kind: String,
    user_id: Option<String>,
    actor_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

impl EventRow {
    fn into_event(self) -> Option<Event> {
        let Some(kind) = EventType::parse(&self.kind) else {
            tracing::warn!(event_id = %self.id, kind = %self.kind, "an event of an unknown type is skipped");
            return None;
        };
        Some(Event {
            id: self.id,
            at: rfc3339(self.at),
            kind,
            user_id: self.user_id,
            actor_id: self.actor_id,
            ip: self.ip,
            user_agent: self.user_agent,
            detail: serde_json::from_str(&self.detail).unwrap_or(Value::Object(Map::new())),
        })
    }
}

/// Which events to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    pub kind: Option<EventType>,
    /// Only events older than this one (its `(at, id)` position).
    pub before: Option<(i64, String)>,
}

/// The position of event `id`, for paging past it; `None` when there is no such event.
pub async fn position(db: &Db, id: &str) -> Result<Option<(i64, String)>, sqlx::Error> {
    let at: Option<i64> = with_pool!(db, pool => {
        sqlx::query_scalar("SELECT at FROM audit_events WHERE id = $1").bind(id).fetch_optional(pool).await
    })?;
    Ok(at.map(|at| (at, id.to_owned())))
}

/// Up to `limit` events matching `filter`, newest first. Each filter combination is one
/// backwards scan of one index (`(at, id)`, `(user_id, at, id)` or `(type, at, id)`).
pub async fn list(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    let (before_at, before_id) = filter.before.clone().unwrap_or((i64::MAX, String::new()));
    // With no `before`, the position is past every event: (MAX, "") sorts after all of them
    // because no event has at = MAX.
    let mut sql =
        String::from("SELECT id, at, type, user_id, actor_id, ip, user_agent, detail FROM audit_events WHERE ");
    if filter.user_id.is_some() {
        sql.push_str("user_id = $4 AND ");
    }
    if filter.kind.is_some() {
        sql.push_str(if filter.user_id.is_some() { "type = $5 AND " } else { "type = $4 AND " });
    }
    sql.push_str("(at < $1 OR (at = $1 AND id < $2)) ORDER BY at DESC, id DESC LIMIT $3");
    let rows: Vec<EventRow> = with_pool!(db, pool => {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(before_at).bind(before_id.clone()).bind(limit);
        if let Some(user_id) = &filter.user_id {
            query = query.bind(user_id.clone());
        }
        if let Some(kind) = filter.kind {
            query = query.bind(kind.as_str());
        }
        query.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().filter_map(EventRow::into_event).collect())
}

/// The newest event of `user_id` of type `kind` at or after `since`, if any.
pub async fn latest_since(db: &Db, user_id: &str, kind: EventType, since: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = with_pool!(db, pool => {
        sqlx::query_scalar("SELECT at FROM audit_events WHERE user_id = $1 AND type = $2 AND at >= $3 LIMIT 1")
            .bind(user_id)
            .bind(kind.as_str())
            .bind(since)
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.is_some())
}

/// Deletes events older than `cutoff`, in batches; returns how many.
pub async fn purge(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 1000;
    let mut deleted = 0;
    loop {
        let batch = with_pool!(db, pool => {
            sqlx::query("DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)")
                .bind(cutoff)
                .bind(BATCH)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        deleted += batch;
        if batch < BATCH as u64 {
            return Ok(deleted);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
