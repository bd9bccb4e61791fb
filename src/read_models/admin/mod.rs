//! What the admin console reads: the lists of clients, scopes and credentials (the account
//! list is the user search's, `super::users`), the history of one object, and admin events in
//! words. One statement per list. Clients, scopes and credentials are registries of tens to
//! thousands of rows, so their searches read the table; accounts can be millions, and their
//! search is served by indexes.

pub mod accounts;
pub mod clients;
pub mod credentials;
pub mod history;
pub mod scopes;
pub mod words;
