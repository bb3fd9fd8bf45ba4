//! Reusable view pieces.

pub mod alert;
pub mod dialog;
pub mod field;
pub mod nav;
pub mod submit;
