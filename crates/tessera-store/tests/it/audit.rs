//! `AuditStore`: entries appended with every field, listed newest first with filters and a
//! limit, and pruned by age.

use tessera_core::store::{AuditEntry, AuditFilter};
use tessera_testkit::backend_tests;

use crate::StoreUnderTest;

fn entry(at: i64, event: &str, subject: Option<&str>) -> AuditEntry {
    AuditEntry {
        at,
        event: event.to_owned(),
        outcome: "success".to_owned(),
        actor: subject.map(str::to_owned),
        subject: subject.map(str::to_owned),
        session_id: None,
        client_ip: None,
        detail: None,
    }
}

fn all() -> AuditFilter {
    AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    }
}

fn events(entries: &[AuditEntry]) -> Vec<(i64, &str)> {
    entries.iter().map(|e| (e.at, e.event.as_str())).collect()
}

backend_tests! {
    async fn an_entry_keeps_every_field(store: StoreUnderTest) {
        let full = AuditEntry {
            at: 1_000,
            event: "refresh.reuse_detected".to_owned(),
            outcome: "refused".to_owned(),
            actor: Some("user-1".to_owned()),
            subject: Some("user-1".to_owned()),
            session_id: Some("session-1".to_owned()),
            client_ip: Some("10.0.0.1".to_owned()),
            detail: Some("the session is revoked".to_owned()),
        };
        let bare = AuditEntry { at: 1_001, ..entry(0, "login.failed", None) };

        store.append_audit(&full).await.unwrap();
        store.append_audit(&bare).await.unwrap();

        let listed = store.audit_entries(&all()).await.unwrap();
        assert_eq!(listed, vec![bare, full], "newest first, fields intact");
    }

    async fn entries_are_filtered_by_event_subject_and_time(store: StoreUnderTest) {
        for (at, event, subject) in [
            (100, "login.succeeded", Some("alice")),
            (200, "login.failed", Some("alice")),
            (300, "login.succeeded", Some("bob")),
            (400, "session.logout", Some("alice")),
            (400, "login.failed", None),
        ] {
            store.append_audit(&entry(at, event, subject)).await.unwrap();
        }

        let logins = AuditFilter { event: Some("login.succeeded".to_owned()), ..all() };
        let alice = AuditFilter { subject: Some("alice".to_owned()), ..all() };
        let window = AuditFilter { since: Some(200), until: Some(400), ..all() };
        let newest = AuditFilter { limit: 2, ..all() };

        assert_eq!(
            events(&store.audit_entries(&logins).await.unwrap()),
            [(300, "login.succeeded"), (100, "login.succeeded")],
            "by event"
        );
        assert_eq!(
            events(&store.audit_entries(&alice).await.unwrap()),
            [(400, "session.logout"), (200, "login.failed"), (100, "login.succeeded")],
            "by subject"
        );
        assert_eq!(
            events(&store.audit_entries(&window).await.unwrap()),
            [(300, "login.succeeded"), (200, "login.failed")],
            "since is inclusive, until exclusive"
        );
        assert_eq!(
            events(&store.audit_entries(&newest).await.unwrap()),
            [(400, "login.failed"), (400, "session.logout")],
            "the limit keeps the newest; within one second the last appended comes first"
        );
    }

    async fn pruning_deletes_only_older_entries(store: StoreUnderTest) {
        for at in [100, 200, 300] {
            store.append_audit(&entry(at, "login.succeeded", None)).await.unwrap();
        }

        let pruned = store.prune_audit(200).await.unwrap();

        assert_eq!(pruned, 1, "only the entry before the cutoff");
        let left = store.audit_entries(&all()).await.unwrap();
        assert_eq!(events(&left), [(300, "login.succeeded"), (200, "login.succeeded")]);
    }
}
