//! Result codes. Success codes of the five Authlete operations are Authlete's own; every other
//! code is tokendesk's, stable once published, and listed in `docs/API.md` (a test keeps the
//! list complete).

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $meaning:literal; )*) => {
        /// A `resultCode`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $( $(#[$doc])* $name, )*
        }

        impl Code {
            /// Every code, in the order of the reference.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The code as sent, e.g. `A135001`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$name => $id,)* }
            }

            /// What it means, for the reference.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$name => $meaning,)* }
            }
        }
    };
}

codes! {
    TokenUpdated = "A135001", "/auth/token/update: the access token was updated.";
    AuthorizationUpdated = "A138001", "/client/authorization/update: the pair's tokens were updated.";
    AuthorizationDeleted = "A137001", "/client/authorization/delete: the pair's tokens were deleted.";
    TokenCreated = "A109001", "/auth/token/create: the token was created.";
    TokenValid = "A056001", "/auth/introspection: the access token is valid for this request.";

    ClientsListed = "T001001", "/client/authorization/get/list: the page of clients.";
    TokensListed = "T001002", "/auth/token/get/list: the page of tokens.";
    TokensRevoked = "T001003", "/auth/token/revoke: the tokens named were revoked (count may be 0).";

    MalformedBody = "T000400", "The body (or query string) is not valid JSON or form data; the message says where.";
    Unauthenticated = "T000401", "Missing or wrong API key and secret (HTTP Basic).";
    WrongType = "T000402", "A field has the wrong type (e.g. a string where a number belongs).";
    NoEndpoint = "T000404", "No API endpoint at this path.";
    MethodNotAllowed = "T000405", "The endpoint exists but not with this HTTP method.";
    ConcurrentChange = "T000409", "The change collided with a concurrent one and could not be retried; send it again.";
    BodyTooLarge = "T000413", "The body is larger than 64 KiB.";
    UnsupportedMediaType = "T000415", "Content-Type is neither application/json nor application/x-www-form-urlencoded.";
    InternalError = "T000500", "Unexpected failure; the message carries the request id to give support.";
    Unavailable = "T000503", "The database cannot serve the call now (unreachable, lost, read-only, too slow); retry after Retry-After seconds.";

    MissingField = "T002001", "A required field is missing or null.";
    UnsupportedField = "T002002", "A field tokendesk does not implement carries a value (null, 0, false and empty are ignored).";
    InvalidValue = "T002003", "A field has a value that is not acceptable; the message names the field and why.";
    WindowTooWide = "T002004", "start/end: negative start, or a window wider than 100.";
    DuplicateField = "T002005", "The same field is given twice (query string and body, or repeated).";

    NoSuchToken = "T003001", "No access token with this value or hash.";
    TokenExpired = "T003002", "The access token has expired.";
    NoSuchClient = "T003003", "No client with this id or alias.";
    NoSuchAuthorization = "T003004", "The subject holds no token of this client.";

    IntrospectionUnknown = "T004001", "/auth/introspection: the token does not exist (action UNAUTHORIZED).";
    IntrospectionExpired = "T004002", "/auth/introspection: the token has expired (action UNAUTHORIZED).";
    IntrospectionInsufficientScopes = "T004003", "/auth/introspection: the token lacks a required scope (action FORBIDDEN).";
    IntrospectionSubjectMismatch = "T004004", "/auth/introspection: the token belongs to another subject (action FORBIDDEN).";

    Forbidden = "T005001", "The caller may not do this.";
}

impl Code {
    /// `[A135001] Updated the access token successfully.`
    pub fn message(self, text: impl AsRef<str>) -> String {
        format!("[{}] {}", self.id(), text.as_ref())
    }
}
