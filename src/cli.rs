//! The command line: one binary, `gatehouse`, whose subcommands read the same environment as
//! the server and act on the same database (`shared/spec/operations.md`). Exit codes: 0
//! success, 1 a runtime failure (one line on stderr), 2 a usage error (clap's own).

use crate::{
    config::Config,
    db::{Db, PoolSettings},
    server,
    state::AppState,
    users::service::{ListQuery, MAX_PAGE_SIZE},
};
use clap::{Parser, Subcommand};
use std::{io::BufRead as _, path::Path};

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "Accounts and JWT authentication: a web app and a JSON API")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default)
    Serve,
    /// Apply pending database migrations and exit (the server also does this at start)
    Migrate,
    /// Create an admin, or make an existing account an enabled admin with a new password.
    /// The password is read from standard input (one line), never from an argument
    CreateAdmin {
        /// The account's username
        username: String,
    },
    /// Print a single-use password reset link for an account (as the admin API makes one),
    /// for an operator locked out of every admin account
    ResetLink {
        /// The account's username
        username: String,
    },
    /// Remove an account's two-factor authentication (its person lost their authenticator
    /// and their recovery codes), for an operator locked out of every admin account
    RemoveMfa {
        /// The account's username
        username: String,
    },
    /// The accounts
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The keys access tokens are signed with
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// The keys in force as a table: kid, algorithm, state, signing from, retired at
    List,
    /// Make a new key: published at once, signing after GATEHOUSE_KEY_ROTATION_DELAY seconds
    Rotate,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// The accounts as a table: username, email, role, status, created
    List {
        /// Only accounts whose username or email contains this (ignoring case)
        #[arg(long)]
        query: Option<String>,
    },
}

impl Cli {
    /// Whether this command runs the server.
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }

    /// Runs the subcommand. Errors are one line for the operator.
    pub async fn run(self) -> Result<(), String> {
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => server::run().await,
            Command::Migrate => migrate().await,
            Command::CreateAdmin { username } => create_admin(&username).await,
            Command::ResetLink { username } => reset_link(&username).await,
            Command::RemoveMfa { username } => remove_mfa(&username).await,
            Command::Users { command: UsersCommand::List { query } } => list_users(query).await,
            Command::Keys { command: KeysCommand::List } => list_keys().await,
            Command::Keys { command: KeysCommand::Rotate } => rotate_key().await,
        }
    }
}

fn config() -> Result<Config, String> {
    Config::from_env(Path::new("data")).map_err(|e| e.to_string())
}

/// The services, as the server builds them (no page is rendered: the site options are moot).
async fn state() -> Result<AppState, String> {
    let options = leptos::config::LeptosOptions::builder().output_name("gatehouse").build();
    server::build_state(&config()?, options).await
}

async fn migrate() -> Result<(), String> {
    let config = config()?;
    let db = Db::connect(&config.database_url, PoolSettings { max_connections: 1, ..PoolSettings::default() })
        .await
        .map_err(|e| format!("GATEHOUSE_DATABASE_URL: cannot open the database: {e}"))?;
    db.migrate().await.map_err(|e| format!("migrating the database failed: {e}"))?;
    db.close().await;
    println!("The database is up to date.");
    Ok(())
}

async fn create_admin(username: &str) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password).map_err(|e| format!("cannot read the password: {e}"))?;
    let password = password.strip_suffix('\n').unwrap_or(&password);
    let password = password.strip_suffix('\r').unwrap_or(password);
    let state = state().await?;
    let outcome = state.auth.set_up_admin(username, password).await;
    state.db.close().await;
    println!("{}", outcome?);
    Ok(())
}

async fn remove_mfa(username: &str) -> Result<(), String> {
    let state = state().await?;
    let removed = state.auth.remove_mfa_for_operator(username).await;
    state.db.close().await;
    let removed = removed.map_err(|e| match e {
        crate::error::AppError::NotFound => format!("no account is named {username:?}"),
        crate::error::AppError::Conflict { .. } => format!("{username} has no two-factor authentication"),
        other => format!("cannot remove the second factor: {other}"),
    });
    let username = removed?;
    println!("Removed the two-factor authentication of {username}: its next login needs only the password.");
    Ok(())
}

async fn reset_link(username: &str) -> Result<(), String> {
    let state = state().await?;
    // The origin people reach this server at: GATEHOUSE_PUBLIC_URL, else the listen address.
    let origin = match &state.public_url {
        Some(url) => url.to_string(),
        None => format!("http://{}", std::env::var("LEPTOS_SITE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into())),
    };
    let link = state.auth.reset_link_for_operator(username, &origin).await;
    state.db.close().await;
    let link = link.map_err(|e| match e {
        crate::error::AppError::NotFound => format!("no account is named {username:?}"),
        other => format!("cannot make a reset link: {other}"),
    })?;
    println!("{}", link.reset_url);
    println!("It works once, until {}. Hand it to the person yourself; a newer link voids it.", link.expires_at);
    Ok(())
}

async fn list_users(query: Option<String>) -> Result<(), String> {
    let state = state().await?;
    let mut rows = vec![["USERNAME".to_owned(), "EMAIL".into(), "ROLE".into(), "STATUS".into(), "CREATED".into()]];
    let mut offset = 0;
    loop {
        let query = ListQuery { q: query.clone(), limit: Some(MAX_PAGE_SIZE), offset: Some(offset) };
        let page = state.users.list_for_operator(query).await.map_err(|e| format!("cannot list the accounts: {e}"))?;
        for user in &page.items {
            rows.push([
                user.username.clone(),
                user.email.clone().unwrap_or_else(|| "-".into()),
                user.role.as_str().to_owned(),
                if user.disabled { "disabled" } else { "enabled" }.to_owned(),
                user.created_at.clone(),
            ]);
        }
        offset += page.limit;
        if page.items.is_empty() || offset >= page.total {
            break;
        }
    }
    state.db.close().await;
    print!("{}", table(&rows));
    Ok(())
}

async fn list_keys() -> Result<(), String> {
    let state = state().await?;
    let keys = state.auth.signing_keys_for_operator().await;
    state.db.close().await;
    let keys = keys.map_err(|e| format!("cannot list the signing keys: {e}"))?;
    let mut rows = vec![["KID".to_owned(), "ALG".into(), "STATE".into(), "SIGNING FROM".into(), "RETIRED AT".into()]];
    for key in keys {
        rows.push([
            key.kid,
            key.alg,
            key.state,
            timestamp(key.signing_from),
            key.retired_at.map_or("-".into(), timestamp),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

async fn rotate_key() -> Result<(), String> {
    let state = state().await?;
    let key = state.auth.rotate_signing_key().await;
    state.db.close().await;
    let key = key.map_err(|e| format!("cannot rotate the signing key: {e}"))?;
    println!("New signing key {} ({}), published now, signing from {}.", key.kid, key.alg, timestamp(key.signing_from));
    Ok(())
}

/// A stored time (microseconds since the epoch) as RFC 3339, to the second.
fn timestamp(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(micros.div_euclid(1_000_000))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| micros.to_string())
}

/// Rows as left-aligned columns two spaces apart.
fn table(rows: &[[String; 5]]) -> String {
    let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
