//! tokendesk as a Shared Signals (SSF 1.0) transmitter: it tells resource servers and apps at
//! once when a token or an app's access is narrowed, shortened or revoked, with CAEP
//! `token-claims-change` and `session-revoked` Security Event Tokens (RFC 8417), pushed
//! (RFC 8935) or polled (RFC 8936). `docs/SIGNALS.md` is the reference.
//!
//! How a change becomes a delivered SET:
//!
//! 1. every token change writes its audit event in its transaction (`crate::audit`); the
//!    database trigger `audit_events_signal` (migration `2026-12-01-008000_shared_signals`)
//!    derives the CAEP event of each audit row (`ssf_event_of`) and writes one [`outbox`] row
//!    per stream that wants it, in the same transaction — a change that rolls back sends
//!    nothing, a committed one is never lost (on Citus, which takes no triggers on distributed
//!    tables, the writers call `crate::audit::outbox` instead);
//! 2. the delivery [`worker`] inside `serve` claims due rows (`FOR UPDATE SKIP LOCKED`, a lease
//!    that expires), builds and signs each SET ([`set`], [`keys`]) and pushes it ([`push`]),
//!    retrying with backoff and dead-lettering permanent refusals;
//! 3. or the receiver polls ([`poll`]) the same rows.
//!
//! Receivers ([`receivers`]) manage their own [`streams`] through the stream management API
//! (`crate::api::ssf`, the door).

pub mod claim;
pub mod keys;
pub mod outbox;
pub mod poll;
pub mod push;
pub mod receivers;
pub mod set;
pub mod settings;
pub mod stream_config;
pub mod streams;
pub mod subjects;
pub mod wakeup;
pub mod worker;

pub use settings::{DefaultSubjects, Listen, SignalSettings};

/// CAEP: a session (here: a token, or every token of an app) was revoked.
pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// CAEP: a token's claims (here: `scope`, `exp`) changed.
pub const TOKEN_CLAIMS_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/token-claims-change";
/// SSF: the answer to a verification request.
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
/// SSF: the transmitter changed a stream's status.
pub const STREAM_UPDATED: &str =
    "https://schemas.openid.net/secevent/ssf/event-type/stream-updated";

/// The events a receiver may ask for (`events_supported`). Verification and stream-updated
/// events are sent on every stream whatever it asked (SSF §8.1.4, §8.1.5).
pub const EVENTS_SUPPORTED: &[&str] = &[SESSION_REVOKED, TOKEN_CLAIMS_CHANGE];

/// Push delivery (RFC 8935).
pub const PUSH: &str = "urn:ietf:rfc:8935";
/// Poll delivery (RFC 8936).
pub const POLL: &str = "urn:ietf:rfc:8936";
