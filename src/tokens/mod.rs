//! The domain: what can happen to issued tokens. Plain functions over `&mut PgConnection`,
//! shared by the JSON API, the pages and the command line; each writes its audit events in the
//! transaction of its change.

mod sweep;

pub use sweep::sweep_expired;
