//! Parsed values: raw strings from a form or a request become these once, at the boundary.
//! No I/O here, so the same parsers run on the server and in the browser.

mod email;
mod full_name;
mod next_path;
mod password;
mod role;
mod username;

pub use email::Email;
pub use full_name::FullName;
pub use next_path::next_path;
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password};
pub use role::Role;
pub use username::Username;

/// Why a raw value was refused: a sentence fit to show next to the field.
pub type FieldError = &'static str;
