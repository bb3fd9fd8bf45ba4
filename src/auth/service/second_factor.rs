//! The second factor (TOTP with recovery codes) of [`AuthService`]: setting it up, turning it
//! off, replacing recovery codes, an admin's removal, and the second step of a login.

use super::{AuthService, CurrentUser, WRONG_PASSWORD};
use crate::{
    audit::{
        ClientInfo, EventType,
        repository::{self as audit, NewEvent},
    },
    auth::{
        logins::NewLogin,
        mfa::{self, Enable, Proof, Then},
        throttle,
        tokens::{new_refresh_token, refresh_token_hash},
        totp::{self, Secret},
    },
    db::now_micros,
    error::{AppError, MfaToken},
    users::{
        MFA_ALREADY_ON, MFA_NOT_ON, RecoveryCodes, TotpSetup, WRONG_CODE,
        repository::{self as users, UserRow},
    },
};
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// How long a secret being set up waits for its confirming code.
pub(super) const ENROLMENT_TTL_MICROS: i64 = 15 * 60 * 1_000_000;
/// How long a login waits for its second factor (the `mfa_token`'s life).
const CHALLENGE_TTL_MICROS: i64 = 5 * 60 * 1_000_000;
/// The text alternative of the set-up QR code.
const QR_LABEL: &str = "QR code of your two-factor secret, for an authenticator app";
/// Why an admin cannot remove their own second factor here.
const OWN_MFA: &str =
    "Turn off your own two-factor authentication on your security page, with your password and a code";
/// Why a confirmation finds nothing to confirm.
const NOTHING_PENDING: &str = "There is no two-factor set-up to confirm; start again";

/// Which codes an input may be.
#[derive(Clone, Copy, Debug)]
pub enum Code<'a> {
    /// A TOTP code only (the token endpoint's `otp`).
    Totp(&'a str),
    /// A recovery code only (the token endpoint's `recovery_code`).
    Recovery(&'a str),
    /// Either (a form's single field).
    Either(&'a str),
}

impl Code<'_> {
    /// What the code was given as, for an `mfa.failed` event.
    fn method(self) -> &'static str {
        match self {
            Code::Totp(_) => "totp",
            Code::Recovery(_) => "recovery_code",
            Code::Either(_) => "totp_or_recovery_code",
        }
    }
}

fn now_seconds() -> i64 {
    now_micros().div_euclid(1_000_000)
}

impl AuthService {
    /// A right password on an account with a second factor: the login waits for a code. The
    /// answer carries the token of its second step.
    pub(super) async fn challenge(&self, row: &UserRow) -> AppError {
        let token = new_refresh_token();
        let expires_at = now_micros().saturating_add(CHALLENGE_TTL_MICROS);
        match mfa::create_challenge(&self.db, &refresh_token_hash(&token), &row.id, expires_at).await {
            Ok(()) => AppError::MfaRequired(MfaToken(token)),
            Err(e) => e.into(),
        }
    }

    /// The second step of a login (the `mfa-otp` grant): a code for the challenge of
    /// `mfa_token`. A wrong code, a spent code and a dead token are one `invalid_grant`; a
    /// wrong code counts against the account's login throttle and the challenge (5 and it is
    /// dead). Only this complete login clears the account's failure count.
    pub async fn login_with_code(
        &self,
        mfa_token: &str,
        code: Code<'_>,
        client: &ClientInfo,
    ) -> Result<super::TokenPair, AppError> {
        let outcome = self.login_with_code_throttled(mfa_token, code, client).await;
        let result = match &outcome {
            Ok(_) => "success",
            Err(AppError::TooManyRequests { .. }) => "throttled",
            Err(AppError::InvalidGrant) => "failure",
            Err(_) => "error",
        };
        metrics::counter!("gatehouse_logins_total", "result" => result).increment(1);
        outcome
    }

    async fn login_with_code_throttled(
        &self,
        mfa_token: &str,
        code: Code<'_>,
        client: &ClientInfo,
    ) -> Result<super::TokenPair, AppError> {
        let token_hash = refresh_token_hash(mfa_token);
        let Some(challenge) = mfa::find_challenge(&self.db, &token_hash).await? else {
            // A dead or made-up token is a failed attempt of this address.
            let limits = &self.policies.limits;
            self.charge(&throttle::login_address_key(client.ip), &limits.login_per_address).await?;
            return Err(AppError::InvalidGrant);
        };
        let row = challenge.user;
        let attempt = async {
            let Some(sealed) = challenge.totp_secret.as_deref().filter(|_| !row.disabled) else {
                return Err(AppError::InvalidGrant);
            };
            // The attempt is counted against the challenge before the code is checked, so
            // attempts sent at once cannot outnumber its limit.
            if !mfa::claim_attempt(&self.db, &token_hash).await? {
                return Err(AppError::InvalidGrant);
            }
            // The code, the challenge and the new login: one transaction.
            let refresh_token = new_refresh_token();
            let refresh_hash = refresh_token_hash(&refresh_token);
            let login = NewLogin::new(&row.id, &refresh_hash, self.refresh_expiry(), client);
            let started = NewEvent::new(EventType::LoginSucceeded)
                .user(&row.id)
                .actor(&row.id)
                .client(client)
                .detail("login_id", login.id.to_string());
            let then = Then::StartLogin { challenge: &token_hash, login: &login };
            match self.spend_code(&row, sealed, challenge.totp_last_step, code, &then, &started, client).await? {
                Some(_) => self.login_started(&row, &login, refresh_token),
                None => {
                    let failed = NewEvent::new(EventType::MfaFailed)
                        .user(&row.id)
                        .client(client)
                        .detail("during", "login")
                        .detail("method", code.method());
                    audit::insert(&self.db, &failed).await?;
                    Err(AppError::InvalidGrant)
                }
            }
        };
        self.as_login_attempt(&row.username, client, true, attempt).await
    }

    /// Spends `code` for `row`'s second factor and does `then` in the same transaction,
    /// recording `outcome` (given `detail.second_factor`: how): a TOTP code of a step after
    /// the last one used, or an unused recovery code. Answers how (`"totp"`,
    /// `"recovery_code"`), or `None` for a code that did not work (nothing done).
    #[allow(clippy::too_many_arguments)]
    async fn spend_code(
        &self,
        row: &UserRow,
        sealed: &str,
        last_step: i64,
        code: Code<'_>,
        then: &Then<'_>,
        outcome: &NewEvent,
        client: &ClientInfo,
    ) -> Result<Option<&'static str>, AppError> {
        let (Code::Totp(text) | Code::Recovery(text) | Code::Either(text)) = code;
        if matches!(code, Code::Totp(_) | Code::Either(_)) {
            let secret = self.open_secret(sealed, &row.id)?;
            if let Some(step) = secret.accepts(text, now_seconds(), last_step) {
                let done = outcome.clone().detail("second_factor", "totp");
                let spent = mfa::spend(&self.db, &row.id, &Proof::Step(step), then, &[&done]).await?;
                return Ok(spent.then_some("totp"));
            }
        }
        if matches!(code, Code::Recovery(_) | Code::Either(_))
            && let Some(normalised) = totp::normalise_recovery_code(text)
        {
            let hash = self.mfa.recovery_code_hash(&row.id, &normalised);
            let used = NewEvent::new(EventType::RecoveryCodeUsed).user(&row.id).actor(&row.id).client(client);
            let done = outcome.clone().detail("second_factor", "recovery_code");
            let spent = mfa::spend(&self.db, &row.id, &Proof::RecoveryCode(&hash), then, &[&used, &done]).await?;
            return Ok(spent.then_some("recovery_code"));
        }
        Ok(None)
    }

    /// Starts setting up TOTP for the caller, given their password: a new secret, pending
    /// until confirmed with a code (a new call replaces a pending one). 409 when it is on.
    pub async fn start_totp(
        &self,
        caller: &CurrentUser,
        password: &str,
        client: &ClientInfo,
    ) -> Result<TotpSetup, AppError> {
        let row = self.caller_row(caller).await?;
        if row.mfa_enabled {
            return Err(AppError::conflict(MFA_ALREADY_ON));
        }
        if !self.confirm_password(&row, password, client).await? {
            return Err(AppError::field("password", WRONG_PASSWORD));
        }
        let secret = Secret::generate();
        if !mfa::begin_enrolment(&self.db, &row.id, &self.mfa.seal(&secret, &row.id)).await? {
            // Turned on by a concurrent request.
            return Err(AppError::conflict(MFA_ALREADY_ON));
        }
        let otpauth_url = secret.otpauth_url(self.mfa.issuer(), &row.username);
        let qr_svg = totp::qr_svg(&otpauth_url, QR_LABEL).ok_or_else(|| {
            tracing::error!(user_id = %row.id, "the set-up URL does not fit a QR code");
            AppError::Internal
        })?;
        Ok(TotpSetup { secret: secret.base32(), otpauth_url, qr_svg })
    }

    /// Turns TOTP on with a code of the pending secret. Answers the 10 recovery codes, shown
    /// this once (only their hashes are kept).
    pub async fn confirm_totp(
        &self,
        caller: &CurrentUser,
        code: &str,
        client: &ClientInfo,
    ) -> Result<RecoveryCodes, AppError> {
        let row = self.caller_row(caller).await?;
        if row.mfa_enabled {
            return Err(AppError::conflict(MFA_ALREADY_ON));
        }
        let Some(sealed) = mfa::pending(&self.db, &row.id, ENROLMENT_TTL_MICROS).await? else {
            return Err(AppError::conflict(NOTHING_PENDING));
        };
        let secret = self.open_secret(&sealed, &row.id)?;
        let Some(step) = secret.accepts(code, now_seconds(), 0) else {
            return Err(AppError::field("code", WRONG_CODE));
        };
        let (codes, hashes) = self.new_codes(&row.id);
        let event = NewEvent::new(EventType::MfaEnabled).user(&row.id).actor(&row.id).client(client);
        let enable = Enable { user_id: &row.id, sealed_secret: &sealed, step, code_hashes: &hashes };
        if !mfa::enable(&self.db, &enable, &event).await? {
            return Err(AppError::conflict(NOTHING_PENDING));
        }
        tracing::info!(user_id = %row.id, "two-factor authentication turned on");
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    /// Turns the caller's TOTP off, given their password and a code (TOTP or recovery). One
    /// attempt against the login throttle; a wrong code is recorded as `mfa.failed`.
    pub async fn disable_totp(
        &self,
        caller: &CurrentUser,
        password: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let row = self.caller_row(caller).await?;
        let event = NewEvent::new(EventType::MfaDisabled).user(&row.id).actor(&row.id).client(client);
        self.prove_both(&row, Some(password), code, &Then::TurnOff, &event, "turn_off", client).await?;
        tracing::info!(user_id = %row.id, "two-factor authentication turned off");
        Ok(())
    }

    /// New recovery codes for the caller, given a code (TOTP or recovery); the old ones die.
    pub async fn replace_recovery_codes(
        &self,
        caller: &CurrentUser,
        code: &str,
        client: &ClientInfo,
    ) -> Result<RecoveryCodes, AppError> {
        let row = self.caller_row(caller).await?;
        let (codes, hashes) = self.new_codes(&row.id);
        let event = NewEvent::new(EventType::RecoveryCodesReplaced).user(&row.id).actor(&row.id).client(client);
        let then = Then::ReplaceCodes(&hashes);
        self.prove_both(&row, None, code, &then, &event, "new_recovery_codes", client).await?;
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    /// Removes a user's second factor for an admin (a lost phone). 404: no such account;
    /// 409: it has none.
    pub async fn remove_mfa_for(
        &self,
        admin: &super::Admin,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let id = Uuid::parse_str(user_id).map_err(|_| AppError::NotFound)?;
        let Some(row) = users::find_by_id(&self.db, &id).await? else { return Err(AppError::NotFound) };
        let admin_id = &admin.current().user.id;
        if &row.id == admin_id {
            // An admin's own token alone must not strip their second factor: they turn it off
            // themselves, with their password and a code.
            return Err(AppError::conflict(OWN_MFA));
        }
        let event =
            NewEvent::new(EventType::MfaDisabled).user(&row.id).actor(admin_id).client(client).detail("by", "admin");
        if !mfa::disable(&self.db, &row.id, &event).await? {
            return Err(AppError::conflict(MFA_NOT_ON));
        }
        tracing::info!(user_id = %row.id, admin_id = %admin_id, "two-factor authentication removed by an admin");
        Ok(())
    }

    /// Removes the second factor of the account named `username`, for the operator's command
    /// line; answers the account's username as stored. 404: no such account; 409: it has none.
    pub async fn remove_mfa_for_operator(&self, username: &str) -> Result<String, AppError> {
        let name = crate::domain::Username::parse(username).map_err(|_| AppError::NotFound)?;
        let Some(row) = users::find_by_username(&self.db, name.as_str()).await? else { return Err(AppError::NotFound) };
        let event = NewEvent::new(EventType::MfaDisabled).user(&row.id).detail("by", "operator");
        if !mfa::disable(&self.db, &row.id, &event).await? {
            return Err(AppError::conflict(MFA_NOT_ON));
        }
        tracing::info!(user_id = %row.id, "two-factor authentication removed from the command line");
        Ok(row.username)
    }

    /// The caller's password (when asked) and a code of their second factor, checked as one
    /// attempt against the login throttle (429 once blocked); the code is spent and `then`
    /// done (recording `outcome`) in one transaction. 409 when TOTP is off; 422 naming the
    /// wrong input.
    #[allow(clippy::too_many_arguments)]
    async fn prove_both(
        &self,
        row: &UserRow,
        password: Option<&str>,
        code: &str,
        then: &Then<'_>,
        outcome: &NewEvent,
        during: &'static str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let Some((sealed, last_step)) = mfa::secret_of(&self.db, &row.id).await? else {
            return Err(AppError::conflict(MFA_NOT_ON));
        };
        // Which input was wrong (the future must stay `Send`: no `Cell`).
        let wrong_password = AtomicBool::new(false);
        let check = async {
            if let Some(password) = password
                && !self.password_matches(row, password).await?
            {
                wrong_password.store(true, Ordering::Relaxed);
                return Err(AppError::InvalidGrant);
            }
            match self.spend_code(row, &sealed, last_step, Code::Either(code), then, outcome, client).await? {
                Some(_) => Ok(()),
                None => Err(AppError::InvalidGrant),
            }
        };
        match self.as_login_attempt(&row.username, client, true, check).await {
            Ok(()) => Ok(()),
            Err(AppError::InvalidGrant) => {
                let event = NewEvent::new(EventType::MfaFailed).user(&row.id).actor(&row.id).client(client);
                let (event, field, message) = if wrong_password.load(Ordering::Relaxed) {
                    let event = NewEvent::new(EventType::LoginFailed).user(&row.id).actor(&row.id).client(client);
                    (event.detail("reason", "confirmation"), "password", WRONG_PASSWORD)
                } else {
                    (event.detail("during", during).detail("method", Code::Either(code).method()), "code", WRONG_CODE)
                };
                audit::insert(&self.db, &event).await?;
                Err(AppError::field(field, message))
            }
            Err(e) => Err(e),
        }
    }

    /// Ten new recovery codes for `user_id`, and their stored forms.
    fn new_codes(&self, user_id: &str) -> (Vec<String>, Vec<String>) {
        let codes = totp::new_recovery_codes();
        let hashes = codes
            .iter()
            .filter_map(|code| totp::normalise_recovery_code(code))
            .map(|code| self.mfa.recovery_code_hash(user_id, &code))
            .collect();
        (codes, hashes)
    }

    /// Stops start-up with one line when the master key does not open the stored TOTP secrets
    /// (another instance's key, a replaced key): else every code of those accounts would fail.
    pub async fn check_master_key(&self) -> Result<(), String> {
        let stored = mfa::any_secret(&self.db).await.map_err(|e| format!("cannot read the two-factor secrets: {e}"))?;
        match stored {
            Some((user_id, sealed)) if self.mfa.open(&sealed, &user_id).is_none() => {
                Err("GATEHOUSE_MASTER_KEY: it does not open the stored two-factor secrets (every instance on one \
                 database needs the same master key)"
                    .to_owned())
            }
            _ => Ok(()),
        }
    }

    /// Unused recovery codes of the caller (what the security page shows beside "New
    /// recovery codes").
    pub async fn recovery_codes_left(&self, caller: &CurrentUser) -> Result<i64, AppError> {
        Ok(mfa::unused_recovery_codes(&self.db, &caller.user.id).await?)
    }

    /// A stored (or pending) secret of `user_id`; one that does not open under the master key
    /// is logged and is a 500 (start-up checks one, so this means a damaged row).
    fn open_secret(&self, sealed: &str, user_id: &str) -> Result<Secret, AppError> {
        self.mfa.open(sealed, user_id).ok_or_else(|| {
            tracing::error!(user_id, "a TOTP secret does not open under the master key");
            AppError::Internal
        })
    }
}
