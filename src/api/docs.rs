//! `/api/docs`: the API reference as a page, rendered on the server from the same OpenAPI
//! document `/api/openapi.json` serves (so the two cannot disagree): every operation by tag
//! with its parameters, body and answers, and every schema with its fields. No JavaScript and
//! nothing from a CDN, so it works under the strict Content-Security-Policy and offline.

use askama::Template;
use askama_web::WebTemplate;
use serde_json::Value;
use utoipa::OpenApi;

use super::openapi::ApiDoc;

/// A type as the page writes it, and the schema it names, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeView {
    pub text: String,
    /// The anchor of the schema it refers to (`#schema-TokenUpdateRequest`).
    pub link: Option<String>,
}

/// One field of a schema, or one parameter of an operation.
#[derive(Debug, Clone)]
pub struct FieldView {
    pub name: String,
    pub kind: TypeView,
    pub required: bool,
    /// Where a parameter goes (`path`, `query`); empty for schema fields.
    pub location: String,
    pub description: String,
}

/// One possible answer.
#[derive(Debug, Clone)]
pub struct ResponseView {
    pub status: String,
    pub description: String,
    pub body: Option<TypeView>,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct OperationView {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<FieldView>,
    /// The body's schema and the content types it may be sent as.
    pub body: Option<(TypeView, Vec<String>)>,
    pub responses: Vec<ResponseView>,
    pub secured: bool,
}

/// The operations of one tag.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub name: String,
    pub description: String,
    pub operations: Vec<OperationView>,
}

/// One schema of `components`.
#[derive(Debug, Clone)]
pub struct SchemaView {
    pub anchor: String,
    pub name: String,
    pub description: String,
    pub kind: TypeView,
    pub fields: Vec<FieldView>,
}

/// `/api/docs`.
#[derive(Template, WebTemplate)]
#[template(path = "api/docs.html")]
pub struct ApiDocsPage {
    pub title: String,
    pub version: String,
    pub description: String,
    pub groups: Vec<GroupView>,
    pub schemas: Vec<SchemaView>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// How a JSON Schema reads: `string`, `integer (int64)`, `array of PropertyDto`, `one of OK,
/// BAD_REQUEST`, with `or null` for nullable ones.
pub fn type_of(s: &Value) -> TypeView {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r).to_string();
        return TypeView {
            link: Some(format!("#schema-{name}")),
            text: name,
        };
    }
    if let Some(options) = s.get("oneOf").or(s.get("anyOf")).and_then(Value::as_array) {
        let views: Vec<TypeView> = options.iter().map(type_of).collect();
        return TypeView {
            text: views
                .iter()
                .map(|v| v.text.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
            link: views.into_iter().find_map(|v| v.link),
        };
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        return TypeView {
            text: format!("one of {}", names.join(", ")),
            link: None,
        };
    }
    let types: Vec<String> = match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let nullable = types.iter().any(|t| t == "null");
    let main = types.iter().find(|t| *t != "null").cloned();
    let mut view = match main.as_deref() {
        Some("array") => {
            let items = s.get("items").map(type_of).unwrap_or_default();
            TypeView {
                text: format!("array of {}", items.text),
                link: items.link,
            }
        }
        Some(t) => TypeView {
            text: match s.get("format").and_then(Value::as_str) {
                Some(f) => format!("{t} ({f})"),
                None => t.to_string(),
            },
            link: None,
        },
        None if nullable => TypeView {
            text: "null".into(),
            link: None,
        },
        None => TypeView {
            text: "any".into(),
            link: None,
        },
    };
    if nullable && main.is_some() {
        view.text.push_str(" or null");
    }
    view
}

fn fields_of(schema: &Value) -> Vec<FieldView> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| FieldView {
                    name: name.clone(),
                    kind: type_of(p),
                    required: required.contains(&name.as_str()),
                    location: String::new(),
                    // A `oneOf` wrapping a `$ref` carries the description inside.
                    description: Some(text(p, "description"))
                        .filter(|d| !d.is_empty())
                        .or_else(|| {
                            p.get("oneOf").and_then(Value::as_array).and_then(|o| {
                                o.iter()
                                    .map(|x| text(x, "description"))
                                    .find(|d| !d.is_empty())
                            })
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn operation(path: &str, method: &str, op: &Value) -> OperationView {
    let parameters = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| FieldView {
                    name: text(p, "name"),
                    kind: p.get("schema").map(type_of).unwrap_or_default(),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    location: text(p, "in"),
                    description: text(p, "description"),
                })
                .collect()
        })
        .unwrap_or_default();
    let body = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
        .and_then(|content| {
            let schema = content.values().find_map(|c| c.get("schema"))?;
            Some((type_of(schema), content.keys().cloned().collect()))
        });
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .map(|rs| {
            rs.iter()
                .map(|(status, r)| ResponseView {
                    status: status.clone(),
                    description: text(r, "description"),
                    body: r
                        .get("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.values().find_map(|x| x.get("schema")))
                        .map(type_of),
                })
                .collect()
        })
        .unwrap_or_default();
    OperationView {
        anchor: format!(
            "op-{method}-{}",
            path.trim_start_matches('/').replace(['/', '{', '}'], "-")
        ),
        method: method.to_uppercase(),
        path: path.to_string(),
        summary: text(op, "summary"),
        description: text(op, "description"),
        parameters,
        body,
        responses,
        secured: op.get("security").is_some(),
    }
}

/// The page's contents, from an OpenAPI 3 document.
pub fn page_of(doc: &Value) -> ApiDocsPage {
    let mut groups: Vec<GroupView> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .map(|t| GroupView {
                    name: text(t, "name"),
                    description: text(t, "description"),
                    operations: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let tag = op
                .get("tags")
                .and_then(Value::as_array)
                .and_then(|t| t.first())
                .and_then(Value::as_str)
                .unwrap_or("other")
                .to_string();
            if !groups.iter().any(|g| g.name == tag) {
                groups.push(GroupView {
                    name: tag.clone(),
                    description: String::new(),
                    operations: Vec::new(),
                });
            }
            if let Some(g) = groups.iter_mut().find(|g| g.name == tag) {
                g.operations.push(operation(path, method, op));
            }
        }
    }
    groups.retain(|g| !g.operations.is_empty());
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|s| {
            s.iter()
                .map(|(name, schema)| SchemaView {
                    anchor: format!("schema-{name}"),
                    name: name.clone(),
                    description: text(schema, "description"),
                    kind: type_of(schema),
                    fields: fields_of(schema),
                })
                .collect()
        })
        .unwrap_or_default();
    let info = doc.get("info").cloned().unwrap_or_default();
    ApiDocsPage {
        title: text(&info, "title"),
        version: text(&info, "version"),
        description: text(&info, "description"),
        groups,
        schemas,
    }
}

/// `GET /api/docs`: needs no credentials, like the document it renders.
pub async fn page() -> ApiDocsPage {
    page_of(&serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_read_as_words() {
        assert_eq!(type_of(&json!({"type": "string"})).text, "string");
        assert_eq!(
            type_of(&json!({"type": ["integer", "null"], "format": "int64"})).text,
            "integer (int64) or null"
        );
        let list = type_of(
            &json!({"type": "array", "items": {"$ref": "#/components/schemas/PropertyDto"}}),
        );
        assert_eq!(list.text, "array of PropertyDto");
        assert_eq!(list.link.as_deref(), Some("#schema-PropertyDto"));
        assert_eq!(
            type_of(&json!({"enum": ["OK", "NOT_FOUND"]})).text,
            "one of OK, NOT_FOUND"
        );
    }
}
