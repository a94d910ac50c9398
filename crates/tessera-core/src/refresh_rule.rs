//! The refresh-token rotation rule, written once: what a presented refresh token leads to,
//! given the facts a store reads about it (the token's own state, its session's state, the
//! time and the grace window). Pure: no I/O, no clock; the store reads the facts and applies
//! the decision's writes in the transaction that read them.
//!
//! Two places apply this rule and must agree with it exactly:
//! - the SQLite adapter (`tessera-store`, `sqlite/rotation.rs`) calls [`decide`] and
//!   [`grace_steps`];
//! - PostgreSQL runs it inside the database, in one round trip, as the PL/pgSQL function
//!   `tessera_rotate_refresh` (`tessera-store`, `migrations/postgres/0009_rotation_revokes_reuse.sql`),
//!   a line-for-line transcription of the two functions below.
//!
//! [`CONTRACT`] is the table of cases both are held to: this module's unit tests run it
//! against [`decide`], and the store's contract tests run it on both backends through
//! `SessionStore::rotate_refresh_token`.

/// What the store knows about the presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFacts {
    /// Its position in the session's chain (the first token is 0).
    pub generation: i64,
    /// When it was rotated (its successor issued), if it was: `None` for the current token.
    pub rotated_at: Option<i64>,
}

/// What the store knows about the token's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    /// Whether the session was revoked.
    pub revoked: bool,
    /// Its absolute end (Unix seconds).
    pub absolute_expires_at: i64,
    /// Its idle end (Unix seconds).
    pub idle_expires_at: i64,
}

/// What a refresh does, before the grace-window step count is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// No such token (or no such session).
    Unknown,
    /// The session was revoked or has ended (`now` at or past either end).
    Inactive,
    /// The token is current: rotate it to its successor.
    Rotate,
    /// The token was rotated at most `grace_secs` ago: lead the client to the current token
    /// (see [`grace_steps`]).
    WithinGrace,
    /// The token was rotated longer ago than the grace window: reuse, so the session is
    /// revoked in the same transaction.
    Reuse,
}

/// Decides a refresh from the facts. The checks run in this order: a missing token or
/// session is `Unknown`; a revoked session, or `now >= absolute_expires_at`, or
/// `now >= idle_expires_at` is `Inactive`; a token never rotated is `Rotate`; a token rotated
/// with `now - rotated_at <= grace_secs` is `WithinGrace`; any other is `Reuse`.
#[must_use]
pub fn decide(
    token: Option<TokenFacts>,
    session: Option<SessionFacts>,
    now: i64,
    grace_secs: i64,
) -> RefreshDecision {
    let (Some(token), Some(session)) = (token, session) else {
        return RefreshDecision::Unknown;
    };
    if session.revoked || now >= session.absolute_expires_at || now >= session.idle_expires_at {
        return RefreshDecision::Inactive;
    }
    match token.rotated_at {
        None => RefreshDecision::Rotate,
        // The exact difference (no overflow, no saturation), as PostgreSQL's `numeric`.
        Some(rotated_at) if i128::from(now) - i128::from(rotated_at) <= i128::from(grace_secs) => {
            RefreshDecision::WithinGrace
        }
        Some(_) => RefreshDecision::Reuse,
    }
}

/// For a refresh `WithinGrace`: how many successor steps lead from the presented token
/// (`presented_generation`) to the session's current one (`current_generation`, `None` if the
/// session has no current token). `None` means the refresh is `Inactive`: no current token,
/// or one that is not ahead of the presented one.
#[must_use]
pub fn grace_steps(presented_generation: i64, current_generation: Option<i64>) -> Option<u32> {
    let steps = current_generation?.checked_sub(presented_generation)?;
    u32::try_from(steps).ok().filter(|&steps| steps > 0)
}

/// The session's new idle end after a rotation: `idle_timeout_secs` from `now`, never past
/// the absolute end.
#[must_use]
pub fn idle_end_after_rotation(now: i64, idle_timeout_secs: i64, absolute_expires_at: i64) -> i64 {
    now.saturating_add(idle_timeout_secs)
        .min(absolute_expires_at)
}

/// The presented token's state in a [`ContractCase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseToken {
    /// No such token.
    Unknown,
    /// The session's first token, never rotated.
    Current,
    /// The first token, rotated at `rotated_at` (its successor is current).
    Rotated {
        /// When it was rotated.
        rotated_at: i64,
    },
}

/// The session's state in a [`ContractCase`]. Every case's session starts at
/// [`CONTRACT_START`]; a revoked one is revoked after the token's rotation, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseSession {
    /// Whether the session was revoked.
    pub revoked: bool,
    /// Its absolute end.
    pub absolute_expires_at: i64,
    /// Its idle end when the refresh is presented (a rotation in the setup keeps it).
    pub idle_expires_at: i64,
}

/// One row of the rotation contract: the facts, the time, the grace window, and what must
/// come of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractCase {
    /// What the case checks.
    pub name: &'static str,
    /// The presented token.
    pub token: CaseToken,
    /// Its session.
    pub session: CaseSession,
    /// When the refresh is presented.
    pub now: i64,
    /// The grace window.
    pub grace_secs: i64,
    /// The decision.
    pub expected: RefreshDecision,
}

/// When every contract case's session was created.
pub const CONTRACT_START: i64 = 1_000;

const LIVE: CaseSession = CaseSession {
    revoked: false,
    absolute_expires_at: 2_000,
    idle_expires_at: 1_500,
};

const fn case(
    name: &'static str,
    token: CaseToken,
    session: CaseSession,
    now: i64,
    grace_secs: i64,
    expected: RefreshDecision,
) -> ContractCase {
    ContractCase {
        name,
        token,
        session,
        now,
        grace_secs,
        expected,
    }
}

const ROTATED: CaseToken = CaseToken::Rotated { rotated_at: 1_100 };

/// The rotation contract: token state × session state × now × grace window, with the
/// decision each must give.
pub const CONTRACT: &[ContractCase] = {
    use RefreshDecision::{Inactive, Reuse, Rotate, Unknown, WithinGrace};
    const REVOKED: CaseSession = CaseSession {
        revoked: true,
        ..LIVE
    };
    const NEAR_END: CaseSession = CaseSession {
        idle_expires_at: 2_000,
        ..LIVE
    };
    &[
        case(
            "unknown token",
            CaseToken::Unknown,
            LIVE,
            1_200,
            10,
            Unknown,
        ),
        case("current token", CaseToken::Current, LIVE, 1_200, 10, Rotate),
        case(
            "current token, no grace",
            CaseToken::Current,
            LIVE,
            1_200,
            0,
            Rotate,
        ),
        case(
            "current token, revoked session",
            CaseToken::Current,
            REVOKED,
            1_200,
            10,
            Inactive,
        ),
        case(
            "current token, one second before idle end",
            CaseToken::Current,
            LIVE,
            1_499,
            10,
            Rotate,
        ),
        case(
            "current token, at idle end",
            CaseToken::Current,
            LIVE,
            1_500,
            10,
            Inactive,
        ),
        case(
            "current token, past idle end",
            CaseToken::Current,
            LIVE,
            1_600,
            10,
            Inactive,
        ),
        case(
            "current token, before absolute end",
            CaseToken::Current,
            NEAR_END,
            1_999,
            10,
            Rotate,
        ),
        case(
            "current token, at absolute end",
            CaseToken::Current,
            NEAR_END,
            2_000,
            10,
            Inactive,
        ),
        case(
            "rotated token, same second",
            ROTATED,
            LIVE,
            1_100,
            10,
            WithinGrace,
        ),
        case(
            "rotated token, inside grace",
            ROTATED,
            LIVE,
            1_105,
            10,
            WithinGrace,
        ),
        case(
            "rotated token, at grace end",
            ROTATED,
            LIVE,
            1_110,
            10,
            WithinGrace,
        ),
        case(
            "rotated token, just past grace",
            ROTATED,
            LIVE,
            1_111,
            10,
            Reuse,
        ),
        case("rotated token, long after", ROTATED, LIVE, 1_400, 10, Reuse),
        case(
            "rotated token, no grace, same second",
            ROTATED,
            LIVE,
            1_100,
            0,
            WithinGrace,
        ),
        case(
            "rotated token, no grace, a second later",
            ROTATED,
            LIVE,
            1_101,
            0,
            Reuse,
        ),
        case(
            "rotated token, revoked session",
            ROTATED,
            REVOKED,
            1_105,
            10,
            Inactive,
        ),
        case(
            "rotated token, revoked session, past grace",
            ROTATED,
            REVOKED,
            1_400,
            10,
            Inactive,
        ),
        case(
            "rotated token, at idle end",
            ROTATED,
            LIVE,
            1_500,
            1_000,
            Inactive,
        ),
        case(
            "rotated token, at absolute end",
            ROTATED,
            NEAR_END,
            2_000,
            10,
            Inactive,
        ),
    ]
};

impl ContractCase {
    /// The facts this case gives [`decide`].
    #[must_use]
    pub fn facts(&self) -> (Option<TokenFacts>, Option<SessionFacts>) {
        let token = match self.token {
            CaseToken::Unknown => return (None, None),
            CaseToken::Current => TokenFacts {
                generation: 0,
                rotated_at: None,
            },
            CaseToken::Rotated { rotated_at } => TokenFacts {
                generation: 0,
                rotated_at: Some(rotated_at),
            },
        };
        let session = SessionFacts {
            revoked: self.session.revoked,
            absolute_expires_at: self.session.absolute_expires_at,
            idle_expires_at: self.session.idle_expires_at,
        };
        (Some(token), Some(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_case_gives_its_decision() {
        for case in CONTRACT {
            let (token, session) = case.facts();
            assert_eq!(
                decide(token, session, case.now, case.grace_secs),
                case.expected,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn a_token_without_a_session_is_unknown() {
        let token = TokenFacts {
            generation: 3,
            rotated_at: None,
        };
        assert_eq!(decide(Some(token), None, 0, 10), RefreshDecision::Unknown);
    }

    #[test]
    fn grace_steps_count_forward_and_nothing_else() {
        let cases = [
            (0, Some(1), Some(1), "one step"),
            (2, Some(5), Some(3), "three steps"),
            (0, None, None, "no current token"),
            (4, Some(4), None, "the presented token is current"),
            (5, Some(4), None, "the current token is behind"),
            (0, Some(i64::from(u32::MAX) + 1), None, "too far to count"),
            (i64::MIN, Some(i64::MAX), None, "overflow"),
        ];
        for (presented, current, expected, why) in cases {
            assert_eq!(grace_steps(presented, current), expected, "{why}");
        }
    }

    #[test]
    fn the_idle_end_moves_forward_but_never_past_the_absolute_end() {
        assert_eq!(idle_end_after_rotation(1_000, 100, 2_000), 1_100);
        assert_eq!(idle_end_after_rotation(1_950, 100, 2_000), 2_000);
        assert_eq!(
            idle_end_after_rotation(i64::MAX - 1, 100, i64::MAX),
            i64::MAX
        );
    }

    #[test]
    fn the_widest_grace_window_is_exact_at_the_edges() {
        let session = SessionFacts {
            revoked: false,
            absolute_expires_at: i64::MAX,
            idle_expires_at: i64::MAX,
        };
        let rotated = |at| TokenFacts {
            generation: 0,
            rotated_at: Some(at),
        };
        let within = decide(Some(rotated(0)), Some(session), i64::MAX - 1, i64::MAX);
        let beyond = decide(Some(rotated(-2)), Some(session), i64::MAX - 1, i64::MAX);
        assert_eq!(
            within,
            RefreshDecision::WithinGrace,
            "difference i64::MAX - 1"
        );
        assert_eq!(
            beyond,
            RefreshDecision::Reuse,
            "difference i64::MAX + 1, not saturated"
        );
    }

    #[test]
    fn a_far_past_rotation_does_not_overflow() {
        let token = TokenFacts {
            generation: 0,
            rotated_at: Some(i64::MIN),
        };
        let session = SessionFacts {
            revoked: false,
            absolute_expires_at: i64::MAX,
            idle_expires_at: i64::MAX,
        };
        assert_eq!(
            decide(Some(token), Some(session), i64::MAX - 1, 10),
            RefreshDecision::Reuse
        );
    }
}
