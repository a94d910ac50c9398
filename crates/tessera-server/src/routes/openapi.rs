//! `GET /openapi.json`: the OpenAPI 3.1 description of the whole HTTP API, generated from the
//! handlers' `#[utoipa::path]` annotations and the request and response types themselves, so
//! it cannot drift from the code (the tests below compare its paths with the router's routes
//! and with the endpoint table of docs/api.md).
//!
//! What the annotations cannot say well is added here, once: the security schemes, the answers
//! any operation can give (408 and 503; 400 and 413 for one with a body), and the links
//! register → login → me → refresh → logout that stateful testers (schemathesis) follow. The
//! document holds no secret and no configuration: it is the same for every deployment.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::{account, auth, health, oauth, revocations, well_known};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "JWT authentication server: registration, login, refresh-token rotation, \
            sessions, JWKS and a revocation feed. The prose contract, with token formats and \
            browser mode, is docs/api.md."
    ),
    paths(
        auth::register::register,
        auth::login::login,
        auth::me::me,
        auth::browser::csrf,
        auth::session::refresh,
        auth::session::logout,
        auth::session::logout_all,
        auth::session::change_password,
        auth::session::list_sessions,
        auth::session::end_session,
        auth::consents::list_consents,
        auth::consents::revoke_consents,
        auth::consents::revoke_consent,
        revocations::feed,
        oauth::token::token,
        oauth::introspect::introspect,
        oauth::introspect::revoke,
        oauth::userinfo::userinfo,
        oauth::userinfo::userinfo_post,
        oauth::authorize::authorize,
        oauth::authorize::login,
        oauth::authorize::consent,
        oauth::logout::logout,
        oauth::logout::logout_form,
        oauth::upstream::start,
        oauth::upstream::callback,
        well_known::jwks,
        well_known::discovery,
        well_known::oauth_metadata,
        health::healthz,
        health::readyz,
        account::root,
        account::account,
        account::index,
        account::script,
        account::style,
        openapi_json,
    ),
    // Schemas that only parameters use (utoipa collects those of bodies by itself).
    components(schemas(auth::login::Delivery, oauth::authorize::SignInForm, oauth::authorize::ConsentForm)),
    tags(
        (name = "auth", description = "Accounts, tokens and sessions"),
        (name = "browser", description = "Browser mode (cookies and CSRF) and the sign-in page"),
        (name = "discovery", description = "Public keys and metadata for resource servers"),
        (name = "resource servers", description = "The revocation feed"),
        (name = "oauth", description = "OAuth 2.0: the token endpoint, introspection and revocation"),
        (name = "oidc", description = "OpenID Connect sign-in: the authorization endpoint, its pages, logout"),
        (name = "operations", description = "Health, readiness and this document"),
    )
)]
struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API",
        content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json() -> Response {
    static BODY: LazyLock<Vec<u8>> =
        LazyLock::new(|| serde_json::to_vec(&document()).unwrap_or_default());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        BODY.as_slice(),
    )
        .into_response()
}

/// The document: the generated description with the additions of the module documentation.
pub(crate) fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    if let Some(components) = object(&mut doc, "components") {
        components.insert("securitySchemes".into(), security_schemes());
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut().filter_map(Value::as_object_mut) {
                add_common_responses(operation);
                not_null_inputs(operation);
            }
        }
    }
    add_links(&mut doc);
    doc
}

/// The object under `key`, created when absent.
fn object<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn security_schemes() -> Value {
    json!({
        "bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An access token (RFC 9068 JWS) from login or refresh"
        },
        "access_cookie": {
            "type": "apiKey", "in": "cookie", "name": tessera_verify::csrf::ACCESS_COOKIE,
            "description": "Browser mode: the access token cookie (state-changing requests also need `X-CSRF-Token` and an allowed `Origin`)"
        },
        "refresh_cookie": {
            "type": "apiKey", "in": "cookie", "name": tessera_verify::csrf::REFRESH_COOKIE,
            "description": "Browser mode: the refresh token cookie (`Path=/auth`)"
        },
        "resource_server": {
            "type": "http", "scheme": "basic",
            "description": "A resource server's name and secret (`[resource_servers.<name>]`)"
        },
        "client_basic": {
            "type": "http", "scheme": "basic",
            "description": "`client_secret_basic`: a registered client's form-encoded client_id and secret (RFC 6749 §2.3.1); the form may instead carry client_secret_post, a private_key_jwt assertion, or a public client's client_id"
        }
    })
}

fn error_response(description: &str, retry_after: bool) -> Value {
    let headers = if retry_after {
        json!({
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}
        })
    } else {
        json!({})
    };
    json!({
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// The answers any operation can give, added where its annotation does not already say them.
fn add_common_responses(operation: &mut Map<String, Value>) {
    let has_body = operation.contains_key("requestBody");
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, response: Value| {
        responses.entry(status).or_insert(response);
    };
    if has_body {
        add(
            "400",
            error_response(
                "`invalid_request`: malformed JSON, a missing, unknown or mistyped field, or a missing or wrong `Content-Type`",
                false,
            ),
        );
        add(
            "413",
            error_response(
                "`payload_too_large`: the body is over `body_limit_bytes`",
                false,
            ),
        );
    }
    add(
        "408",
        error_response(
            "`request_timeout`: not answered within `limits.request_timeout_secs`",
            false,
        ),
    );
    add(
        "503",
        error_response(
            "`temporarily_unavailable`: the database is unreachable, the hashing queue is full, or too many connections",
            true,
        ),
    );
}

/// utoipa renders an optional parameter or body (`Option<T>`) as "T or null", but an absent
/// header, query parameter or body is not a JSON `null`: a header cannot be null at all, and
/// the body `null` is refused (the body must be a JSON object). Optional means not required,
/// which the annotations already say.
fn not_null_inputs(operation: &mut Map<String, Value>) {
    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters {
            if let Some(schema) = parameter.get_mut("schema") {
                strip_null(schema);
            }
        }
    }
    if let Some(content) = operation
        .get_mut("requestBody")
        .and_then(|b| b.get_mut("content"))
        .and_then(Value::as_object_mut)
    {
        for media in content.values_mut() {
            if let Some(schema) = media.get_mut("schema") {
                strip_null(schema);
            }
        }
    }
}

fn strip_null(schema: &mut Value) {
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let rest: Vec<Value> = one_of.iter().filter(|v| !is_null(v)).cloned().collect();
        if rest.len() < one_of.len()
            && let [only] = rest.as_slice()
        {
            *schema = only.clone();
            return;
        }
    }
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t.as_str() != Some("null"));
        if let [only] = types.as_slice() {
            let only = only.clone();
            if let Some(schema) = schema.as_object_mut() {
                schema.insert("type".into(), only);
            }
        }
    }
}

/// The links of the session life cycle: register → login → me / sessions / refresh / logout.
fn add_links(doc: &mut Value) {
    let token_links = token_links();
    let links = [
        (
            "/auth/register",
            "post",
            "201",
            json!({
                "login": {
                    "operationId": "login",
                    "requestBody": {
                        "username": "$request.body#/username",
                        "password": "$request.body#/password"
                    },
                    "description": "Log in as the new user"
                }
            }),
        ),
        ("/auth/login", "post", "200", token_links.clone()),
        ("/auth/refresh", "post", "200", token_links),
        (
            "/auth/me",
            "get",
            "200",
            json!({
                "logout": {
                    "operationId": "logout",
                    "parameters": {"header.Authorization": "$request.header.Authorization"},
                    "description": "End the session of this access token"
                }
            }),
        ),
        (
            "/auth/sessions",
            "get",
            "200",
            json!({
                "end_session": {
                    "operationId": "end_session",
                    "parameters": {
                        "path.id": "$response.body#/sessions/0/id",
                        "header.Authorization": "$request.header.Authorization"
                    },
                    "description": "End the newest session"
                }
            }),
        ),
    ];
    for (path, method, status, link) in links {
        if let Some(response) = doc
            .pointer_mut(&format!(
                "/paths/{}/{method}/responses/{status}",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
        {
            response.insert("links".into(), link);
        }
    }
}

/// What the answer of a login or a refresh leads to.
fn token_links() -> Value {
    let bearer = "Bearer {$response.body#/access_token}";
    json!({
        "me": {
            "operationId": "me",
            "parameters": {"header.Authorization": bearer},
            "description": "Who the new access token belongs to"
        },
        "list_sessions": {
            "operationId": "list_sessions",
            "parameters": {"header.Authorization": bearer},
            "description": "The sessions of the signed-in user"
        },
        "refresh": {
            "operationId": "refresh",
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
            "description": "Rotate the refresh token"
        },
        "logout": {
            "operationId": "logout",
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
            "description": "End the session"
        },
        "logout_all": {
            "operationId": "logout_all",
            "parameters": {"header.Authorization": bearer},
            "description": "End every session of the user"
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// `(METHOD, path)` of every operation in the document.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = document();
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// `(METHOD, path)` of every `route` call (path literal, then `get`/`post`/…) in the source: the
    /// router is built only from such calls, so this is its route table.
    fn routed() -> BTreeSet<(String, String)> {
        let mut files = Vec::new();
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut ops = BTreeSet::new();
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            let flat: String = source.split_whitespace().collect();
            for call in flat.split(".route(\"").skip(1) {
                let (path, rest) = call.split_once("\",").unwrap();
                // The method router: up to the `)` closing `.route(`, e.g.
                // `get(a::b).post(a::c)`; each chained method is one operation.
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(rest.len(), |(i, _)| i);
                let methods = rest[..end].trim_end_matches(',');
                for (i, part) in methods.split(").").enumerate() {
                    let method = part.split('(').next().unwrap();
                    assert!(
                        ["get", "post", "delete", "put", "patch"].contains(&method),
                        "{}: route {path} uses {method}(..) (call {i}); teach this test its methods",
                        file.display()
                    );
                    ops.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
        ops
    }

    #[test]
    fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let (documented, routed) = (documented(), routed());
        assert!(routed.len() >= 20, "found only {routed:?}");
        let missing: Vec<_> = routed.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes missing from the OpenAPI document (add #[utoipa::path] and list them in ApiDoc): {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "documented operations with no route: {stale:?}"
        );
    }

    #[test]
    fn every_endpoint_of_api_md_is_documented() {
        let api_md = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
        )
        .unwrap();
        let documented = documented();
        let mut rows = 0;
        for line in api_md.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, method, path, ..] = cells.as_slice() else {
                continue;
            };
            if !["GET", "POST", "DELETE"].contains(method) {
                continue;
            }
            let path = path.split('`').nth(1).unwrap();
            // Served on the metrics listener, not the public API this document describes.
            if path == "/metrics" {
                continue;
            }
            rows += 1;
            assert!(
                documented.contains(&((*method).to_owned(), path.to_owned())),
                "docs/api.md lists {method} {path}, the OpenAPI document does not"
            );
        }
        assert!(rows >= 15, "found only {rows} endpoint rows in docs/api.md");
    }

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn no_parameter_or_body_may_be_null() {
        let doc = document();
        let text = |v: &Value| v.to_string();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for parameter in op["parameters"].as_array().into_iter().flatten() {
                    assert!(
                        !text(&parameter["schema"]).contains("null"),
                        "{method} {path}: {parameter}"
                    );
                }
                if let Some(content) = op["requestBody"]["content"].as_object() {
                    for media in content.values() {
                        assert!(!text(&media["schema"]).contains("null"), "{method} {path}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_security_schemes_and_links() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for scheme in [
            "bearer",
            "access_cookie",
            "refresh_cookie",
            "resource_server",
            "client_basic",
        ] {
            assert!(
                doc["components"]["securitySchemes"][scheme].is_object(),
                "{scheme}"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["access_cookie"]["name"],
            "__Host-tessera-access"
        );
        let login = &doc["paths"]["/auth/login"]["post"];
        assert!(login["responses"]["200"]["links"]["me"].is_object());
        assert!(login["responses"]["429"]["headers"]["Retry-After"].is_object());
        assert!(
            doc["paths"]["/auth/register"]["post"]["responses"]["201"]["links"]["login"]
                .is_object()
        );
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["responses"]["503"]["headers"]["Retry-After"].is_object(),
                    "{method} {path} lacks the 503"
                );
                if op.get("requestBody").is_some() {
                    assert!(op["responses"]["413"].is_object(), "{method} {path}");
                }
            }
        }
    }
}
