//! Calling the API in-process the way its clients do, and reading the answers.

#![allow(dead_code)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use actix_web::http::Method;
use actix_web::test::{call_service, read_body, TestRequest};
use serde_json::Value;

use crate::fixtures;
use crate::harness::TestApp;

/// A status, the headers and the body (JSON, or `Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// `resultCode`.
    pub fn code(&self) -> &str {
        self.body["resultCode"].as_str().unwrap_or("")
    }

    /// `resultMessage`.
    pub fn message(&self) -> &str {
        self.body["resultMessage"].as_str().unwrap_or("")
    }

    /// `action`.
    pub fn action(&self) -> &str {
        self.body["action"].as_str().unwrap_or("")
    }
}

/// Sends `req` and reads the answer.
pub async fn send<S, B>(app: &S, req: TestRequest) -> Answer
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = call_service(app, req.to_request()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = read_body(res).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// A request with credentials.
pub fn request(method: Method, uri: &str, auth: &str) -> TestRequest {
    TestRequest::default()
        .method(method)
        .uri(uri)
        .insert_header((AUTHORIZATION, auth.to_string()))
}

/// POST with a JSON body.
pub fn post_json(uri: &str, auth: &str, body: &Value) -> TestRequest {
    request(Method::POST, uri, auth)
        .insert_header((CONTENT_TYPE, "application/json"))
        .set_payload(body.to_string())
}

/// POST with a form body.
pub fn post_form(uri: &str, auth: &str, body: &str) -> TestRequest {
    request(Method::POST, uri, auth)
        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body.to_string())
}

/// POST with any content type and raw bytes.
pub fn post_raw(
    uri: &str,
    auth: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> TestRequest {
    request(Method::POST, uri, auth)
        .insert_header((CONTENT_TYPE, content_type.to_string()))
        .set_payload(body.into())
}

/// GET with credentials.
pub fn get(uri: &str, auth: &str) -> TestRequest {
    request(Method::GET, uri, auth)
}

/// A test application with the fixture catalog and an API key; returns the `Authorization`
/// value.
pub fn app_with_key() -> (TestApp, String) {
    let t = TestApp::new();
    let mut c = t.conn();
    fixtures::catalog(&mut c);
    let auth = fixtures::api_key(&mut c, "auth-server");
    (t, auth)
}
