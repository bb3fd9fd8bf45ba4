//! The one place that registers users, checks passwords, and issues, rotates, revokes and
//! verifies tokens. The JSON API and the server functions are thin doors onto it.

use super::{
    agents,
    cache::AuthCache,
    common_passwords,
    logins::{self, LoginRow, NewLogin, Rotation},
    mfa,
    password::{self, PasswordHasher},
    resets,
    throttle::{self, Limits, Policy, Refusal},
    tokens::{TokenKeys, Unverified, new_refresh_token, refresh_token_hash},
    totp::MfaKeys,
};
use crate::{
    audit::{
        ClientInfo, EventType,
        repository::{self as audit, NewEvent},
    },
    db::{Db, now_micros, rfc3339},
    domain::{Email, FullName, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password, Role, Username},
    error::{AppError, FieldErrors},
    users::{
        EMAIL_TAKEN, LoginSession, ResetLink, USERNAME_TAKEN, User,
        repository::{self as users, DeleteOutcome, NewUser, UserRow},
    },
};
use uuid::Uuid;

mod second_factor;
pub use second_factor::Code;

/// A signing key as admins and the command line see it.
pub use super::tokens::KeyInfo;

/// What a wrong password confirming a change is told.
pub const WRONG_PASSWORD: &str = "That password is not correct";
/// Why the last enabled admin cannot be deleted, disabled or demoted.
pub const LAST_ADMIN: &str = "This change would leave no enabled admin; promote another user first";

/// No password of the policy is longer: 128 code points of at most 4 bytes each.
const MAX_PASSWORD_BYTES: usize = MAX_PASSWORD_CHARS * 4;

/// Raw registration input, as it arrived.
pub struct Registration<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub email: Option<&'a str>,
    pub full_name: Option<&'a str>,
}

impl std::fmt::Debug for Registration<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("username", &self.username).finish_non_exhaustive()
    }
}

/// What a successful login or refresh hands out. Its `Debug` hides both tokens.
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// A caller whose access token was verified and whose account was re-read just now.
/// Only [`AuthService::authenticate`] makes one.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user: User,
    /// The login the access token belongs to.
    pub login_id: String,
}

/// A [`CurrentUser`] who is an admin at this moment.
#[derive(Clone, Debug)]
pub struct Admin(CurrentUser);

impl Admin {
    pub fn current(&self) -> &CurrentUser {
        &self.0
    }
}

impl TryFrom<CurrentUser> for Admin {
    type Error = AppError;

    fn try_from(user: CurrentUser) -> Result<Self, AppError> {
        if user.user.role == Role::Admin { Ok(Admin(user)) } else { Err(AppError::InsufficientScope) }
    }
}

/// How long an ended login or an expired refresh token is kept before [`AuthService::purge`]
/// deletes it (for support questions such as "was I signed out?").
pub const PURGE_RETENTION_SECONDS: i64 = 86_400;

/// What one [`AuthService::purge`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub logins: u64,
    /// Expired refresh tokens of logins that were kept (those of deleted logins go with them).
    pub refresh_tokens: u64,
    pub throttle_counters: u64,
    pub events: u64,
}

/// Token lifetimes and abuse limits of an [`AuthService`].
#[derive(Clone, Copy, Debug)]
pub struct Policies {
    pub refresh_ttl_seconds: u64,
    /// How long a password reset link works.
    pub reset_ttl_seconds: u64,
    /// Days the audit log keeps an event.
    pub audit_retention_days: u64,
    /// Seconds in which a just-rotated refresh token may be retried once (0: never).
    pub refresh_reuse_grace_seconds: u64,
    pub limits: Limits,
    /// Logins whose lookup [`AuthService::authenticate`] keeps in memory (0: none, a lookup
    /// per request).
    pub auth_cache_size: usize,
}

pub struct AuthService {
    db: Db,
    hasher: PasswordHasher,
    keys: TokenKeys,
    mfa: MfaKeys,
    policies: Policies,
    cache: Option<std::sync::Arc<AuthCache>>,
}

impl AuthService {
    pub fn new(db: Db, hasher: PasswordHasher, keys: TokenKeys, mfa: MfaKeys, policies: Policies) -> Self {
        let cache = AuthCache::new(&db, policies.auth_cache_size).map(std::sync::Arc::new);
        Self { db, hasher, keys, mfa, policies, cache }
    }

    /// Logins whose authentication is in memory now (0 without a cache).
    pub fn cached_logins(&self) -> usize {
        self.cache.as_ref().map_or(0, |cache| cache.len())
    }

    /// Follows the durable auth epoch for as long as the process runs (see
    /// [`AuthCache::follow_row`]); returns at once when there is nothing to follow.
    pub async fn follow_auth_epoch(&self) {
        if let Some(cache) = &self.cache {
            std::sync::Arc::clone(cache).follow_row(self.db.clone()).await;
        }
    }

    /// Deletes, as of `now`, what has been unable to authenticate anyone for
    /// [`PURGE_RETENTION_SECONDS`] (ended or expired logins, expired refresh tokens) and the
    /// address throttle counters whose window has passed.
    pub async fn purge(&self, now: i64) -> Result<Purged, AppError> {
        let cutoff = now.saturating_sub(PURGE_RETENTION_SECONDS * 1_000_000);
        let (logins, refresh_tokens) = logins::purge(&self.db, cutoff).await?;
        let throttle_counters = throttle::purge(&self.db, now).await?;
        let keys = self.keys.purge(&self.db).await?;
        if keys > 0 {
            tracing::info!(keys, "deleted signing keys whose last token has expired");
        }
        resets::purge(&self.db, now).await?;
        mfa::purge(&self.db, now, now.saturating_sub(second_factor::ENROLMENT_TTL_MICROS)).await?;
        let retention =
            i64::try_from(self.policies.audit_retention_days.saturating_mul(86_400_000_000)).unwrap_or(i64::MAX);
        let events = audit::purge(&self.db, now.saturating_sub(retention)).await?;
        let purged = Purged { logins, refresh_tokens, throttle_counters, events };
        if purged != Purged::default() {
            tracing::info!(logins, refresh_tokens, throttle_counters, events, "purged expired records");
        }
        // The housekeeping also refreshes the account count of the metrics.
        let accounts = users::count(&self.db).await?;
        metrics::gauge!("gatehouse_users").set(accounts as f64);
        Ok(purged)
    }

    /// The server's password policy, judged on the NFKC form that is hashed, so that
    /// `ｐａｓｓｗｏｒｄ１` is refused as `password1` is (the browser runs the same parser on
    /// the text as typed, without the list).
    pub fn parse_password(raw: &str, username: Option<&str>) -> Result<Password, &'static str> {
        Password::parse(&password::normalise(raw), username, common_passwords::is_common)
    }

    /// Creates a user account with the `user` role, for a caller at `client` (throttled per
    /// address: only accounts actually created count).
    pub async fn register(&self, input: Registration<'_>, client: &ClientInfo) -> Result<User, AppError> {
        self.register_row(input, client).await.map(|row| row.to_user())
    }

    /// Creates an account and starts its first login at once: the browser's sign-up. One
    /// argon2 run, and no charge against the login throttle (no password was guessed).
    pub async fn sign_up(&self, input: Registration<'_>, client: &ClientInfo) -> Result<(User, TokenPair), AppError> {
        let row = self.register_row(input, client).await?;
        let pair = self.start_login(&row, client).await?;
        Ok((row.to_user(), pair))
    }

    async fn register_row(&self, input: Registration<'_>, client: &ClientInfo) -> Result<UserRow, AppError> {
        let key = throttle::register_address_key(client.ip);
        let policy = &self.policies.limits.register_per_address;
        self.charge(&key, policy).await?;
        let created = self.register_unthrottled(input, client).await;
        // A refused form costs nothing; a taken name counts like a created account, so that
        // probing which names exist is throttled as creating accounts is.
        if matches!(created, Err(ref e) if !matches!(e, AppError::Conflict { .. })) {
            throttle::refund(&self.db, &key, policy).await?;
        }
        created
    }

    async fn register_unthrottled(&self, input: Registration<'_>, client: &ClientInfo) -> Result<UserRow, AppError> {
        let mut fields = FieldErrors::new();
        let username = Username::parse(input.username).map_err(|e| fields.insert("username".into(), e.into())).ok();
        let password = Self::parse_password(input.password, Some(input.username))
            .map_err(|e| fields.insert("password".into(), e.into()))
            .ok();
        let email = Email::parse_optional(input.email.unwrap_or(""))
            .map_err(|e| fields.insert("email".into(), e.into()))
            .ok()
            .flatten();
        let full_name = FullName::parse_optional(input.full_name.unwrap_or(""))
            .map_err(|e| fields.insert("full_name".into(), e.into()))
            .ok()
            .flatten();
        let (Some(username), Some(password), true) = (username, password, fields.is_empty()) else {
            return Err(AppError::Validation(fields));
        };
        let event = NewEvent::new(EventType::UserRegistered).client(client);
        self.create_user(&username, &password, email.as_ref(), full_name.as_ref(), Role::User, event).await
    }

    async fn create_user(
        &self,
        username: &Username,
        password: &Password,
        email: Option<&Email>,
        full_name: Option<&FullName>,
        role: Role,
        event: NewEvent,
    ) -> Result<UserRow, AppError> {
        // Checked before hashing so a taken name costs no argon2 time; the unique indexes
        // still decide any race between this check and the insert.
        self.refuse_taken(username, email).await?;
        let hash = self.hasher.hash(password.expose()).await?;
        let new = NewUser {
            username: username.as_str(),
            email: email.map(Email::as_str),
            full_name: full_name.map(FullName::as_str),
            password_hash: &hash,
            role,
        };
        let Some(row) = users::insert(&self.db, &new, event).await? else {
            // Another registration won the race: say which of its values collided.
            self.refuse_taken(username, email).await?;
            tracing::error!("a unique index refused a user that no longer collides with anyone");
            return Err(AppError::Internal);
        };
        tracing::info!(user_id = %row.id, "account created");
        metrics::counter!("gatehouse_registrations_total").increment(1);
        Ok(row)
    }

    /// 409 naming the field when the username or the email is already in use.
    async fn refuse_taken(&self, username: &Username, email: Option<&Email>) -> Result<(), AppError> {
        match users::taken(&self.db, username.as_str(), email.map(Email::as_str)).await? {
            (true, _) => Err(AppError::taken("username", USERNAME_TAKEN)),
            (_, true) => Err(AppError::taken("email", EMAIL_TAKEN)),
            _ => Ok(()),
        }
    }

    /// OAuth2 password grant for a caller at `client`. Every failure is the same
    /// `InvalidGrant`, and an unknown username costs the same argon2 time as a wrong password.
    /// Throttled per account name (known or not) and per address: each attempt is counted
    /// before the password is checked; a success clears the account's count and gives the
    /// address its attempt back.
    pub async fn login(&self, username: &str, password: &str, client: &ClientInfo) -> Result<TokenPair, AppError> {
        let outcome = self.login_throttled(username, password, client).await;
        let result = match &outcome {
            Ok(_) => "success",
            Err(AppError::TooManyRequests { .. }) => "throttled",
            Err(AppError::InvalidGrant) => "failure",
            Err(AppError::MfaRequired(_)) => "mfa_required",
            Err(_) => "error",
        };
        metrics::counter!("gatehouse_logins_total", "result" => result).increment(1);
        outcome
    }

    async fn login_throttled(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair, AppError> {
        self.as_login_attempt(username, client, true, self.check_password(username, password, client)).await
    }

    /// Runs `attempt`, a password guess at `username` from `client`, under the login
    /// throttles: it is charged to the address and to the account first (429 while either is
    /// blocked); a success clears the account's count (when `clears`: a proof that is not a
    /// complete login of an account with a second factor does not) and gives the address its
    /// charge back;
    /// a wrong password (`InvalidGrant`) keeps both charges; any other failure was no guess
    /// and gives both back: a right password that still needs a second factor
    /// (`MfaRequired`) gives its charges back without clearing the account's count, which
    /// only a complete login clears.
    async fn as_login_attempt<T>(
        &self,
        username: &str,
        client: &ClientInfo,
        clears: bool,
        attempt: impl std::future::Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let limits = &self.policies.limits;
        let address = throttle::login_address_key(client.ip);
        let account = throttle::account_key(username);
        self.charge(&address, &limits.login_per_address).await?;
        if let Err(refused) = self.charge(&account, &limits.login_per_account).await {
            throttle::refund(&self.db, &address, &limits.login_per_address).await?;
            self.note_throttled(username, client);
            return Err(refused);
        }
        let outcome = attempt.await;
        match &outcome {
            Ok(_) if clears => {
                if !limits.login_per_account.is_off() {
                    throttle::reset(&self.db, &account).await?;
                }
                throttle::refund(&self.db, &address, &limits.login_per_address).await?;
            }
            // A right password that is not a complete login: its charges go back, the count stays.
            Ok(_) => {
                throttle::refund(&self.db, &account, &limits.login_per_account).await?;
                throttle::refund(&self.db, &address, &limits.login_per_address).await?;
            }
            // A wrong guess keeps both charges.
            Err(AppError::InvalidGrant) => {}
            // The check itself broke: it was no guess.
            Err(_) => {
                throttle::refund(&self.db, &account, &limits.login_per_account).await?;
                throttle::refund(&self.db, &address, &limits.login_per_address).await?;
            }
        }
        outcome
    }

    /// Counts an attempt against `key`, or refuses it with 429 while the key is blocked.
    async fn charge(&self, key: &str, policy: &Policy) -> Result<(), AppError> {
        match throttle::charge(&self.db, key, policy).await? {
            Ok(()) => Ok(()),
            Err(Refusal::Wait(seconds)) => Err(AppError::TooManyRequests { retry_after: seconds, locked: false }),
            Err(Refusal::Locked) => {
                Err(AppError::TooManyRequests { retry_after: throttle::LOCKED_RETRY_AFTER_SECONDS, locked: true })
            }
        }
    }

    /// Lifts the login throttle of an account name (an admin enabled the account).
    pub async fn unlock(&self, username: &str) -> Result<(), AppError> {
        throttle::reset(&self.db, &throttle::account_key(username)).await.map_err(AppError::from)
    }

    /// Records `login.throttled` for an account refused by its throttle, about once a minute
    /// per account at most (a guesser refused a thousand times writes one event, not a
    /// thousand). Names that are no account are not recorded. It runs beside the answer, not
    /// before it: the 429 takes the same time whether the name is an account or not. A
    /// failure is only logged.
    fn note_throttled(&self, username: &str, client: &ClientInfo) {
        let (db, username, client) = (self.db.clone(), username.to_owned(), client.clone());
        tokio::spawn(async move {
            let noted = async {
                let Ok(name) = Username::parse(&username) else { return Ok(()) };
                let Some(row) = users::find_by_username(&db, name.as_str()).await? else { return Ok(()) };
                let minute_ago = now_micros() - 60_000_000;
                if audit::latest_since(&db, &row.id, EventType::LoginThrottled, minute_ago).await? {
                    return Ok(());
                }
                audit::insert(&db, &NewEvent::new(EventType::LoginThrottled).user(&row.id).client(&client)).await
            };
            if let Err(e) = noted.await {
                tracing::warn!(error = %e, "could not record a throttled login");
            }
        });
    }

    /// Writes an event that records no other change (a failed login) beside the answer, so
    /// that the answer's time does not depend on it (nor, so, on whether the account exists).
    fn record_beside(&self, event: NewEvent) {
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(e) = audit::insert(&db, &event).await {
                tracing::warn!(error = %e, kind = %event.kind, "could not record an event");
            }
        });
    }

    async fn check_password(&self, username: &str, password: &str, client: &ClientInfo) -> Result<TokenPair, AppError> {
        // A password outside the policy cannot be anyone's: refuse without hashing (this also
        // keeps huge inputs away from argon2). This says nothing about the username. The raw
        // length bounds the normalisation's work; the policy judges the normalised form.
        // Either form within the bounds will do, so a password registered when the raw form
        // was judged still logs in.
        let within = |chars: usize| (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars);
        if password.len() > MAX_PASSWORD_BYTES
            || !(within(password.chars().count()) || within(password::normalise(password).chars().count()))
        {
            return Err(AppError::InvalidGrant);
        }
        let row = match Username::parse(username) {
            Ok(name) => users::find_by_username(&self.db, name.as_str()).await?,
            Err(_) => None,
        };
        let Some(row) = row else {
            self.hasher.verify_dummy(password).await?;
            return Err(AppError::InvalidGrant);
        };
        let verified = self.hasher.verify(password, &row.password_hash).await?;
        if !verified.matches || row.disabled {
            let reason = if verified.matches { "disabled" } else { "password" };
            self.record_beside(
                NewEvent::new(EventType::LoginFailed).user(&row.id).client(client).detail("reason", reason),
            );
            return Err(AppError::InvalidGrant);
        }
        if verified.outdated {
            self.upgrade_hash(&row.id, &row.password_hash, password).await;
        }
        if row.mfa_enabled {
            return Err(self.challenge(&row).await);
        }
        self.start_login(&row, client).await
    }

    /// Starts a login of a user whose credentials were just checked (or just created).
    async fn start_login(&self, row: &UserRow, client: &ClientInfo) -> Result<TokenPair, AppError> {
        let event = NewEvent::new(EventType::LoginSucceeded).user(&row.id).actor(&row.id).client(client);
        let refresh_token = new_refresh_token();
        let token_hash = refresh_token_hash(&refresh_token);
        let login = NewLogin::new(&row.id, &token_hash, self.refresh_expiry(), client);
        logins::start_login(&self.db, &login, event).await?;
        self.login_started(row, &login, refresh_token)
    }

    /// The tokens of a login just stored.
    fn login_started(&self, row: &UserRow, login: &NewLogin<'_>, refresh_token: String) -> Result<TokenPair, AppError> {
        let user_id = parse_stored_id(&row.id)?;
        tracing::info!(user_id = %row.id, login_id = %login.id, "login started");
        Ok(TokenPair {
            access_token: self.keys.issue(user_id, login.id)?,
            expires_in: self.keys.access_ttl_seconds(),
            refresh_token,
        })
    }

    /// Stores a hash at the configured parameters in place of a weaker one. A failure is
    /// logged and the login goes on: the old hash still works.
    async fn upgrade_hash(&self, user_id: &str, old_hash: &str, password: &str) {
        let upgraded = match self.hasher.hash(password).await {
            Ok(new_hash) => {
                users::replace_password_hash(&self.db, user_id, old_hash, &new_hash).await.map_err(AppError::from)
            }
            Err(e) => Err(e),
        };
        match upgraded {
            Ok(true) => tracing::info!(user_id, "password rehashed at the configured argon2 parameters"),
            Ok(false) => {}
            Err(e) => tracing::warn!(user_id, error = %e, "could not rehash a password; keeping the old hash"),
        }
    }

    /// Refresh grant with rotation: the token works once; a second use is a replay and ends
    /// the whole login (OAuth 2.0 Security BCP, RFC 9700 §4.14). With a grace window, the
    /// token just rotated may be retried once within it (its response may have been lost):
    /// the retry gets a new pair of the same login and the unused successor is revoked. Any
    /// token of a disabled account is `AccountDisabled`. Answers the new pair and the account
    /// as it is now.
    pub async fn refresh(&self, refresh_token: &str, client: &ClientInfo) -> Result<(TokenPair, User), AppError> {
        let mut replay = false;
        let outcome = self.rotate_refresh(refresh_token, client, &mut replay).await;
        let result = match (&outcome, replay) {
            (_, true) => "replay",
            (Ok(_), _) => "success",
            (Err(AppError::InvalidGrant | AppError::AccountDisabled), _) => "invalid",
            (Err(_), _) => "error",
        };
        metrics::counter!("gatehouse_token_refreshes_total", "result" => result).increment(1);
        outcome
    }

    async fn rotate_refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
        replay: &mut bool,
    ) -> Result<(TokenPair, User), AppError> {
        let Some(record) = logins::find_refresh(&self.db, &refresh_token_hash(refresh_token)).await? else {
            return Err(AppError::InvalidGrant);
        };
        if record.user.disabled {
            // Its holder's browser can say why they are signed out; the JSON API answers
            // `invalid_grant`, as for any unusable token.
            return Err(AppError::AccountDisabled);
        }
        let now = now_micros();
        let how = match record.used_at {
            Some(used_at) if self.in_grace(used_at, now) && record.is_live(now) => Rotation::GraceRetry,
            Some(_) => return Err(self.replayed(replay, &record, client, "a used refresh token came back").await),
            // Only a grace retry revokes one token of a login that goes on: its holder is the
            // owner (or the thief) of the pair the retry replaced. Either way, a replay.
            None if record.revoked_at.is_some() && record.login_ended_at.is_none() => {
                return Err(self.replayed(replay, &record, client, "a token revoked by a grace retry came back").await);
            }
            None if !record.is_live(now) => return Err(AppError::InvalidGrant),
            None => Rotation::Fresh,
        };
        // Each refresh adds a row to the login's chain: bound how fast one login grows it.
        self.charge(&throttle::refresh_login_key(&record.login_id), &self.policies.limits.refresh_per_login).await?;
        let next = new_refresh_token();
        let rotated = logins::rotate(
            &self.db,
            how,
            &record.token_id,
            &record.login_id,
            &refresh_token_hash(&next),
            self.refresh_expiry(),
        )
        .await?;
        match rotated {
            logins::Rotated::Yes => {}
            logins::Rotated::Refused => {
                return Err(self.replayed(replay, &record, client, "a refresh token was used twice at once").await);
            }
            logins::Rotated::Gone => return Err(AppError::InvalidGrant),
        }
        let pair = TokenPair {
            access_token: self.keys.issue(parse_stored_id(&record.user.id)?, parse_stored_id(&record.login_id)?)?,
            expires_in: self.keys.access_ttl_seconds(),
            refresh_token: next,
        };
        Ok((pair, record.user.to_user()))
    }

    /// A replayed refresh token: its whole login ends (the thief's copy and the owner's alike),
    /// and the answer is the same `invalid_grant` as any unusable token.
    async fn replayed(
        &self,
        replay: &mut bool,
        record: &logins::RefreshRecord,
        client: &ClientInfo,
        what: &'static str,
    ) -> AppError {
        *replay = true;
        let login_id = &record.login_id;
        tracing::warn!(login_id, "{what}: a replay; ending its login");
        let event = NewEvent::new(EventType::RefreshReplayed)
            .user(&record.user.id)
            .client(client)
            .detail("login_id", login_id.as_str());
        match logins::end_login(&self.db, &record.user.id, login_id, &event).await {
            Ok(_) => AppError::InvalidGrant,
            Err(e) => e.into(),
        }
    }

    /// RFC 7009: ends the login of a refresh token. Unknown or invalid tokens are ignored.
    pub async fn revoke(&self, refresh_token: &str, client: &ClientInfo) -> Result<(), AppError> {
        if let Some(record) = logins::find_refresh(&self.db, &refresh_token_hash(refresh_token)).await? {
            let user_id = &record.user.id;
            let event = NewEvent::new(EventType::Logout)
                .user(user_id)
                .actor(user_id)
                .client(client)
                .detail("login_id", record.login_id.as_str());
            if logins::end_login(&self.db, user_id, &record.login_id, &event).await? {
                tracing::info!(login_id = %record.login_id, "login ended by revocation");
            }
        }
        Ok(())
    }

    /// Who holds this refresh token, without using it up: for rendering a page to a person
    /// who arrives with the refresh cookie. A token that could not refresh shows no one; the
    /// latest token of a disabled account is `AccountDisabled`, so the page can say so.
    pub async fn viewer(&self, refresh_token: &str) -> Result<Option<User>, AppError> {
        let Some(record) = logins::find_refresh(&self.db, &refresh_token_hash(refresh_token)).await? else {
            return Ok(None);
        };
        if record.user.disabled && record.used_at.is_none() {
            // The holder of the account's latest token is told why they are signed out.
            return Err(AppError::AccountDisabled);
        }
        if record.used_at.is_some() || !record.is_live(now_micros()) {
            return Ok(None);
        }
        Ok(Some(record.user.to_user()))
    }

    /// Ends every login of the caller, their own included.
    pub async fn sign_out_everywhere(&self, caller: &CurrentUser, client: &ClientInfo) -> Result<(), AppError> {
        let id = &caller.user.id;
        let event = NewEvent::new(EventType::SignOutEverywhere).user(id).actor(id).client(client);
        logins::end_all_logins(&self.db, id, None, Some(&event)).await?;
        tracing::info!(user_id = %caller.user.id, "signed out everywhere");
        Ok(())
    }

    /// The issuer named in every access token.
    pub fn issuer(&self) -> &str {
        self.keys.issuer()
    }

    /// The JWKS document of the published signing keys (`{"keys": []}` under HS256).
    pub fn jwks(&self) -> bytes::Bytes {
        self.keys.jwks()
    }

    /// Re-reads the signing keys from the database (each instance does so every few seconds,
    /// so that a rotation made anywhere is followed everywhere).
    pub async fn reload_keys(&self) -> Result<(), AppError> {
        self.keys.reload(&self.db).await.map_err(|e| {
            tracing::warn!(error = ?e, "re-reading the signing keys failed");
            AppError::Unavailable
        })
    }

    /// The signing keys in force, for an admin (never a private part).
    pub async fn signing_keys(&self, _admin: &Admin) -> Result<Vec<KeyInfo>, AppError> {
        self.signing_keys_for_operator().await
    }

    /// Rotates the signing key for an admin: see [`Self::rotate_signing_key`].
    pub async fn rotate_key(&self, admin: &Admin, client: &ClientInfo) -> Result<KeyInfo, AppError> {
        let event = NewEvent::new(EventType::KeyRotated).actor(&admin.current().user.id).client(client);
        let key = self.rotate_with(event).await?;
        tracing::info!(admin = %admin.current().user.id, kid = %key.kid, "signing key rotated by an admin");
        Ok(key)
    }

    /// Makes a new signing key, published at once and signing after the rotation delay
    /// (for the operator's command line and admins). 409 under HS256: its secret is the
    /// operator's to change.
    pub async fn rotate_signing_key(&self) -> Result<KeyInfo, AppError> {
        self.rotate_with(NewEvent::new(EventType::KeyRotated).detail("by", "operator")).await
    }

    async fn rotate_with(&self, event: NewEvent) -> Result<KeyInfo, AppError> {
        self.keys.rotate(&self.db, event).await?.ok_or_else(|| {
            AppError::conflict(
                "Tokens are signed with the shared HS256 secret: set GATEHOUSE_JWT_ALGORITHM to EdDSA or ES256 \
                 to sign with keys that rotate",
            )
        })
    }

    /// The signing keys in force, for the operator's command line.
    pub async fn signing_keys_for_operator(&self) -> Result<Vec<KeyInfo>, AppError> {
        self.reload_keys().await?;
        Ok(self.keys.list())
    }

    /// Verifies a bearer access token and re-reads its user and login: one indexed lookup, or
    /// none while the auth epoch says the answer in memory still holds (`auth::cache`).
    pub async fn authenticate(&self, access_token: &str) -> Result<CurrentUser, AppError> {
        let claims = match self.keys.verify(access_token) {
            Ok(claims) => claims,
            // Perhaps a key another instance made a moment ago: read the set again, once.
            Err(Unverified::UnknownKid) if self.keys.may_reload_for_unknown_kid() => {
                self.reload_keys().await?;
                self.keys.verify(access_token).map_err(|_| AppError::InvalidToken)?
            }
            Err(_) => return Err(AppError::InvalidToken),
        };
        // The epoch first: what the cache holds is trusted only if filled under this one.
        let epoch = match &self.cache {
            Some(cache) => cache.epoch().await,
            None => None,
        };
        if let (Some(cache), Some(epoch)) = (&self.cache, epoch)
            && let Some(user) = cache.get(epoch, &claims.login_id, &claims.user_id)
        {
            return Ok(CurrentUser { user, login_id: claims.login_id.to_string() });
        }
        let Some(found) = users::find_with_login(&self.db, &claims.user_id, &claims.login_id).await? else {
            return Err(AppError::InvalidToken);
        };
        if found.user.disabled {
            return Err(AppError::AccountDisabled);
        }
        if found.login_ended_at.is_some() {
            return Err(AppError::InvalidToken);
        }
        let user = found.user.to_user();
        if let (Some(cache), Some(epoch)) = (&self.cache, epoch) {
            cache.insert(epoch, claims.login_id, claims.user_id, &user);
        }
        Ok(CurrentUser { user, login_id: claims.login_id.to_string() })
    }

    /// Checks `password` as the account's own, for a change that asks for it (a password
    /// change, a deletion): it counts as a login attempt of the account, charged to its
    /// throttles first (429 once blocked); a right one clears the account's count. A wrong
    /// one is recorded as `login.failed`.
    async fn confirm_password(&self, row: &UserRow, password: &str, client: &ClientInfo) -> Result<bool, AppError> {
        let check =
            async { if self.password_matches(row, password).await? { Ok(()) } else { Err(AppError::InvalidGrant) } };
        // For an account with a second factor, a password alone clears nothing.
        match self.as_login_attempt(&row.username, client, !row.mfa_enabled, check).await {
            Ok(()) => Ok(true),
            Err(AppError::InvalidGrant) => {
                let event = NewEvent::new(EventType::LoginFailed)
                    .user(&row.id)
                    .actor(&row.id)
                    .client(client)
                    .detail("reason", "confirmation");
                audit::insert(&self.db, &event).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// True when `password` is the account's (argon2 runs only for a length a password can have).
    async fn password_matches(&self, row: &UserRow, password: &str) -> Result<bool, AppError> {
        Ok(password.len() <= MAX_PASSWORD_BYTES && self.hasher.verify(password, &row.password_hash).await?.matches)
    }

    /// The caller's account as stored now (it may have been deleted since the token was read).
    async fn caller_row(&self, caller: &CurrentUser) -> Result<UserRow, AppError> {
        let id = parse_stored_id(&caller.user.id)?;
        users::find_by_id(&self.db, &id).await?.ok_or(AppError::InvalidToken)
    }

    /// Changes the caller's password, given the current one. Every other login of the caller
    /// ends; theirs goes on.
    pub async fn change_password(
        &self,
        caller: &CurrentUser,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let row = self.caller_row(caller).await?;
        // A new password outside the policy is refused before the current one is checked:
        // no guess was made, so nothing is charged to the throttle.
        let new = Self::parse_password(new, Some(&row.username)).map_err(|e| AppError::field("new_password", e))?;
        if !self.confirm_password(&row, current, client).await? {
            return Err(AppError::field("current_password", WRONG_PASSWORD));
        }
        let hash = self.hasher.hash(new.expose()).await?;
        let event = NewEvent::new(EventType::PasswordChanged).user(&row.id).actor(&row.id).client(client);
        if !logins::change_password(&self.db, &row.id, &row.password_hash, &hash, &caller.login_id, &event).await? {
            // Changed (or deleted) meanwhile, by a request that also knew the password.
            return Err(AppError::conflict("The password was changed meanwhile; sign in again"));
        }
        tracing::info!(user_id = %row.id, "password changed; other logins ended");
        Ok(())
    }

    /// Deletes the caller's account, given its password. The last enabled admin cannot.
    pub async fn delete_account(
        &self,
        caller: &CurrentUser,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let row = self.caller_row(caller).await?;
        if !self.confirm_password(&row, password, client).await? {
            return Err(AppError::field("password", WRONG_PASSWORD));
        }
        let event = NewEvent::new(EventType::UserDeleted).actor(&row.id).client(client);
        self.delete_user(&row.id, event).await
    }

    /// Deletes an account for an admin (`None`: no such account).
    pub async fn delete_user_for(&self, admin: &Admin, user_id: &str, client: &ClientInfo) -> Result<(), AppError> {
        let id = Uuid::parse_str(user_id).map_err(|_| AppError::NotFound)?;
        let event = NewEvent::new(EventType::UserDeleted).actor(&admin.current().user.id).client(client);
        self.delete_user(&id.to_string(), event).await
    }

    async fn delete_user(&self, id: &str, event: NewEvent) -> Result<(), AppError> {
        match users::delete(&self.db, id, event).await? {
            DeleteOutcome::Deleted(row) => {
                // A new account may take the name: it must not inherit this one's lock.
                self.unlock(&row.username).await?;
                tracing::info!(user_id = %row.id, "account deleted");
                Ok(())
            }
            DeleteOutcome::NotFound => Err(AppError::NotFound),
            DeleteOutcome::LastAdmin => Err(AppError::conflict(LAST_ADMIN)),
        }
    }

    /// The caller's live logins, newest first, their own marked `current`.
    pub async fn own_logins(&self, caller: &CurrentUser) -> Result<Vec<LoginSession>, AppError> {
        let rows = logins::live_logins(&self.db, &caller.user.id).await?;
        Ok(rows.into_iter().map(|row| session(&row, Some(row.id == caller.login_id))).collect())
    }

    /// A user's live logins, for an admin (404: no such account).
    pub async fn logins_of(&self, _admin: &Admin, user_id: &str) -> Result<Vec<LoginSession>, AppError> {
        let id = Uuid::parse_str(user_id).map_err(|_| AppError::NotFound)?;
        if users::find_by_id(&self.db, &id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        let rows = logins::live_logins(&self.db, &id.to_string()).await?;
        Ok(rows.iter().map(|row| session(row, None)).collect())
    }

    /// Ends one of the caller's logins (it may be their own). 404 when `login_id` is not a
    /// live login of theirs.
    pub async fn end_own_login(
        &self,
        caller: &CurrentUser,
        login_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let id = &caller.user.id;
        let event = NewEvent::new(EventType::LoginEnded).user(id).actor(id).client(client).detail("login_id", login_id);
        if logins::end_login(&self.db, id, login_id, &event).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// Ends a user's login for an admin. 404 when it is not a live login of that user.
    pub async fn end_login_of(
        &self,
        admin: &Admin,
        user_id: &str,
        login_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let event = NewEvent::new(EventType::LoginEnded)
            .user(user_id)
            .actor(&admin.current().user.id)
            .client(client)
            .detail("login_id", login_id)
            .detail("by", "admin");
        if logins::end_login(&self.db, user_id, login_id, &event).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// Makes a single-use password reset link for a user, voiding any older one. `origin`
    /// is the public origin the link starts with.
    pub async fn create_reset_link(
        &self,
        admin: &Admin,
        user_id: &str,
        origin: &str,
        client: &ClientInfo,
    ) -> Result<ResetLink, AppError> {
        let id = Uuid::parse_str(user_id).map_err(|_| AppError::NotFound)?.to_string();
        let admin_id = &admin.current().user.id;
        let event = NewEvent::new(EventType::PasswordResetLinkCreated).actor(admin_id).client(client);
        let link = self.make_reset_link(&id, admin_id, origin, event).await?;
        tracing::info!(user_id = %id, admin_id = %admin_id, "password reset link created");
        Ok(link)
    }

    /// A password reset link for the account named `username`, for the operator's command
    /// line (an operator locked out of every admin account).
    pub async fn reset_link_for_operator(&self, username: &str, origin: &str) -> Result<ResetLink, AppError> {
        let name = Username::parse(username).map_err(|_| AppError::NotFound)?;
        let row = users::find_by_username(&self.db, name.as_str()).await?.ok_or(AppError::NotFound)?;
        let event = NewEvent::new(EventType::PasswordResetLinkCreated).detail("by", "operator");
        let link = self.make_reset_link(&row.id, "operator", origin, event).await?;
        tracing::info!(user_id = %row.id, "password reset link created from the command line");
        Ok(link)
    }

    async fn make_reset_link(
        &self,
        user_id: &str,
        created_by: &str,
        origin: &str,
        event: NewEvent,
    ) -> Result<ResetLink, AppError> {
        let token = new_refresh_token();
        let ttl = i64::try_from(self.policies.reset_ttl_seconds.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        let expires_at = now_micros().saturating_add(ttl);
        let event = event.user(user_id).detail("expires_at", rfc3339(expires_at));
        if !resets::create(&self.db, user_id, &refresh_token_hash(&token), created_by, expires_at, &event).await? {
            return Err(AppError::NotFound);
        }
        Ok(ResetLink { reset_url: format!("{origin}/reset-password#token={token}"), expires_at: rfc3339(expires_at) })
    }

    /// Sets a new password with a reset link's token: the link is spent, every login of the
    /// account ends, and its failed-login count is cleared. One `invalid_grant` for every
    /// token that does not work.
    pub async fn reset_password(&self, token: &str, new_password: &str, client: &ClientInfo) -> Result<(), AppError> {
        let token_hash = refresh_token_hash(token);
        let Some((user_id, username)) = resets::find_live(&self.db, &token_hash).await? else {
            return Err(AppError::InvalidGrant);
        };
        let password =
            Self::parse_password(new_password, Some(&username)).map_err(|e| AppError::field("new_password", e))?;
        let hash = self.hasher.hash(password.expose()).await?;
        let event = NewEvent::new(EventType::PasswordReset).user(&user_id).client(client);
        if !resets::spend(&self.db, &token_hash, &user_id, &hash, &event).await? {
            return Err(AppError::InvalidGrant);
        }
        self.unlock(&username).await?;
        tracing::info!(user_id = %user_id, "password reset with a link; every login ended");
        Ok(())
    }

    /// Start-up: make sure `username` is an enabled admin, creating it with `password` if
    /// absent. An existing account is promoted only when `password` is its password: else
    /// whoever registered that name first would become admin. Errors are one line for the
    /// operator, and never contain the password.
    pub async fn ensure_admin(&self, username: &str, password: &str) -> Result<(), String> {
        let name = Username::parse(username).map_err(|e| format!("GATEHOUSE_ADMIN_USERNAME: {e}"))?;
        let policy_password =
            Self::parse_password(password, Some(username)).map_err(|e| format!("GATEHOUSE_ADMIN_PASSWORD: {e}"))?;
        let existing = users::find_by_username(&self.db, name.as_str())
            .await
            .map_err(|e| format!("cannot read the admin account: {e}"))?;
        let row = match existing {
            Some(row) => row,
            None => match self.create_user(&name, &policy_password, None, None, Role::Admin, operator_event()).await {
                Ok(_) => {
                    tracing::info!(username = %name, "configured admin created");
                    return Ok(());
                }
                // Another instance starting at the same moment created it: it exists now.
                Err(AppError::Conflict { .. }) => users::find_by_username(&self.db, name.as_str())
                    .await
                    .map_err(|e| format!("cannot read the admin account: {e}"))?
                    .ok_or_else(|| "cannot create the admin account: its name is taken".to_owned())?,
                Err(e) => return Err(format!("cannot create the admin account: {e}")),
            },
        };
        let verified = self
            .hasher
            .verify(password, &row.password_hash)
            .await
            .map_err(|e| format!("cannot check the admin password: {e}"))?;
        if !verified.matches {
            return Err(format!(
                "GATEHOUSE_ADMIN_PASSWORD does not match the existing account {:?}; it was not made an admin \
                 (use that account's password, or another GATEHOUSE_ADMIN_USERNAME)",
                row.username
            ));
        }
        // The operator's own account is never left locked by guessers across a restart.
        self.unlock(name.as_str()).await.map_err(|e| format!("cannot unlock the admin account: {e}"))?;
        let event = NewEvent::new(EventType::UserUpdated).detail("by", "configuration");
        users::promote_to_enabled_admin(&self.db, &row, event)
            .await
            .map_err(|e| format!("cannot promote the admin account: {e}"))?;
        tracing::info!(username = %row.username, "configured admin exists; made sure it is an enabled admin");
        Ok(())
    }

    /// The operator's command line (`gatehouse create-admin`): `username` becomes an enabled
    /// admin whose password is `password`. Absent, it is created; present, it is unlocked,
    /// promoted and given this password, and every one of its logins ends (this is how an
    /// operator rescues a locked-out admin). Answers what was done, in words.
    pub async fn set_up_admin(&self, username: &str, password: &str) -> Result<String, String> {
        let name = Username::parse(username).map_err(|e| format!("USERNAME: {e}"))?;
        let password = Self::parse_password(password, Some(username)).map_err(|e| format!("the password: {e}"))?;
        let existing = users::find_by_username(&self.db, name.as_str())
            .await
            .map_err(|e| format!("cannot read the account: {e}"))?;
        let Some(row) = existing else {
            self.create_user(&name, &password, None, None, Role::Admin, operator_event())
                .await
                .map_err(|e| format!("cannot create the admin account: {e}"))?;
            tracing::info!(username = %name, "admin created from the command line");
            return Ok(format!("Created the admin {name}."));
        };
        let hash = self.hasher.hash(password.expose()).await.map_err(|e| format!("cannot hash the password: {e}"))?;
        // One transaction: the account, the end of its logins, and the event.
        let event = NewEvent::new(EventType::PasswordReset).detail("by", "operator");
        users::make_admin_with_password(&self.db, &row, &hash, event)
            .await
            .map_err(|e| format!("cannot make the account an admin: {e}"))?;
        self.unlock(name.as_str()).await.map_err(|e| format!("cannot unlock the account: {e}"))?;
        tracing::info!(username = %row.username, "account made an enabled admin from the command line");
        Ok(format!("{} is an enabled admin with the new password; its logins have ended.", row.username))
    }

    fn refresh_expiry(&self) -> i64 {
        let ttl = i64::try_from(self.policies.refresh_ttl_seconds.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        now_micros().saturating_add(ttl)
    }

    /// True when a token used at `used_at` is still inside the reuse grace window at `now`.
    fn in_grace(&self, used_at: i64, now: i64) -> bool {
        let grace = i64::try_from(self.policies.refresh_reuse_grace_seconds.saturating_mul(1_000_000)).unwrap_or(0);
        grace > 0 && now.saturating_sub(used_at) <= grace
    }
}

/// A stored login as the wire shows it.
fn session(row: &LoginRow, current: Option<bool>) -> LoginSession {
    LoginSession {
        id: row.id.clone(),
        created_at: row.created(),
        last_used_at: row.last_used(),
        device: row.user_agent.as_deref().and_then(agents::describe),
        user_agent: row.user_agent.clone(),
        ip: row.ip.clone(),
        current,
    }
}

/// `user.registered` of an account the operator made (configured admin, command line).
fn operator_event() -> NewEvent {
    NewEvent::new(EventType::UserRegistered).detail("by", "operator")
}

fn parse_stored_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| {
        tracing::error!(id, "a stored id is not a UUID");
        AppError::Internal
    })
}
