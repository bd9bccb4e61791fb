//! Structured logs with a request id on every line of a request, and that id on error pages.
//!
//! In the text format every field value that is not a plain word (letters, digits and
//! `. _ - : / { } @ + * % [ ]`) is written quoted, with quotes, backslashes and control
//! characters escaped ([`QuotedFields`]), and the message has its control characters escaped:
//! whatever a request carries, it cannot add a field (`x=1 request_id=forged`) or a line. The
//! JSON format escapes by construction.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use std::io::IsTerminal;
use std::time::Instant;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use std::fmt;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::EnvFilter;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Installs the global log subscriber: `RUST_LOG` filters (default `default_filter`),
/// `TOKENDESK_LOG_FORMAT=json` switches to one JSON object per line. Logs go to standard error.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // The per-request root span carries the request id: keep it enabled whatever the filter,
    // so that every line logged while serving a request says which request it belongs to.
    let filter = match "tokendesk::request=info".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let json = std::env::var("TOKENDESK_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().fmt_fields(QuotedFields).try_init()
    };
}

/// The text-format subscriber of [`init`], writing to `writer` with `filter`: for tests that
/// read what is logged.
pub fn text_subscriber<W>(filter: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(writer)
        .with_ansi(false)
        .compact()
        .fmt_fields(QuotedFields)
        .finish()
}

/// Formats the fields of a text log line: `name=value`, the value quoted and escaped unless it
/// is a plain word, the message with its control characters escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuotedFields;

impl<'w> FormatFields<'w> for QuotedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = QuotedVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct QuotedVisitor<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
    first: bool,
}

impl QuotedVisitor<'_> {
    fn write(&mut self, field: &Field, text: &str) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if field.name() == "message" {
            write!(self.writer, "{separator}{}", escape_controls(text))
        } else if is_plain(text) {
            write!(self.writer, "{separator}{}={text}", field.name())
        } else {
            write!(self.writer, "{separator}{}={text:?}", field.name())
        };
    }
}

impl Visit for QuotedVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

/// A value written without quotes: a non-empty word that cannot be read as two fields.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'.' | b'_'
                        | b'-'
                        | b':'
                        | b'/'
                        | b'{'
                        | b'}'
                        | b'@'
                        | b'+'
                        | b'*'
                        | b'%'
                        | b'['
                        | b']'
                )
        })
}

/// Control characters escaped (`\n`, `\u{1b}`), everything else as it is.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The id of the request being served, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| "-".to_string())
}

/// Makes the request id (from `TracingLogger`) available to error rendering, returns it to the
/// caller as `X-Request-Id`, records the matched route in the request's span, and writes one
/// access-log line per request (inside that span, so it carries the id, method and route).
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let started = Instant::now();
    let mut res = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    let route = res.request().match_pattern();
    tracing::Span::current().record("http.route", route.as_deref().unwrap_or("unmatched"));
    tracing::info!(
        target: "tokendesk::access",
        status = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request served"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// The root span of every request: method, route pattern, client address and request id.
///
/// Unlike the default span it never records the raw path or query string, which may carry a
/// token value (`DELETE /api/auth/token/delete/{identifier}`, a pasted token in a form); the
/// route pattern says which endpoint was hit without saying with what.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        // The route is recorded once the router has matched it (`request_id`): asked here,
        // before routing, actix would match the path against every route a second time, which
        // cost 8 % of an introspection's server CPU.
        let client_ip = crate::client_address::of_service_request(request);
        tracing::info_span!(
            target: "tokendesk::request",
            "request",
            http.method = %request.method(),
            http.route = tracing::field::Empty,
            http.client_ip = %client_ip,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
