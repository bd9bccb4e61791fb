//! The one integration test binary: every test gets its own database, cloned from a migrated
//! template on a real PostgreSQL.

mod api_client;
mod fixtures;
mod harness;

mod api_pair;
mod browser;
mod browser_driver;
mod ops;
mod pages_actions;
mod pages_apps;
mod pages_auth;
mod pages_client;
mod sql_count;
mod tokens_domain;
