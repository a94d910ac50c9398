//! Passwords checked against a real OpenLDAP server (Debian's `slapd`, started per test on a
//! free loopback port by `tessera_testkit::ldap`) through `/auth/login`: provisioning and
//! linking, group-to-role mapping, wrong, empty and metacharacter-laden input, disabled
//! entries, local users beside directory users, and the directory stopped and restarted. On
//! both backends.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use tessera_core::clients::ClientKeys;
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::{GrantType, Role};
use tessera_server::config::{IdentityProviderSettings, LdapProviderSettings, SecretSource};
use tessera_testkit::ldap::{GROUPS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PASSWORD, Slapd};
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};

use crate::{assert_error, audit_of};

const BOB_PASSWORD: &str = "bob's directory password";
const CAROL_PASSWORD: &str = "carol's directory password";
const ADMINS: &str = "cn=admins,ou=groups,dc=example,dc=org";

/// bob (in admins), carol (in no group), dave (disabled by the filter), and a local user's
/// namesake, alice, with another password than hers.
fn entries() -> String {
    let person = |uid: &str, password: &str, extra: &str| {
        format!(
            "dn: uid={uid},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
             userPassword: {password}\n{extra}\n"
        )
    };
    [
        person("bob", BOB_PASSWORD, ""),
        person("carol", CAROL_PASSWORD, ""),
        person("dave", "dave's password", "description: disabled\n"),
        person("alice", "the directory's alice", ""),
        format!(
            // groupOfNames needs a member: the service account stays when bob is removed.
            "dn: {ADMINS}\nobjectClass: groupOfNames\ncn: admins\nmember: uid=bob,{PEOPLE_DN}\n\
             member: {SERVICE_DN}\n\n"
        ),
        format!(
            "dn: cn=staff,{GROUPS_DN}\nobjectClass: groupOfNames\ncn: staff\n\
             member: uid=carol,{PEOPLE_DN}\n\n"
        ),
    ]
    .concat()
}

/// The provider `corp` over `slapd`: disabled entries are excluded by the filter (as
/// Active Directory's userAccountControl bit is), admins map to the role `admin`.
fn corp(slapd: &Slapd) -> IdentityProviderSettings {
    IdentityProviderSettings::Ldap(LdapProviderSettings {
        id: "corp".into(),
        url: slapd.url(),
        start_tls: false,
        ca_file: None,
        bind_dn: SERVICE_DN.into(),
        bind_password: SecretSource::Known(SecretString::from(SERVICE_PASSWORD)),
        user_base: PEOPLE_DN.into(),
        user_filter: "(&(objectClass=inetOrgPerson)(uid={username})(!(description=disabled)))"
            .into(),
        username_attribute: "uid".into(),
        subject_attribute: "entryUUID".into(),
        group_base: Some(GROUPS_DN.into()),
        group_filter: Some("(&(objectClass=groupOfNames)(member={dn}))".into()),
        roles: vec![(ADMINS.into(), vec![RoleName::parse("admin").unwrap()])],
        link_existing: false,
        timeout: Duration::from_secs(2),
        pool_size: 2,
    })
}

/// The role `corp` maps its admins to.
fn admin() -> Role {
    Role {
        name: RoleName::parse("admin").unwrap(),
        permissions: vec![Permission::parse("users:admin").unwrap()],
    }
}

/// A server with `provider` (and the role `admin`, declared in the settings: mapped roles
/// must exist at start).
async fn with_provider(backend: Backend, provider: LdapProviderSettings) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.roles = vec![admin()];
        s.identity_providers = vec![IdentityProviderSettings::Ldap(provider)];
    })
    .await
}

/// `corp`'s settings, to change.
fn corp_settings(slapd: &Slapd) -> LdapProviderSettings {
    let IdentityProviderSettings::Ldap(settings) = corp(slapd) else {
        unreachable!("corp is an LDAP provider")
    };
    settings
}

/// A server with `corp`, the role `admin`, and a local user alice.
async fn server(backend: Backend, slapd: &Slapd) -> TestApp {
    let app = with_provider(backend, corp_settings(slapd)).await;
    app.register("alice").await;
    app
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/login",
        &json!({ "username": username, "password": password }),
    )
    .await
}

async fn signed_in(app: &TestApp, username: &str, password: &str) -> Value {
    let response = login(app, username, password).await;
    assert_eq!(response.status(), StatusCode::OK, "{username} signs in");
    response.json().await.unwrap()
}

async fn me(app: &TestApp, tokens: &Value) -> reqwest::Response {
    app.get("/auth/me", tokens["access_token"].as_str()).await
}

/// The entryUUID of `dn`, read with `ldapsearch` as the service account.
fn entry_uuid(slapd: &Slapd, dn: &str) -> String {
    let out = std::process::Command::new("/usr/bin/ldapsearch")
        .args([
            "-x",
            "-LLL",
            "-H",
            &slapd.url(),
            "-D",
            SERVICE_DN,
            "-w",
            SERVICE_PASSWORD,
        ])
        .args(["-b", dn, "-s", "base", "entryUUID"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("entryUUID: "))
        .unwrap_or_else(|| panic!("no entryUUID for {dn}: {text}"))
        .to_owned()
}

/// The user named `username` and their links.
async fn linked(app: &TestApp, username: &str) -> Vec<tessera_core::store::LinkedIdentity> {
    let store = app.state.auth().store();
    let user = store
        .user_by_username(username)
        .await
        .unwrap()
        .unwrap()
        .user;
    store.identities_of(&user.id).await.unwrap()
}

backend_tests! {
    async fn a_directory_user_is_provisioned_at_first_sign_in_with_the_roles_of_their_groups(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;

        let first = signed_in(&app, "bob", BOB_PASSWORD).await;
        let profile: Value = me(&app, &first).await.json().await.unwrap();
        assert_eq!(profile["username"], "bob");
        assert_eq!(profile["roles"], json!(["admin"]));
        let links = linked(&app, "bob").await;
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].provider, "corp");
        assert_eq!(links[0].subject, entry_uuid(&slapd, &format!("uid=bob,{PEOPLE_DN}")));

        // The second sign-in finds the same user; the directory's case rules apply to the name.
        let second = signed_in(&app, "Bob", BOB_PASSWORD).await;
        let again: Value = me(&app, &second).await.json().await.unwrap();
        assert!(profile["sub"].is_string());
        assert_eq!(again["sub"], profile["sub"]);
        assert_eq!(audit_of(&app, "identity.provisioned").await.len(), 1);

        // A user in no mapped group gets no role.
        let carol = signed_in(&app, "carol", CAROL_PASSWORD).await;
        let carol: Value = me(&app, &carol).await.json().await.unwrap();
        assert_eq!(carol["roles"], json!([]));
        app.finish().await;
    }

    async fn wrong_empty_and_unknown_are_refused_alike_and_count_toward_the_lockout(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        let unknown = assert_error(login(&app, "nobody", BOB_PASSWORD).await, 401, "invalid_credentials").await;
        let wrong = assert_error(login(&app, "bob", "not bob's password").await, 401, "invalid_credentials").await;
        assert_eq!(unknown, wrong, "the same answer for an unknown user and a wrong password");
        // An empty password is never an (anonymous, successful) bind.
        let empty = login(&app, "bob", "").await;
        assert!(matches!(empty.status().as_u16(), 400 | 401), "{}", empty.status());
        assert!(app.state.auth().store().user_by_username("bob").await.unwrap().is_none(), "nobody provisioned");

        // Five failures lock the name out, however it is written; the right password too.
        for name in ["bob", "Bob", "BOB", "bob "] {
            let _ = login(&app, name, "not bob's password").await;
        }
        let locked = login(&app, "bob", BOB_PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(locked.headers().contains_key("retry-after"));
        app.finish().await;
    }

    async fn a_group_removed_upstream_removes_the_role_and_revokes_the_access_tokens(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        let before = signed_in(&app, "bob", BOB_PASSWORD).await;
        assert_eq!(me(&app, &before).await.status(), StatusCode::OK);

        slapd.modify(&format!("dn: {ADMINS}\nchangetype: modify\ndelete: member\nmember: uid=bob,{PEOPLE_DN}\n"));
        let after = signed_in(&app, "bob", BOB_PASSWORD).await;
        let profile: Value = me(&app, &after).await.json().await.unwrap();
        assert_eq!(profile["roles"], json!([]));
        app.state.auth().sync_revocations().await;
        assert_eq!(me(&app, &before).await.status(), StatusCode::UNAUTHORIZED, "the old token carried admin");
        let changed = audit_of(&app, "user.roles_changed").await;
        assert!(changed.iter().any(|e| e.actor.as_deref() == Some("provider:corp")), "{changed:?}");
        app.finish().await;
    }

    async fn a_disabled_entry_is_refused_before_and_after_provisioning(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        assert_error(login(&app, "dave", "dave's password").await, 401, "invalid_credentials").await;
        assert!(app.state.auth().store().user_by_username("dave").await.unwrap().is_none());

        signed_in(&app, "carol", CAROL_PASSWORD).await;
        slapd.modify(&format!("dn: uid=carol,{PEOPLE_DN}\nchangetype: modify\nadd: description\ndescription: disabled\n"));
        assert_error(login(&app, "carol", CAROL_PASSWORD).await, 401, "invalid_credentials").await;
        app.finish().await;
    }

    async fn filter_metacharacters_in_a_username_match_nobody(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        for name in ["*", "*)(uid=*", "bo*", "bob)(|(uid=*", "*)(objectClass=*", "\\2a"] {
            assert_error(login(&app, name, BOB_PASSWORD).await, 401, "invalid_credentials").await;
        }
        assert!(app.state.auth().store().user_by_username("bob").await.unwrap().is_none());
        assert_eq!(app.state.auth().store().list_users().await.unwrap().len(), 1, "only alice");
        app.finish().await;
    }

    async fn a_local_users_password_never_goes_to_the_directory(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        // The directory has an alice too, with another password: the local one decides.
        assert_error(login(&app, "alice", "the directory's alice").await, 401, "invalid_credentials").await;
        signed_in(&app, "alice", GOOD_PASSWORD).await;
        assert!(linked(&app, "alice").await.is_empty());
        app.finish().await;
    }

    async fn link_existing_links_a_local_user_of_the_same_name_at_their_directory_sign_in(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = with_provider(backend, LdapProviderSettings { link_existing: true, ..corp_settings(&slapd) }).await;
        let local = app.register("alice").await;
        // The operator trusts the directory with the name: its password decides, and links.
        let tokens = signed_in(&app, "alice", "the directory's alice").await;
        let profile: Value = me(&app, &tokens).await.json().await.unwrap();
        assert!(local["id"].is_string());
        assert_eq!(profile["sub"], local["id"], "the existing user, not a new one");
        let links = linked(&app, "alice").await;
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].subject, entry_uuid(&slapd, &format!("uid=alice,{PEOPLE_DN}")));
        assert_error(login(&app, "alice", GOOD_PASSWORD).await, 401, "invalid_credentials").await;
        let linked_by = audit_of(&app, "identity.linked").await;
        assert_eq!(linked_by.len(), 1);
        assert!(linked_by[0].detail.as_deref().unwrap().contains("link_existing"));
        app.finish().await;
    }

    async fn an_administrator_links_and_unlinks_a_local_user(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        let subject = entry_uuid(&slapd, &format!("uid=alice,{PEOPLE_DN}"));
        let accounts = app.state.auth().accounts();
        accounts.link_identity("alice", "corp", &subject, "alice").await.unwrap();
        assert_eq!(audit_of(&app, "identity.linked").await.len(), 1);
        // Linked: the directory decides, the local password no longer works.
        signed_in(&app, "alice", "the directory's alice").await;
        assert_error(login(&app, "alice", GOOD_PASSWORD).await, 401, "invalid_credentials").await;
        // The same subject cannot be linked twice.
        app.register("mallory").await;
        assert!(accounts.link_identity("mallory", "corp", &subject, "alice").await.is_err());

        accounts.unlink_identity("alice", "corp").await.unwrap();
        signed_in(&app, "alice", GOOD_PASSWORD).await;
        assert_eq!(audit_of(&app, "identity.unlinked").await.len(), 1);
        app.finish().await;
    }

    async fn the_password_grant_checks_directory_users_too(backend: Backend) {
        let mut slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        let client = crate::oauth::add_client(&app, "mobile",
            &[GrantType::Password, GrantType::RefreshToken], &[], &[], ClientKeys::Public, true).await;
        let grant = |password: &'static str| {
            let app = &app;
            let id = client.id.clone();
            async move {
                crate::oauth::post_form(app, "/oauth/token", None, &[
                    ("grant_type", "password"), ("client_id", &id),
                    ("username", "bob"), ("password", password),
                ]).await
            }
        };
        let tokens: Value = grant(BOB_PASSWORD).await.json().await.unwrap();
        assert!(tokens["access_token"].is_string(), "{tokens}");
        let profile: Value = me(&app, &tokens).await.json().await.unwrap();
        assert_eq!(profile["roles"], json!(["admin"]));
        assert_error(grant("not bob's password").await, 400, "invalid_grant").await;
        slapd.stop();
        assert_error(grant(BOB_PASSWORD).await, 503, "temporarily_unavailable").await;
        app.finish().await;
    }

    async fn ldaps_and_starttls_verify_the_directorys_certificate(backend: Backend) {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let slapd = Slapd::start_with_tls(&entries(), &cert.cert.pem(), &cert.signing_key.serialize_pem()).await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        let base = corp_settings(&slapd);
        let trusted_ldaps = LdapProviderSettings { id: "ldaps".into(), url: slapd.ldaps_url(), ca_file: Some(ca.clone()), ..base.clone() };
        let trusted_starttls = LdapProviderSettings { id: "starttls".into(), start_tls: true, ca_file: Some(ca), ..base.clone() };
        // The system's roots do not know this certificate: refused, so the login is a 503.
        let untrusted = LdapProviderSettings { id: "untrusted".into(), url: slapd.ldaps_url(), ..base };
        for (settings, expected) in [(trusted_ldaps, 200), (trusted_starttls, 200), (untrusted, 503)] {
            let id = settings.id.clone();
            let app = with_provider(backend, settings).await;
            let response = login(&app, "bob", BOB_PASSWORD).await;
            assert_eq!(response.status().as_u16(), expected, "{id}");
            if expected == 200 {
                let wrong = login(&app, "bob", "not bob's password").await;
                assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{id}");
            }
            app.finish().await;
        }
    }

    async fn a_directory_that_accepts_but_never_answers_gives_503_within_its_timeout(backend: Backend) {
        // A listener that takes connections and says nothing (a hung server, a black hole).
        let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ldap://{}", hung.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in hung.incoming().take(8).flatten() {
                open.push(stream);
            }
        });
        let slapd = Slapd::start(&entries()).await;
        let app = with_provider(backend, LdapProviderSettings { url, timeout: Duration::from_secs(1), ..corp_settings(&slapd) }).await;
        app.register("alice").await;
        let refused = login(&app, "bob", BOB_PASSWORD).await;
        assert!(refused.headers().contains_key("retry-after"));
        assert_error(refused, 503, "temporarily_unavailable").await;
        signed_in(&app, "alice", GOOD_PASSWORD).await;
        app.finish().await;
        drop(held);
    }

    async fn a_mapping_to_a_role_that_does_not_exist_is_refused_at_start(backend: Backend) {
        let slapd = Slapd::start(&entries()).await;
        let db = tessera_testkit::TestDb::create(backend).await;
        let mut settings = tessera_server::config::Settings::for_test(&db.dir());
        settings.database_url = Some(db.url().clone());
        settings.identity_providers = vec![corp(&slapd)];
        let refused = tessera_server::startup::App::build(settings).await.unwrap_err().to_string();
        assert!(refused.contains("role admin, which does not exist") && refused.contains("corp"), "{refused}");
        db.drop_now().await;
    }

    async fn a_stopped_directory_gives_503_and_local_users_still_sign_in(backend: Backend) {
        let mut slapd = Slapd::start(&entries()).await;
        let app = server(backend, &slapd).await;
        signed_in(&app, "bob", BOB_PASSWORD).await;

        slapd.stop();
        for (name, password) in [("bob", BOB_PASSWORD), ("bob", "wrong"), ("carol", CAROL_PASSWORD)] {
            let refused = login(&app, name, password).await;
            assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "{name}");
            assert!(refused.headers().contains_key("retry-after"));
            assert_error(refused, 503, "temporarily_unavailable").await;
        }
        signed_in(&app, "alice", GOOD_PASSWORD).await;
        assert!(!audit_of(&app, "identity.provider_failed").await.is_empty());
        // Nothing was counted against bob meanwhile.
        let state = app.state.auth().store().throttle_state("bob", "127.0.0.1").await.unwrap();
        assert!(state.pair.is_none() && state.user.is_none() && state.ip.is_none(), "{state:?}");

        slapd.restart().await;
        signed_in(&app, "bob", BOB_PASSWORD).await;
        signed_in(&app, "carol", CAROL_PASSWORD).await;

        // Counted per provider and outcome: bob twice and carol once, three failures.
        let text = app.scrape_metrics().await;
        for (outcome, count) in [("success", 3), ("unavailable", 3)] {
            let line = format!(
                r#"tessera_identity_provider_checks_total{{provider="corp",outcome="{outcome}"}} {count}"#
            );
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        app.finish().await;
    }
}
