//! The one integration test binary: every test gets its own database, cloned from a migrated
//! template on a real PostgreSQL.

mod cli_support;
mod harness;

mod cli;
mod cluster;
mod ops;
mod schema;
mod seed;
