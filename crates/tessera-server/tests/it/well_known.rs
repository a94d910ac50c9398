use reqwest::StatusCode;
use serde_json::Value;
use tessera_testkit::{TestApp, backend_tests};
use tessera_verify::{JwkSet, Verifier};

backend_tests! {
    async fn jwks_publishes_the_public_signing_key_and_is_cacheable(app: TestApp) {
        let response = app.get("/.well-known/jwks.json", None).await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "public, max-age=600");
        let body: Value = response.json().await.unwrap();
        let keys = body["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert!(key.get("d").is_none(), "no private part");
    }

    async fn a_resource_server_verifies_tokens_with_the_published_jwks(app: TestApp) {
        let tokens = app.signed_in("alice").await;
        let jwks: JwkSet = app
            .get("/.well-known/jwks.json", None)
            .await
            .json()
            .await
            .unwrap();
        let discovery: Value = app
            .get("/.well-known/openid-configuration", None)
            .await
            .json()
            .await
            .unwrap();

        let verifier = Verifier::builder(discovery["issuer"].as_str().unwrap(), "tessera")
            .jwk_set(&jwks)
            .unwrap()
            .build()
            .unwrap();
        let claims = verifier
            .verify_at(&tokens.access, crate::login::app_now(&app))
            .unwrap();

        assert_eq!(claims.client_id, "tessera");
    }

    async fn discovery_names_the_issuer_the_jwks_uri_and_the_algorithms(app: TestApp) {
        let body: Value = app
            .get("/.well-known/openid-configuration", None)
            .await
            .json()
            .await
            .unwrap();

        assert_eq!(body["issuer"], app.state.auth().issuer().issuer());
        assert_eq!(
            body["jwks_uri"],
            format!(
                "{}/.well-known/jwks.json",
                app.state.auth().issuer().issuer()
            )
        );
        assert_eq!(
            body["access_token_signing_alg_values_supported"],
            serde_json::json!(["EdDSA"])
        );
        let issuer = app.state.auth().issuer().issuer().to_owned();
        let oauth: Value = app
            .get("/.well-known/oauth-authorization-server", None)
            .await
            .json()
            .await
            .unwrap();
        for doc in [&body, &oauth] {
            assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth/token"));
            assert_eq!(doc["introspection_endpoint"], format!("{issuer}/oauth/introspect"));
            assert_eq!(doc["revocation_endpoint"], format!("{issuer}/oauth/revoke"));
            assert_eq!(
                doc["grant_types_supported"],
                serde_json::json!(["authorization_code", "client_credentials", "password", "refresh_token"])
            );
            assert_eq!(doc["authorization_endpoint"], format!("{issuer}/oauth/authorize"));
            assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/oauth/userinfo"));
            assert_eq!(doc["end_session_endpoint"], format!("{issuer}/oauth/logout"));
            assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!(["EdDSA"]));
            assert_eq!(doc["subject_types_supported"], serde_json::json!(["public"]));
            assert_eq!(doc["prompt_values_supported"], serde_json::json!(["none", "login"]));
            let methods = doc["token_endpoint_auth_methods_supported"].as_array().unwrap();
            for m in ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] {
                assert!(methods.iter().any(|v| v == m), "{m}");
            }
            let algs = doc["token_endpoint_auth_signing_alg_values_supported"]
                .as_array()
                .unwrap();
            assert!(algs.iter().any(|a| a == "ES256") && !algs.iter().any(|a| a == "HS256"));
            assert!(doc["scopes_supported"].is_array());
        }
        assert_eq!(oauth["issuer"], body["issuer"]);
    }

    async fn health_and_readiness_answer_200(app: TestApp) {
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
        assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    }
}
