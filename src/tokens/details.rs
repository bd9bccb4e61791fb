//! Rich authorization details (RFC 9396) on tokens: what a grant allows beyond scope names
//! ("pay up to EUR 123.50 to this account"). Stored as the RFC's JSON array; accepted in that
//! shape or in Authlete's `{"elements": […]}` (with `dataTypes` for `datatypes` and extra fields
//! either flat or in the `otherFields` JSON string its libraries send); answered in Authlete's
//! shape by the Authlete-shaped endpoints and in the RFC's by the standard ones. People read each
//! detail in plain words ([`describe_detail`]); they may drop one, never widen one.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::FieldError;

/// At most this many details on one token.
pub const MAX_DETAILS: usize = 20;
/// At most this many bytes of JSON for all details of one token.
pub const MAX_DETAILS_BYTES: usize = 8 * 1024;
/// The string-array fields RFC 9396 §2.2 defines for every type.
const LIST_FIELDS: &[&str] = &["locations", "actions", "datatypes", "privileges"];

/// Checks and normalizes details given as the RFC array or as `{"elements": […]}`; `null` is
/// "none". Every element must be an object with a non-empty string `type`; the common fields
/// must have their RFC types. The result is the RFC array.
pub fn check_details(field: &str, given: &Value) -> Result<Option<Vec<Value>>, FieldError> {
    let elements = match given {
        Value::Null => return Ok(None),
        Value::Array(items) => items.clone(),
        Value::Object(o) => match o.get("elements") {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(FieldError::new(field, "\"elements\" must be an array")),
        },
        _ => {
            return Err(FieldError::new(
                field,
                "must be an array of objects (RFC 9396) or {\"elements\": [...]}",
            ))
        }
    };
    if elements.len() > MAX_DETAILS {
        return Err(FieldError::new(
            field,
            format!(
                "at most {MAX_DETAILS} details per token ({} given)",
                elements.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(elements.len());
    for (i, element) in elements.iter().enumerate() {
        out.push(normalize(field, i + 1, element)?);
    }
    let size = serde_json::to_vec(&out)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_DETAILS_BYTES {
        return Err(FieldError::new(
            field,
            format!("may hold at most {MAX_DETAILS_BYTES} bytes of JSON ({size} given)"),
        ));
    }
    Ok(Some(out))
}

fn normalize(field: &str, n: usize, element: &Value) -> Result<Value, FieldError> {
    let Value::Object(given) = element else {
        return Err(FieldError::new(
            field,
            format!("detail {n} must be an object"),
        ));
    };
    let mut out = Map::new();
    for (key, value) in given {
        match (key.as_str(), value) {
            // Authlete's libraries send every field of the element, unused ones as null.
            (_, Value::Null) => {}
            ("otherFields", Value::String(json)) => match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(extra)) => {
                    for (k, v) in extra {
                        out.entry(k).or_insert(v);
                    }
                }
                _ => {
                    return Err(FieldError::new(
                        field,
                        format!("detail {n}: \"otherFields\" must hold a JSON object"),
                    ))
                }
            },
            ("dataTypes", v) => {
                out.insert("datatypes".into(), v.clone());
            }
            (k, v) => {
                out.insert(k.to_string(), v.clone());
            }
        }
    }
    match out.get("type") {
        Some(Value::String(t)) if !t.trim().is_empty() && t.len() <= 200 => {}
        _ => {
            return Err(FieldError::new(
                field,
                format!("detail {n} needs a \"type\" (a string of 1 to 200 characters)"),
            ))
        }
    }
    for list in LIST_FIELDS {
        if let Some(v) = out.get(*list) {
            let ok = v
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.is_string()));
            if !ok {
                return Err(FieldError::new(
                    field,
                    format!("detail {n}: \"{list}\" must be an array of strings"),
                ));
            }
        }
    }
    if out.get("identifier").is_some_and(|v| !v.is_string()) {
        return Err(FieldError::new(
            field,
            format!("detail {n}: \"identifier\" must be a string"),
        ));
    }
    Ok(Value::Object(out))
}

/// Authlete's shape of stored details: `{"elements": […]}`, `dataTypes` for `datatypes`, the
/// other fields flat in each element as Authlete's API writes them.
pub fn to_authlete_shape(details: &Value) -> Value {
    let elements: Vec<Value> = details
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| match e {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| {
                        let k = if k == "datatypes" { "dataTypes" } else { k };
                        (k.to_string(), v.clone())
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
        .collect();
    serde_json::json!({ "elements": elements })
}

/// A fingerprint of one detail (SHA-256 of its JSON, base64url, 16 characters), so that a form
/// names the detail it removes by what it says, not by its position, which another change may
/// move.
pub fn detail_digest(detail: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let digest = Sha256::digest(detail.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(digest)[..16].to_string()
}

/// A detail in words, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailWords {
    /// The form's key for "remove this detail" ([`detail_digest`]).
    pub digest: String,
    /// `payment_initiation` → "Payment initiation".
    pub kind: String,
    pub actions: Vec<String>,
    pub locations: Vec<String>,
    /// Every `{currency, amount}` found, as "EUR 123.50", with the field it came from.
    pub amounts: Vec<String>,
    /// Data types, privileges and the identifier, each as "label: values".
    pub other: Vec<String>,
}

/// Reads one detail as words: its type, actions, locations, amounts where present, and the other
/// common fields.
pub fn describe_detail(detail: &Value) -> DetailWords {
    let strings = |key: &str| -> Vec<String> {
        detail
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = detail
        .get("type")
        .and_then(Value::as_str)
        .map(humanize)
        .unwrap_or_default();
    let mut amounts = Vec::new();
    if let Value::Object(o) = detail {
        for (key, value) in o {
            collect_amounts(key, value, &mut amounts);
        }
    }
    let mut other = Vec::new();
    for (key, label) in [("datatypes", "Data"), ("privileges", "Privileges")] {
        let values = strings(key);
        if !values.is_empty() {
            other.push(format!("{label}: {}", values.join(", ")));
        }
    }
    if let Some(id) = detail.get("identifier").and_then(Value::as_str) {
        other.push(format!("Identifier: {id}"));
    }
    DetailWords {
        digest: detail_digest(detail),
        kind,
        actions: strings("actions"),
        locations: strings("locations"),
        amounts,
        other,
    }
}

/// `{"currency": "EUR", "amount": "123.50"}` anywhere under `key` (one level of nesting is what
/// payment details use), as "EUR 123.50 (instructed amount)".
fn collect_amounts(key: &str, value: &Value, out: &mut Vec<String>) {
    let Value::Object(o) = value else { return };
    let amount = o.get("amount").and_then(|a| match a {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    if let (Some(currency), Some(amount)) = (o.get("currency").and_then(Value::as_str), amount) {
        out.push(format!(
            "{currency} {amount} ({})",
            humanize(key).to_lowercase()
        ));
        return;
    }
    for (k, v) in o {
        if v.is_object() {
            collect_amounts(k, v, out);
        }
    }
}

/// `payment_initiation` / `instructedAmount` → "Payment initiation" / "Instructed amount".
fn humanize(name: &str) -> String {
    let mut words = String::new();
    for (i, c) in name.chars().enumerate() {
        match c {
            '_' | '-' => words.push(' '),
            c if c.is_uppercase() && i > 0 => {
                words.push(' ');
                words.extend(c.to_lowercase());
            }
            c => words.push(c),
        }
    }
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payment() -> Value {
        json!({
            "type": "payment_initiation",
            "actions": ["initiate", "status"],
            "locations": ["https://bank.example/payments"],
            "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "creditorName": "Merchant A"
        })
    }

    #[test]
    fn both_shapes_give_the_rfc_array() {
        let rfc = check_details("authorizationDetails", &json!([payment()]))
            .unwrap()
            .unwrap();
        let authlete = json!({"elements": [{
            "type": "payment_initiation", "actions": ["initiate", "status"],
            "locations": ["https://bank.example/payments"], "dataTypes": null,
            "identifier": null, "privileges": null,
            "otherFields": "{\"instructedAmount\":{\"currency\":\"EUR\",\"amount\":\"123.50\"},\"creditorName\":\"Merchant A\"}"
        }]});
        assert_eq!(
            check_details("authorizationDetails", &authlete)
                .unwrap()
                .unwrap(),
            rfc
        );
        assert_eq!(
            to_authlete_shape(&Value::Array(rfc.clone()))["elements"][0]["type"],
            "payment_initiation"
        );
        assert_eq!(check_details("x", &Value::Null).unwrap(), None);
    }

    #[test]
    fn refusals_name_the_detail_and_field() {
        let err = check_details("authorizationDetails", &json!([{"actions": ["x"]}])).unwrap_err();
        assert!(
            err.message.contains("detail 1 needs a \"type\""),
            "{}",
            err.message
        );
        let err = check_details(
            "authorizationDetails",
            &json!([{"type": "t", "actions": "x"}]),
        )
        .unwrap_err();
        assert!(
            err.message.contains("\"actions\" must be an array"),
            "{}",
            err.message
        );
        let err = check_details("authorizationDetails", &json!("x")).unwrap_err();
        assert!(err.message.contains("must be an array"), "{}", err.message);
    }

    #[test]
    fn a_payment_reads_as_words() {
        let words = describe_detail(&payment());
        assert_eq!(words.kind, "Payment initiation");
        assert_eq!(words.actions, vec!["initiate", "status"]);
        assert_eq!(words.amounts, vec!["EUR 123.50 (instructed amount)"]);
        assert_eq!(words.digest.len(), 16);
    }
}
