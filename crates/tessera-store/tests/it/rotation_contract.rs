//! The rotation contract: every case of `tessera_core::refresh_rule::CONTRACT`, set up through
//! the store traits and presented to `rotate_refresh_token`, gives the decision core states.
//! SQLite applies the core rule in Rust, PostgreSQL in its function `tessera_rotate_refresh`;
//! this table holds both to the same answers (core's unit tests run it against the rule).

use tessera_core::refresh_rule::{
    CONTRACT, CONTRACT_START, CaseToken, ContractCase, RefreshDecision,
};
use tessera_core::store::{RefreshRotation, RevocationEvent, RevokeReason, RotationOutcome};
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, new_session, user};

/// The tokens of the `n`-th case (hashes are unique across sessions): the session's first
/// token, its successor, the successor the refresh proposes, and one that was never issued.
#[derive(Debug, Clone, Copy)]
struct Tokens {
    first: [u8; 32],
    second: [u8; 32],
    proposed: [u8; 32],
    unknown: [u8; 32],
}

impl Tokens {
    fn of_case(n: usize) -> Self {
        let hash = |k: usize| [u8::try_from(4 * n + k).unwrap(); 32];
        Self {
            first: hash(0),
            second: hash(1),
            proposed: hash(2),
            unknown: hash(3),
        }
    }
}

/// Builds the case's session (and rotation, and revocation) and presents its token.
async fn run(store: &StoreUnderTest, case: &ContractCase, t: Tokens) -> RotationOutcome {
    let owner = user(
        store,
        &format!("user-{}", case.name.replace(' ', "-").replace(',', "")),
    )
    .await;
    let mut session = new_session(&owner.id, CONTRACT_START, 0);
    session.refresh_token_hash = t.first;
    session.absolute_expires_at = case.session.absolute_expires_at;
    session.idle_expires_at = case.session.idle_expires_at;
    store.create_session(&session).await.unwrap();
    let mut revoke_at = CONTRACT_START;
    if let CaseToken::Rotated { rotated_at } = case.token {
        let setup = RefreshRotation {
            presented_hash: t.first,
            successor_hash: t.second,
            now: rotated_at,
            grace_secs: 0,
            // Keeps the idle end where the case wants it.
            idle_timeout_secs: case.session.idle_expires_at - rotated_at,
        };
        let rotated = store.rotate_refresh_token(&setup).await.unwrap();
        assert!(
            matches!(rotated, RotationOutcome::Rotated { .. }),
            "{}: setup {rotated:?}",
            case.name
        );
        revoke_at = rotated_at;
    }
    if case.session.revoked {
        assert!(
            store
                .revoke_session(&session.id, RevokeReason::Logout, revoke_at)
                .await
                .unwrap()
        );
    }
    let stored = store.session(&session.id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.revoked_at.is_some(),
            stored.absolute_expires_at,
            stored.idle_expires_at
        ),
        (
            case.session.revoked,
            case.session.absolute_expires_at,
            case.session.idle_expires_at
        ),
        "{}: the facts are set up",
        case.name
    );
    let presented = if case.token == CaseToken::Unknown {
        t.unknown
    } else {
        t.first
    };
    store
        .rotate_refresh_token(&RefreshRotation {
            presented_hash: presented,
            successor_hash: t.proposed,
            now: case.now,
            grace_secs: case.grace_secs,
            idle_timeout_secs: 100,
        })
        .await
        .unwrap()
}

fn decision_of(outcome: &RotationOutcome) -> RefreshDecision {
    match outcome {
        RotationOutcome::Unknown => RefreshDecision::Unknown,
        RotationOutcome::Inactive => RefreshDecision::Inactive,
        RotationOutcome::Rotated { .. } => RefreshDecision::Rotate,
        RotationOutcome::Grace { .. } => RefreshDecision::WithinGrace,
        RotationOutcome::Reused { .. } => RefreshDecision::Reuse,
    }
}

/// What a decision must have written, besides the answer.
async fn check_effects(
    store: &StoreUnderTest,
    case: &ContractCase,
    t: Tokens,
    outcome: &RotationOutcome,
) {
    match outcome {
        RotationOutcome::Rotated { session, .. } => {
            let idle_end = (case.now + 100).min(case.session.absolute_expires_at);
            assert_eq!(
                (session.last_used_at, session.idle_expires_at),
                (case.now, idle_end),
                "{}",
                case.name
            );
            let current = store.session_of_refresh_token(&t.proposed).await.unwrap();
            assert_eq!(
                current.as_ref(),
                Some(session),
                "{}: the successor is stored",
                case.name
            );
        }
        RotationOutcome::Grace {
            steps,
            current_hash,
            ..
        } => {
            assert_eq!((*steps, *current_hash), (1, t.second), "{}", case.name);
        }
        RotationOutcome::Reused { session_id, .. } => {
            let revoked = store.session(session_id).await.unwrap().unwrap();
            assert_eq!(
                revoked.revoked_at,
                Some(case.now),
                "{}: revoked by the refresh",
                case.name
            );
            let (events, _) = store.revocations_since(0).await.unwrap();
            let logged = events.iter().any(|e| {
                matches!(e, RevocationEvent::Session { session_id: id, .. } if id == session_id.as_str())
            });
            assert!(logged, "{}: the feed carries the revocation", case.name);
            let after = store
                .rotate_refresh_token(&RefreshRotation {
                    presented_hash: t.second,
                    successor_hash: t.proposed,
                    now: case.now,
                    grace_secs: case.grace_secs,
                    idle_timeout_secs: 100,
                })
                .await
                .unwrap();
            assert_eq!(
                after,
                RotationOutcome::Inactive,
                "{}: the whole chain is dead",
                case.name
            );
        }
        RotationOutcome::Unknown | RotationOutcome::Inactive => {}
    }
}

backend_tests! {
    async fn every_contract_case_gives_the_decision_core_states(store: StoreUnderTest) {
        assert!(!CONTRACT.is_empty());
        for (n, case) in CONTRACT.iter().enumerate() {
            let tokens = Tokens::of_case(n);

            let outcome = run(&store, case, tokens).await;

            assert_eq!(decision_of(&outcome), case.expected, "{}: {outcome:?}", case.name);
            check_effects(&store, case, tokens, &outcome).await;
        }
    }
}
