//! Picking a client by what staff type in a filter: its number, its alias, or any part of its
//! name in any case ("photo" finds Photo Printer), the same "contains, any case" rule as the
//! user search. The clients table is the authorization server's registry (tens to thousands of
//! rows), so the name match is a scan of it, cheaper than keeping an index for it.

use diesel::prelude::*;

use super::like_escape;
use crate::db::schema::clients;
use crate::error::{AppResult, FieldError};

/// At most this many clients are named when a name matches several.
const NAMED: i64 = 5;

/// What was typed in `field`, as one client id, or why it names none (several, or none).
pub fn pick_client(
    conn: &mut PgConnection,
    field: &str,
    typed: &str,
) -> AppResult<Result<i64, FieldError>> {
    let typed = typed.trim();
    if let Some(found) = crate::tokens::find_client(conn, typed)? {
        return Ok(Ok(found.client_id));
    }
    if typed.contains('\0') {
        return Ok(Err(FieldError::new(
            field,
            "No client has that name, id or alias.",
        )));
    }
    let matches: Vec<(i64, String)> = clients::table
        .filter(clients::name.ilike(format!("%{}%", like_escape(typed))))
        .order((clients::name, clients::client_id))
        .select((clients::client_id, clients::name))
        .limit(NAMED + 1)
        .load(conn)?;
    Ok(match matches.as_slice() {
        [(id, _)] => Ok(*id),
        [] => Err(FieldError::new(
            field,
            format!("No client has a name, id or alias matching “{typed}”."),
        )),
        several => {
            let named: Vec<String> = several
                .iter()
                .take(NAMED as usize)
                .map(|(id, name)| format!("{name} ({id})"))
                .collect();
            let more = if several.len() as i64 > NAMED {
                " and more"
            } else {
                ""
            };
            Err(FieldError::new(
                field,
                format!(
                    "Several clients’ names contain “{typed}”: {}{more}. Type more of the \
                     name, or the id.",
                    named.join(", ")
                ),
            ))
        }
    })
}
