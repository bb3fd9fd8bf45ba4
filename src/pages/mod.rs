//! One module per URL.

pub mod admin_users;
pub mod home;
pub mod login;
pub mod me;
pub mod not_found;
pub mod signup;
