//! Hand-written SQL that stays prepared. diesel never keeps a raw `sql_query` prepared (it
//! marks every one unsafe to cache, since its text could be anything), so PostgreSQL parses and
//! plans it on every call — for a statement of a few CTEs that is most of its cost (≈ 1–10 ms
//! of planning against ≈ 0.3 ms of execution for introspection's write). A [`Prepared`] has a
//! fixed text: diesel's statement cache keeps it prepared per connection.
//!
//! ```ignore
//! prepared!(SQL).text(subject).big_int(client_id).execute(conn)?;
//! ```
//!
//! Each [`prepared!`] call site is a type of its own, which is the statement's key in diesel's
//! cache: a cache keyed by the text would build the whole text and hash it on every call (4 %
//! of the connected-apps page's server CPU). A call site must therefore always run the same text
//! (a `const`, or one `static`); the macro checks that it does.
//!
//! Parameters are given in the order of their numbers (`$1`, `$2`, …); a number may appear
//! several times in the text.

use std::marker::PhantomData;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// One parameter value with its SQL type.
#[derive(Debug, Clone)]
enum Param {
    Text(String),
    NullableText(Option<String>),
    BigInt(i64),
    NullableBigInt(Option<i64>),
    Bool(bool),
    Timestamptz(DateTime<Utc>),
    NullableTimestamptz(Option<DateTime<Utc>>),
    TextArray(Vec<String>),
    BigIntArray(Vec<i64>),
    NullableTextArray(Option<Vec<String>>),
    Jsonb(serde_json::Value),
    NullableJsonb(Option<serde_json::Value>),
}

/// The statement `$sql` (a `&'static str` that this call site always gives the same), kept
/// prepared per connection under a key of its own; parameters to follow.
macro_rules! prepared {
    ($sql:expr) => {{
        enum CallSite {}
        static SITE: ::std::sync::OnceLock<$crate::db::prepared::Site> =
            ::std::sync::OnceLock::new();
        $crate::db::prepared::Prepared::<CallSite>::at($sql, &SITE)
    }};
}
pub(crate) use prepared;

/// What a call site of [`prepared!`] remembers from its first run: its text, and the text cut at
/// its placeholders. diesel walks a statement at least twice per execution (for its parameters,
/// and for the text when the statement is not yet prepared on that connection): scanning a text
/// of a few kilobytes for `$` on every walk was 11 % of the connected-apps page's instructions
/// in the server (callgrind).
#[derive(Debug)]
pub struct Site {
    sql: &'static str,
    pieces: Vec<(&'static str, usize)>,
}

/// A statement with a fixed text and its parameters, kept prepared per connection; `S` is the
/// call site of [`prepared!`] (its key in diesel's statement cache), `ST` the SQL types of its
/// rows when they are read by position ([`Prepared::typed`]).
#[derive(Debug)]
pub struct Prepared<S, ST = Untyped> {
    pieces: &'static [(&'static str, usize)],
    params: Vec<Param>,
    site: PhantomData<(S, ST)>,
}

impl<S: 'static> Prepared<S> {
    /// The statement `sql` of the call site `S`, which `site` remembers.
    ///
    /// # Panics
    /// When the call site gives another text than at its first run: its cached statement would
    /// be the other one's (a bug, met by the first test that runs the call site both ways).
    pub fn at(sql: &'static str, site: &'static OnceLock<Site>) -> Self {
        let first = site.get_or_init(|| Site {
            sql,
            pieces: pieces(sql).collect(),
        });
        assert!(
            std::ptr::eq(first.sql, sql) || first.sql == sql,
            "a prepared! call site ran two different texts"
        );
        Prepared {
            pieces: &first.pieces,
            params: Vec::new(),
            site: PhantomData,
        }
    }

    /// The statement with rows of the SQL types `ST` (a tuple, nested past 16 columns), read by
    /// position into a `Queryable`: an untyped statement's rows go through `QueryableByName`,
    /// which finds every column of every row by its name (a third of what reading the
    /// connected-apps page's rows cost, callgrind).
    pub fn typed<ST>(self) -> Prepared<S, ST> {
        Prepared {
            pieces: self.pieces,
            params: self.params,
            site: PhantomData,
        }
    }

    fn with(mut self, p: Param) -> Self {
        self.params.push(p);
        self
    }

    /// The next parameter, `text`.
    pub fn text(self, v: impl Into<String>) -> Self {
        self.with(Param::Text(v.into()))
    }

    /// The next parameter, `text` or NULL.
    pub fn nullable_text(self, v: Option<impl Into<String>>) -> Self {
        self.with(Param::NullableText(v.map(Into::into)))
    }

    /// The next parameter, `bigint`.
    pub fn big_int(self, v: i64) -> Self {
        self.with(Param::BigInt(v))
    }

    /// The next parameter, `bigint` or NULL.
    pub fn nullable_big_int(self, v: Option<i64>) -> Self {
        self.with(Param::NullableBigInt(v))
    }

    /// The next parameter, `boolean`.
    pub fn bool(self, v: bool) -> Self {
        self.with(Param::Bool(v))
    }

    /// The next parameter, `timestamptz`.
    pub fn timestamptz(self, v: DateTime<Utc>) -> Self {
        self.with(Param::Timestamptz(v))
    }

    /// The next parameter, `timestamptz` or NULL.
    pub fn nullable_timestamptz(self, v: Option<DateTime<Utc>>) -> Self {
        self.with(Param::NullableTimestamptz(v))
    }

    /// The next parameter, `text[]`.
    pub fn text_array(self, v: &[String]) -> Self {
        self.with(Param::TextArray(v.to_vec()))
    }

    /// The next parameter, `bigint[]`.
    pub fn big_int_array(self, v: &[i64]) -> Self {
        self.with(Param::BigIntArray(v.to_vec()))
    }

    /// The next parameter, `text[]` or NULL.
    pub fn nullable_text_array(self, v: Option<&[String]>) -> Self {
        self.with(Param::NullableTextArray(v.map(<[String]>::to_vec)))
    }

    /// The next parameter, `jsonb`.
    pub fn jsonb(self, v: &serde_json::Value) -> Self {
        self.with(Param::Jsonb(v.clone()))
    }

    /// The next parameter, `jsonb` or NULL.
    pub fn nullable_jsonb(self, v: Option<serde_json::Value>) -> Self {
        self.with(Param::NullableJsonb(v))
    }
}

/// The text cut at its placeholders: `(text before, placeholder number)`, the last piece with
/// number 0. diesel numbers binds itself as it writes them, so every occurrence of a
/// placeholder becomes a bind of its own, with the same value. Cut once per call site
/// ([`Site`]).
fn pieces(sql: &str) -> impl Iterator<Item = (&str, usize)> + '_ {
    let bytes = sql.as_bytes();
    let (mut start, mut i, mut done) = (0, 0, false);
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let mut j = i + 1;
                let mut n = 0usize;
                while let Some(&d) = bytes.get(j).filter(|d| d.is_ascii_digit()) {
                    n = n * 10 + usize::from(d - b'0');
                    j += 1;
                }
                let text = &sql[start..i];
                start = j;
                i = j;
                return Some((text, n));
            }
            i += 1;
        }
        if done {
            return None;
        }
        done = true;
        Some((&sql[start..], 0))
    })
}

impl<S, ST> QueryFragment<Pg> for Prepared<S, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for &(text, n) in self.pieces {
            out.push_sql(text);
            if n == 0 {
                continue;
            }
            let param = self.params.get(n - 1).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(format!("no parameter ${n}").into())
            })?;
            match param {
                Param::Text(v) => out.push_bind_param::<Text, _>(v)?,
                Param::NullableText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                Param::BigInt(v) => out.push_bind_param::<BigInt, _>(v)?,
                Param::NullableBigInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                Param::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
                Param::Timestamptz(v) => out.push_bind_param::<Timestamptz, _>(v)?,
                Param::NullableTimestamptz(v) => {
                    out.push_bind_param::<Nullable<Timestamptz>, _>(v)?
                }
                Param::TextArray(v) => out.push_bind_param::<Array<Text>, _>(v)?,
                Param::BigIntArray(v) => out.push_bind_param::<Array<BigInt>, _>(v)?,
                Param::NullableTextArray(v) => {
                    out.push_bind_param::<Nullable<Array<Text>>, _>(v)?
                }
                Param::Jsonb(v) => out.push_bind_param::<Jsonb, _>(v)?,
                Param::NullableJsonb(v) => out.push_bind_param::<Nullable<Jsonb>, _>(v)?,
            }
        }
        Ok(())
    }

    // Always: the text is fixed (what this type is for), so diesel need not walk the statement
    // once more to learn it.
    fn is_safe_to_cache_prepared(&self, _: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

// The call site is the id: diesel's cache finds the statement by it, without building the text.
impl<S: 'static, ST> QueryId for Prepared<S, ST> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S, ST> Query for Prepared<S, ST> {
    type SqlType = ST;
}

impl<S, ST, C> RunQueryDsl<C> for Prepared<S, ST> {}

#[cfg(test)]
mod tests {
    use super::pieces;

    // Each test has a helper of its own: a call site remembers its first text for the whole
    // process, so the two tests cannot share one.
    #[test]
    #[should_panic(expected = "two different texts")]
    fn a_call_site_that_changes_its_text_is_a_bug_found_at_once() {
        fn statement(sql: &'static str) -> super::Prepared<impl Sized> {
            prepared!(sql)
        }
        let _ = statement("SELECT 1");
        let _ = statement("SELECT 2");
    }

    #[test]
    fn one_text_from_a_call_site_is_fine_however_often() {
        fn statement(sql: &'static str) -> super::Prepared<impl Sized> {
            prepared!(sql)
        }
        let _ = statement("SELECT 1");
        let _ = statement("SELECT 1");
    }

    #[test]
    fn placeholders_are_found_with_their_numbers() {
        assert_eq!(
            pieces("a = $1 AND b = $12 OR c = $1").collect::<Vec<_>>(),
            vec![("a = ", 1), (" AND b = ", 12), (" OR c = ", 1), ("", 0)]
        );
        assert_eq!(
            pieces("'$' || x").collect::<Vec<_>>(),
            vec![("'$' || x", 0)]
        );
    }
}
