//! The role and permission extractors, on routes the test adds to the real server.

use reqwest::StatusCode;
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::Role;
use tessera_server::extract::{Require, Requirement};
use tessera_testkit::axum_router::{Router, get};
use tessera_testkit::{Backend, TestApp, backend_tests};

use crate::assert_error;

struct Admin;
impl Requirement for Admin {
    const IS_ROLE: bool = true;
    const NAME: &'static str = "admin";
}

struct ReadReports;
impl Requirement for ReadReports {
    const IS_ROLE: bool = false;
    const NAME: &'static str = "reports:read";
}

async fn admin_only(Require(claims, ..): Require<Admin>) -> String {
    claims.sub.clone()
}

async fn reports(Require(claims, ..): Require<ReadReports>) -> String {
    claims.sub.clone()
}

async fn app_with_routes(backend: Backend) -> TestApp {
    let routes = Router::new()
        .route("/test/admin", get(admin_only))
        .route("/test/reports", get(reports));
    let app = TestApp::spawn_with_routes(backend, routes).await;
    let role = Role {
        name: RoleName::parse("admin").unwrap(),
        permissions: vec![Permission::parse("reports:read").unwrap()],
    };
    app.state
        .auth()
        .store()
        .ensure_role(&role, 0)
        .await
        .unwrap();
    app
}

backend_tests! {
    async fn a_missing_role_or_permission_is_403_insufficient_scope_with_the_challenge(backend: Backend) {
        let app = app_with_routes(backend).await;
        let tokens = app.signed_in("alice").await;

        for path in ["/test/admin", "/test/reports"] {
            let response = app.get(path, Some(&tokens.access)).await;
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.contains("error=\"insufficient_scope\""),
                "{path}: {challenge}"
            );
            // RFC 6750 §3: a missing permission is named in the scope attribute; a role is
            // not a scope.
            let named = challenge.contains("scope=\"reports:read\"");
            assert_eq!(named, path == "/test/reports", "{path}: {challenge}");
            assert_error(response, 403, "insufficient_scope").await;
        }
    }

    async fn the_role_and_its_permission_let_the_request_through(backend: Backend) {
        let app = app_with_routes(backend).await;
        app.register("alice").await;
        app.state
            .auth()
            .accounts()
            .set_roles("alice", &[RoleName::parse("admin").unwrap()])
            .await
            .unwrap();
        let tokens = app.login("alice").await;

        for path in ["/test/admin", "/test/reports"] {
            let response = app.get(path, Some(&tokens.access)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }

    async fn required_routes_still_answer_401_without_a_token(backend: Backend) {
        let app = app_with_routes(backend).await;
        let response = app.get("/test/admin", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"tessera\""
        );
    }
}
