//! The one integration test binary: every test gets its own database, cloned from a migrated
//! template on a real PostgreSQL.

mod api_client;
mod cli_support;
mod fixtures;
mod harness;
mod pages_client;
mod sql_count;
mod staff_client;

mod admin_accounts;
mod admin_browser;
mod admin_catalog;
mod admin_credentials;
mod admin_roles;
mod api_concurrency;
mod api_create;
mod api_errors;
mod api_introspect;
mod api_list;
mod api_openapi;
mod api_pair;
mod api_revoke;
mod api_update;
mod bench_pages;
mod browser;
mod browser_driver;
mod cli;
mod cli_admin;
mod cluster;
mod ops;
mod pages_actions;
mod pages_apps;
mod pages_auth;
mod pages_sessions;
mod query_plans;
mod schema;
mod seed;
mod sessions_domain;
mod staff_atomic;
mod staff_browser;
mod staff_pair;
mod staff_roles;
mod staff_search;
mod staff_token_edit;
mod staff_token_rules;
mod tokens_domain;
