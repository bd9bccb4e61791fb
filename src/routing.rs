//! How routes are laid out for the router.
//!
//! actix-web tries an application's routes in the order they were registered, and each route
//! with a `{segment}` in its path is tried by running its regular expression, which allocates
//! its captures even when it does not match. With every route of the product in one flat list,
//! an introspection call walked some 70 such routes of the pages, the console and the API before
//! reaching its own: a fifth of the server's CPU time per call. So the console (`/staff`,
//! `/admin`) and the API (`/api`) are each registered as a scope: a request elsewhere passes each
//! of them with one comparison of its prefix, and inside `/api` the fixed paths come before the
//! ones with segments.

/// `path` (a full route path, as the route lists declare it) relative to the scope `prefix` it
/// is registered in: `/staff/users` in `/staff` is `/users`, `/staff` itself is the empty path.
///
/// # Panics
/// When `path` is not under `prefix`: a route list that says otherwise is a bug, found at
/// start-up by every test.
pub fn within(prefix: &str, path: &'static str) -> &'static str {
    match path.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => panic!("route {path} is registered in the scope {prefix} but is not under it"),
    }
}

/// Whether a route path has a `{segment}`, which the router matches with a regular expression.
pub fn has_segments(path: &str) -> bool {
    path.contains('{')
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn paths_are_relative_to_their_scope() {
        assert_eq!(within("/staff", "/staff"), "");
        assert_eq!(
            within("/staff", "/staff/users/{subject}"),
            "/users/{subject}"
        );
        assert_eq!(
            within("/api", "/api/{serviceId}/auth/token"),
            "/{serviceId}/auth/token"
        );
    }

    #[test]
    #[should_panic(expected = "not under it")]
    fn a_path_outside_its_scope_is_refused() {
        within("/staff", "/staffing");
    }
}
