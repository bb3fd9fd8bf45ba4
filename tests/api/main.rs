//! The integration tests, one binary: the app is linked once, not once per area.
#![cfg(feature = "ssr")]

mod helpers;

mod accounts;
mod admin;
mod admin_tools;
mod architecture;
mod audit;
mod auth_cache;
mod cli;
mod config_files;
mod hardening;
mod instances;
mod keys;
mod load;
mod logs;
mod mfa;
mod openapi;
mod purge;
mod resource_server;
mod self_service;
mod server_fns;
mod startup;
mod tokens;
