//! Signed-in sessions: the server-side record that makes a session cookie valid.
//!
//! The cookie (`web::session`) carries one random session id; PostgreSQL keeps its SHA-256 in
//! `sessions`, one row per sign-in. Every signed-in request checks the row and reads the
//! account in one statement ([`check`]), so that a session ended here — signed out, signed
//! out everywhere, ended by an account change or by an OpenID Provider's back-channel logout —
//! stops working on every instance at once, copies of its cookie included.
//!
//! - [`start`] records a sign-in (a new id every time, so no session is ever fixed by someone
//!   else) and clears the account's dead rows;
//! - [`check`] applies the idle and absolute time-outs and rewrites `last_seen_at` at most once a
//!   minute;
//! - [`end_session`] (sign-out), [`end_account_sessions`] (every session of an account: sign out
//!   everywhere, a disable, a role change, a new password), [`sign_out_everywhere`] (every other
//!   session, and a new id for this one) and [`end_sessions_by_oidc`] (back-channel logout) end
//!   them, the last three with an audit event in the caller's transaction;
//! - [`sweep_sessions`] deletes rows that can no longer open anything.

mod end;
mod record;
mod sweep;

pub use end::{
    end_account_sessions, end_session, end_sessions_by_oidc, sign_out_everywhere, EndReason,
    Renewed,
};
pub use record::{check, start, Check, Limits, Live, Proof, SEEN_GRANULARITY_SECS};
pub use sweep::sweep_sessions;
