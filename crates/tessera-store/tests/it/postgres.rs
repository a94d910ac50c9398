//! What only PostgreSQL has: rows read straight from the server, TLS from `sslmode`, several
//! instances migrating one database at once, and URLs that may carry a password.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgConnection, Row};
use tessera_core::keys::keyring::MasterKey;
use tessera_core::store::{KeyStatus, StoreError};
use tessera_store::{ConnectOptions, Migrated, PgStore};
use tessera_testkit::{Backend, Fixture, TestDb};

use crate::StoreUnderTest;
use crate::keys::sealed_key;

#[tokio::test]
async fn a_key_row_read_straight_from_the_database_does_not_contain_the_private_key_in_the_clear() {
    let store = StoreUnderTest::create(Backend::Postgres).await;
    let master = MasterKey::generate().unwrap();
    let (key, signing) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);
    store.insert_signing_key(&key).await.unwrap();
    let private = signing.export_private();
    // The Ed25519 seed is the OCTET STRING inside the PKCS#8 privateKey OCTET STRING
    // (`04 22 04 20 <seed>`); a v2 document ends with the public key, which is no secret.
    let at = private
        .windows(4)
        .position(|w| w == [0x04, 0x22, 0x04, 0x20])
        .expect("an Ed25519 PKCS#8 document")
        + 4;
    let seed = &private[at..at + 32];
    let seed_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seed);
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();

    let mut conn = PgConnection::connect(store.db.url().expose_secret())
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT kid, alg, status, public_jwk, nonce, ciphertext, k::text AS whole \
         FROM signing_keys k",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();

    let mut bytes: Vec<u8> = Vec::new();
    for column in ["kid", "alg", "status", "public_jwk", "whole"] {
        let text: Option<String> = row.get(column);
        bytes.extend(text.unwrap_or_default().into_bytes());
    }
    for column in ["nonce", "ciphertext"] {
        bytes.extend(row.get::<Vec<u8>, _>(column));
    }
    assert!(
        !bytes.windows(32).any(|w| w == seed),
        "the raw private key is not in the row"
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(&seed_b64),
        "nor its base64url form (a JWK's d)"
    );
    assert!(!text.contains(&seed_hex), "nor its hex form");
    let public_jwk: String = row.get("public_jwk");
    assert!(
        !public_jwk.contains("\"d\""),
        "the JWK is public only: {public_jwk}"
    );
    let ciphertext: Vec<u8> = row.get("ciphertext");
    let sealed = tessera_core::store::SealedSecret {
        nonce: row.get("nonce"),
        ciphertext,
    };
    assert!(
        MasterKey::generate()
            .unwrap()
            .open(&key.kid, key.alg, &sealed)
            .is_err(),
        "another master key opens nothing"
    );
    assert_eq!(
        master.open(&key.kid, key.alg, &sealed).unwrap().as_slice(),
        private.as_slice()
    );
}

#[tokio::test]
async fn tls_follows_the_urls_sslmode() {
    let db = TestDb::create(Backend::Postgres).await;
    let url = db.url().expose_secret().to_owned();
    let with = |mode: &str| {
        let separator = if url.contains('?') { '&' } else { '?' };
        SecretString::from(format!("{url}{separator}sslmode={mode}"))
    };
    let options = ConnectOptions::default();

    let store = PgStore::open(with("require").expose_secret(), &options).await;
    store
        .expect("sslmode=require connects over TLS (rustls, aws-lc-rs)")
        .migrate()
        .await
        .unwrap();
    let mut conn = PgConnection::connect(with("require").expose_secret())
        .await
        .unwrap();
    let ssl: bool = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("ssl");
    assert!(ssl, "the connection is encrypted");

    // The test server's certificate is self-signed: full verification must refuse it.
    let err = PgStore::open(with("verify-full").expose_secret(), &options)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn instances_starting_at_once_migrate_once() {
    let db = TestDb::create(Backend::Postgres).await;
    let options = ConnectOptions::default();

    let runs =
        futures::future::join_all((0..4).map(|_| tessera_store::migrate(db.url(), &options))).await;

    let runs: Vec<Migrated> = runs.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        runs.iter().filter(|m| m.from == 0).count(),
        1,
        "one start applied the schema: {runs:?}"
    );
}

#[tokio::test]
async fn bad_urls_are_refused_without_echoing_the_password() {
    let server = tessera_testkit::server_address(&tessera_testkit::test_database_url()).await;
    let cases = [
        (
            format!("postgres://nobody:hunter2@{server}/x?sslmode=sometimes"),
            "a bad parameter",
        ),
        (
            format!("postgres://nobody:hunter2@{server}/x"),
            "an unknown user",
        ),
        (
            "postgres://nobody:hunter2@127.0.0.1:1/x".to_owned(),
            "nobody listening",
        ),
        (
            "mysql://nobody:hunter2@localhost/x".to_owned(),
            "an unsupported scheme",
        ),
    ];
    let options = ConnectOptions {
        acquire_timeout: std::time::Duration::from_millis(500),
        ..ConnectOptions::default()
    };
    for (url, why) in cases {
        let Err(err) = tessera_store::connect(&SecretString::from(url), &options).await else {
            panic!("{why}: must be refused");
        };
        let mut chain = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            chain.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        assert!(!chain.contains("hunter2"), "{why}: {chain}");
    }
}

#[tokio::test]
async fn a_call_on_a_dead_link_fails_at_the_client_side_deadline_and_recovers() {
    use std::time::{Duration, Instant};
    use tessera_testkit::proxy::ChaosProxy;

    let db = TestDb::create(Backend::Postgres).await;
    let proxy =
        ChaosProxy::start(tessera_testkit::server_address(db.url().expose_secret()).await).await;
    let url = tessera_testkit::with_server_address(db.url().expose_secret(), proxy.address());
    // The acquire timeout is longer than the deadline, so only the deadline can end the call.
    let options = ConnectOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
        call_timeout: Duration::from_millis(300),
    };
    let store = tessera_store::connect(&SecretString::from(url), &options)
        .await
        .unwrap();
    store.ping().await.unwrap();

    proxy.blackhole();
    let started = Instant::now();
    let err = store.ping().await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1_500),
        "ended by the 300 ms deadline, not by a hang or an error: {elapsed:?}"
    );
    proxy.restore();
    let started = Instant::now();
    while store.ping().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(5), "no recovery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
