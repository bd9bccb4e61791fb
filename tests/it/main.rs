//! The one integration test binary: every test gets its own database, cloned from a migrated
//! template on a real PostgreSQL.

mod fixtures;
mod harness;

mod ops;
mod tokens_domain;
