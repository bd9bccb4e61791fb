//! Grants: one record per client + subject pair — what this user granted this app — kept in
//! step with the pair's tokens by every domain function that changes tokens, in the same
//! transaction (`maintain`). The pages and the authorization list read grants instead of
//! aggregating tokens, so they cost O(apps), not O(tokens).
//!
//! A grant carries:
//!
//! - the summary of its tokens (`token_count`, first authorized, last used, last refreshed,
//!   `live_until`) and, per scope, until when some token holds it (`grant_scopes.held_until`):
//!   pure functions of the tokens, so "has access" (`live_until > now`) and "holds write"
//!   (`held_until > now`) stay true as time passes without a write;
//! - the time limit ("allow until", [`limit`]);
//! - per scope, when a resource server last needed it ([`needs`]);
//! - requests per day ([`usage`]).
//!
//! The design, who maintains what and the rules are in `docs/GRANTS.md`.

pub mod limit;
pub mod maintain;
pub mod needs;
pub mod usage;

pub use limit::{set_limit, LimitChange, LimitOutcome};
pub use maintain::{rebuild_all, refresh_pair};
pub use needs::{remove_unused, Need, RemovedUnused, ScopeUse, UNUSED_DAYS, UNUSED_REASON};
pub use usage::UsageCounter;
