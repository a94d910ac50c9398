use reqwest::StatusCode;
use tessera_testkit::{Backend, TestApp, backend_tests};

backend_tests! {
    async fn tokens_issued_before_a_restart_still_verify_after_it(app: TestApp) {
        let tokens = app.signed_in("alice").await;
        let jwks_before: serde_json::Value = app
            .get("/.well-known/jwks.json", None)
            .await
            .json()
            .await
            .unwrap();
        let stopped = app.stop().await;

        let app = TestApp::restart(stopped).await;

        let jwks_after: serde_json::Value = app
            .get("/.well-known/jwks.json", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(jwks_before, jwks_after, "same key after restart");
        assert_eq!(
            app.get("/auth/me", Some(&tokens.access)).await.status(),
            StatusCode::OK
        );
        app.login("alice").await;
    }

    async fn the_database_alone_reveals_no_private_key(app: TestApp) {
        let master = std::fs::read_to_string(app.data_dir().join("master.key")).unwrap();
        let keys = app.state.auth().store().signing_keys().await.unwrap();
        let key = &keys[0];

        // What the database holds is the public JWK and ciphertext; the private key bytes only
        // come back with the master key, which lives outside the database.
        assert!(
            key.public_jwk
                .as_deref()
                .is_some_and(|j| !j.contains("\"d\""))
        );
        let wrong = tessera_core::keys::keyring::MasterKey::generate().unwrap();
        assert!(wrong.open(&key.kid, key.alg, &key.sealed).is_err());
        let right = tessera_core::keys::keyring::MasterKey::from_encoded(&master).unwrap();
        let private = right.open(&key.kid, key.alg, &key.sealed).unwrap();
        // The Ed25519 seed (`04 22 04 20 <seed>` in PKCS#8; a v2 document ends with the public
        // key, which is no secret). The PostgreSQL row itself is checked by the store suite.
        let at = private
            .windows(4)
            .position(|w| w == [0x04, 0x22, 0x04, 0x20])
            .unwrap()
            + 4;
        let seed = &private[at..at + 32];
        for file in ["tessera.db", "tessera.db-wal"] {
            let Ok(bytes) = std::fs::read(app.data_dir().join(file)) else {
                // Only the WAL may be absent (checkpointed); on SQLite the database file is
                // what this test is about.
                assert!(
                    file.ends_with("-wal") || app.backend() != Backend::Sqlite,
                    "the SQLite database file must be there to be searched"
                );
                continue;
            };
            assert!(
                !bytes.windows(seed.len()).any(|w| w == seed),
                "the private key never reaches {file}"
            );
        }
    }
}
