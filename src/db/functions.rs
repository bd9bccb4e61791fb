//! SQL functions used from diesel's query builder.

use diesel::sql_types::{Array, Nullable, Text};

diesel::define_sql_function! {
    /// `lower(text)`: for case-insensitive look-ups served by `lower(…)` indexes.
    fn lower(x: Text) -> Text;
}

diesel::define_sql_function! {
    /// `array_length(arr, 1)`.
    fn cardinality(x: Nullable<Array<Text>>) -> Nullable<diesel::sql_types::Integer>;
}
