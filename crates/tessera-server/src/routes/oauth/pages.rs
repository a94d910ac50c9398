//! The pages of the OpenID Connect sign-in: server-rendered HTML that works with JavaScript
//! off (plain forms, `method=post`), styled by the account page's style sheet, under the
//! account page's Content-Security-Policy. The one difference: `form-action` also allows the
//! origin of the client's registered redirect URI, because a form's answer (303 back to the
//! client) is a navigation the browser checks against `form-action`.
//!
//! Every value that reaches the HTML goes through [`escape`].

use std::fmt::Write as _;

use crate::routes::account::escape;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::oidc::Authorization;

/// The policy of the pages (the account page's, see `routes::account::PAGE_CSP`) with
/// `form-action` widened to `redirect_origin` when given.
fn policy(redirect_origin: Option<&str>) -> String {
    let form_action = match redirect_origin {
        Some(origin) => format!("form-action 'self' {origin}"),
        None => "form-action 'self'".to_owned(),
    };
    crate::routes::account::PAGE_CSP.replace("form-action 'self'", &form_action)
}

/// The CSP source that matches `uri`'s origin: `scheme://host[:port]`, or `scheme:` for a
/// private-use scheme (a native app). Registered URIs were checked at registration, so this
/// never sees a quote, space or semicolon; anything else gives `None`.
pub(crate) fn origin_source(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let safe = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b':' | b'[' | b']')
            })
    };
    if !safe(scheme) {
        return None;
    }
    match rest.strip_prefix("//") {
        Some(after) => {
            let authority = after.split(['/', '?', '#']).next()?;
            safe(authority).then(|| format!("{scheme}://{authority}"))
        }
        None => Some(format!("{scheme}:")),
    }
}

/// A page: `title`, then `body` (HTML, already escaped), answered with `status`.
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    redirect_origin: Option<&str>,
) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="same-origin">
  <meta name="color-scheme" content="light dark">
  <title>{title} · Tessera</title>
  <link rel="stylesheet" href="/account/app.css">
</head>
<body>
  <main class="card">
    <h1>Tessera</h1>
{body}
  </main>
</body>
</html>
"#,
        title = escape(title),
    );
    let csp = HeaderValue::from_str(&policy(redirect_origin))
        .unwrap_or(HeaderValue::from_static(crate::routes::account::PAGE_CSP));
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // Not the server's `no-referrer`: under it a browser sends a form's POST with
            // `Origin: null` (Fetch, "append a request `Origin` header"), which the form's
            // origin check must refuse. `same-origin` sends the real origin to this server
            // and still no `Referer` to the client or anyone else.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
        ],
        html,
    )
        .into_response()
}

/// A page that says what went wrong and goes nowhere.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Sign-in error",
        &format!(
            "    <h2>This sign-in cannot go on</h2>\n    <p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        ),
        None,
    )
}

fn hidden(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "      <input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        escape(value)
    );
}

/// The sign-in form for `request` (sealed in `sealed`), with `error` above it.
pub(crate) fn sign_in(
    status: StatusCode,
    request: &Authorization,
    sealed: &str,
    csrf: &str,
    username: Option<&str>,
    error: Option<&str>,
    upstreams: &[(String, String)],
) -> Response {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "    <h2>Sign in to continue to {}</h2>",
        escape(&request.client_name)
    );
    if let Some(error) = error {
        let _ = writeln!(
            body,
            "    <p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    body.push_str("    <form method=\"post\" action=\"/oauth/authorize/login\">\n");
    hidden(&mut body, "request", sealed);
    hidden(&mut body, "csrf_token", csrf);
    let _ = writeln!(
        body,
        "      <label for=\"username\">Username</label>\n      <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required value=\"{}\">",
        escape(username.unwrap_or_default())
    );
    body.push_str("      <label for=\"password\">Password</label>\n      <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n      <button id=\"sign-in\" type=\"submit\">Sign in</button>\n    </form>");
    // One link per upstream provider: a plain GET, so no form-action is needed for the
    // provider's origin, and `state` (bound to this browser by a cookie) stops login CSRF.
    for (id, name) in upstreams {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("request", sealed)
            .finish();
        let _ = write!(
            body,
            "\n    <p><a class=\"button upstream\" id=\"upstream-{}\" href=\"/oauth/upstream/{}/start?{}\">Sign in with {}</a></p>",
            escape(id),
            escape(id),
            escape(&query),
            escape(name)
        );
    }
    page(
        status,
        "Sign in",
        &body,
        origin_source(&request.redirect_uri).as_deref(),
    )
}

/// What a scope means, for the consent screen.
fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (your user id)".to_owned(),
        "profile" => "See your username".to_owned(),
        "roles" => "See your roles".to_owned(),
        "offline_access" => "Stay signed in when you are away".to_owned(),
        permission => format!("Use your permission {permission}"),
    }
}

/// The consent screen: `scopes` for the client of `request`.
pub(crate) fn consent(
    request: &Authorization,
    sealed: &str,
    csrf: &str,
    username: &str,
    scopes: &[String],
) -> Response {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "    <h2>{} wants to access your account</h2>\n    <p>Signed in as <strong>{}</strong>. It asks to:</p>\n    <ul id=\"scopes\">",
        escape(&request.client_name),
        escape(username)
    );
    for scope in scopes {
        let _ = writeln!(
            body,
            "      <li data-scope=\"{}\">{}</li>",
            escape(scope),
            escape(&describe(scope))
        );
    }
    body.push_str("    </ul>\n    <form method=\"post\" action=\"/oauth/authorize/consent\" class=\"actions\">\n");
    hidden(&mut body, "request", sealed);
    hidden(&mut body, "csrf_token", csrf);
    body.push_str("      <button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n      <button id=\"deny\" class=\"secondary\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n    </form>");
    page(
        StatusCode::OK,
        "Allow access",
        &body,
        origin_source(&request.redirect_uri).as_deref(),
    )
}

/// The logout confirmation: a form that posts the same request back with the CSRF token.
pub(crate) fn confirm_logout(fields: &[(&str, Option<&str>)], csrf: &str) -> Response {
    let mut body = String::from(
        "    <h2>Sign out?</h2>\n    <p>An application asked to sign you out of Tessera.</p>\n    <form method=\"post\" action=\"/oauth/logout\">\n",
    );
    for (name, value) in fields {
        if let Some(value) = value {
            hidden(&mut body, name, value);
        }
    }
    hidden(&mut body, "csrf_token", csrf);
    body.push_str("      <button id=\"sign-out\" type=\"submit\">Sign out</button>\n    </form>");
    page(StatusCode::OK, "Sign out", &body, None)
}

/// The page after a logout that has nowhere to go.
pub(crate) fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "    <h2>You are signed out</h2>\n    <p class=\"status ok\" role=\"status\">You can close this page.</p>",
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn origins_of_redirect_uris_become_csp_sources() {
        assert_eq!(
            origin_source("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            origin_source("http://127.0.0.1:5000/cb").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            origin_source("com.example.app:/callback").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(origin_source("https://a.example;script-src *"), None);
        assert_eq!(origin_source("https://a b/"), None);
    }
}
