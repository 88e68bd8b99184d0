//! Logging in and out of the UI. With `SIGNALBOX_ADMIN_TOKEN` set, `/login` takes the token
//! and answers with a session cookie (HttpOnly, SameSite=Strict, Secure over https) holding
//! an expiry and its HMAC — never the token. Forms post here without JavaScript too.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the page header needs to know about the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Visitor {
    /// `SIGNALBOX_ADMIN_TOKEN` is set: changes need a login.
    pub token_configured: bool,
    /// The visitor may change things (logged in, or no token configured).
    pub may_change: bool,
}

/// Where to go after logging in: a path on this site, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

/// Whether the visitor is logged in.
#[server(prefix = "/api/ui", endpoint = "session")]
pub async fn session_state() -> Result<Visitor, ServerFnError> {
    Ok(Visitor {
        token_configured: super::admin_token_configured(),
        may_change: super::authorize().is_ok(),
    })
}

/// Over https (directly or behind a proxy that says so), the cookie is `Secure`.
#[cfg(feature = "ssr")]
fn served_over_https() -> bool {
    let forwarded = super::request().is_some_and(|r| {
        r.headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
            || r.uri.scheme_str() == Some("https")
    });
    forwarded || super::config().is_ok_and(|c| c.public_url.starts_with("https://"))
}

#[cfg(feature = "ssr")]
fn set_cookie(value: &str) {
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// Checks the admin token and starts a session; back to `next` (or `/login` with the error).
#[server(prefix = "/api/ui", endpoint = "login")]
pub async fn login(token: String, next: Option<String>) -> Result<bool, ServerFnError> {
    use super::{back_to, refusal, Back, Refused};
    use http::StatusCode;

    let next = safe_next(next.as_deref());
    let config = super::config()?;
    let form_page = Back::new("/login", None).with("next", next.clone());
    let header = |name: &str| {
        super::request().and_then(|r| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        })
    };
    if super::cross_site(
        header("sec-fetch-site").as_deref(),
        header("origin").as_deref(),
        header("host").as_deref(),
    ) {
        return Err(Refused::new(refusal::CROSS_SITE, StatusCode::FORBIDDEN).answer(&form_page));
    }
    if config.admin_token.is_none() {
        back_to(&Back::new(next, None));
        return Ok(true);
    }
    if !config.admin_allows(Some(token.trim())) {
        return Err(Refused::new(refusal::BAD_TOKEN, StatusCode::UNAUTHORIZED).answer(&form_page));
    }
    let Some(session) = config.issue_session(chrono::Utc::now()) else {
        return Err(
            Refused::new(refusal::UNAVAILABLE, StatusCode::INTERNAL_SERVER_ERROR)
                .answer(&form_page),
        );
    };
    set_cookie(&signalbox::session::set_cookie(
        &session,
        served_over_https(),
    ));
    back_to(&Back::new(next, None));
    Ok(true)
}

/// Ends the session; back to `/`.
#[server(prefix = "/api/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    set_cookie(&signalbox::session::clear_cookie(served_over_https()));
    super::back_to(&super::Back::new("/", None));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed_after_login() {
        for (next, want) in [
            (None, "/"),
            (Some("/errors/abc?x=1"), "/errors/abc?x=1"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some(""), "/"),
        ] {
            assert_eq!(safe_next(next), want, "{next:?}");
        }
    }
}
