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

    TokenRefreshed = "T006001", "/auth/token: the refresh token was exchanged for a new access token (action OK).";
    TokenRequestInvalid = "T006002", "/auth/token: the client's request is malformed: a parameter missing or repeated (action BAD_REQUEST, invalid_request).";
    GrantTypeUnsupported = "T006003", "/auth/token: tokendesk handles grant_type=refresh_token only (action BAD_REQUEST, unsupported_grant_type).";
    ClientRefused = "T006004", "/auth/token, /auth/revocation: unknown client, wrong or missing secret (action INVALID_CLIENT, invalid_client).";
    RefreshTokenUnknown = "T006005", "/auth/token: no token has this refresh token, or another client's does (action BAD_REQUEST, invalid_grant).";
    RefreshTokenExpired = "T006006", "/auth/token: the refresh token has expired (action BAD_REQUEST, invalid_grant).";
    RefreshTokenReused = "T006007", "/auth/token: a refresh token already replaced by rotation: its token was revoked (action BAD_REQUEST, invalid_grant).";
    ScopeNotGranted = "T006008", "/auth/token: the request asks for a scope the refresh token does not hold (action BAD_REQUEST, invalid_scope).";
    DetailsNotGranted = "T006009", "/auth/token: the request asks for authorization details the token does not hold (action BAD_REQUEST, invalid_authorization_details).";

    IntrospectionAnswered = "T007001", "/auth/introspection/standard: the RFC 7662 answer is in responseContent (action OK; active may be false).";
    IntrospectionRequestInvalid = "T007002", "/auth/introspection/standard: the resource server's request is malformed (action BAD_REQUEST).";
    RevocationDone = "T008001", "/auth/revocation: the token is revoked, or was unknown (action OK).";
    RevocationRequestInvalid = "T008002", "/auth/revocation: the client's request is malformed, or the token is another client's (action BAD_REQUEST).";

    GrantedScopesRead = "T009001", "/client/granted_scopes/get: what the subject granted the client (null scopes: no grant).";
    GrantedScopesDeleted = "T009002", "/client/granted_scopes/delete: the grant and every token of the pair were revoked (count may be 0).";
}

impl Code {
    /// `[A135001] Updated the access token successfully.`
    pub fn message(self, text: impl AsRef<str>) -> String {
        format!("[{}] {}", self.id(), text.as_ref())
    }
}
