//! One module per URL.

pub mod admin_audit;
pub mod admin_user;
pub mod admin_users;
pub mod home;
pub mod login;
pub mod me;
pub mod not_found;
pub mod reset_password;
pub mod security;
pub mod signup;
