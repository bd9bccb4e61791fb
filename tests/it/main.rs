//! The one integration test binary: every test gets its own database, cloned from a migrated
//! template on a real PostgreSQL.

mod api_client;
mod fixtures;
mod harness;

mod api_pair;
mod ops;
mod tokens_domain;
