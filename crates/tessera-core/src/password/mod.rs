//! Passwords: Argon2id hashing with a floor on its cost, and the NIST SP 800-63B-4 policy for
//! choosing a password.
//!
//! This module owns everything that touches a plaintext password: normalisation (NFKC), the
//! length limits, the common-password list shipped in the binary, PHC hash strings, and the
//! bounded pool that runs Argon2 off the async runtime. It must not log, print or put into an
//! error message a password or a hash, and it must not decide what a failed check means for the
//! client (HTTP status, uniform "invalid credentials"): callers do.
//!
//! # Layout
//! - [`PasswordParams`]: Argon2id cost; the OWASP floor is enforced by construction.
//! - [`PasswordHash`]: a validated Argon2id PHC string with a redacted `Debug`.
//! - [`PasswordHasher`]: hashing and verification on tokio's blocking pool, behind a
//!   semaphore with a bounded wait queue ([`PasswordError::Busy`] when it is full).
//! - [`PasswordPolicy`], [`Password`], [`PolicyViolation`]: what a new password must satisfy,
//!   and the normalised password type the hasher accepts.

mod common;
mod hash;
mod hasher;
mod params;
mod policy;

pub use hash::PasswordHash;
pub use hasher::{PasswordHasher, Verification, WaitObserver};
pub use params::PasswordParams;
pub use policy::{Password, PasswordPolicy, PolicyViolation};

/// A failure to hash or verify, or a refused configuration. Never carries a password or hash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Every hashing worker is busy and the wait queue is full. The server answers 503
    /// `temporarily_unavailable` with `Retry-After`.
    #[error("password hashing is at capacity, retry shortly")]
    Busy,
    /// Argon2 parameters below the OWASP floor (see [`PasswordParams::new`]).
    #[error(
        "argon2 parameters m_cost_kib={m_cost_kib} t_cost={t_cost} p_cost={p_cost} are below the \
         OWASP floor: with t_cost={t_cost} set m_cost_kib to at least {min_m_cost_kib} (the default \
         is m_cost_kib=19456 t_cost=2 p_cost=1)"
    )]
    WeakParams {
        /// The memory cost asked for, in KiB.
        m_cost_kib: u32,
        /// The number of passes asked for.
        t_cost: u32,
        /// The parallelism asked for.
        p_cost: u32,
        /// The smallest memory cost accepted with that `t_cost`.
        min_m_cost_kib: u32,
    },
    /// Argon2 parameters outside what the server accepts at all (zero, or absurdly large).
    #[error(
        "argon2 parameters m_cost_kib={m_cost_kib} t_cost={t_cost} p_cost={p_cost} are out of \
         range: m_cost_kib must be at most {max_m}, t_cost between 1 and {max_t}, p_cost between \
         1 and {max_p}",
        max_m = PasswordParams::MAX_M_COST_KIB,
        max_t = PasswordParams::MAX_T_COST,
        max_p = PasswordParams::MAX_P_COST
    )]
    ParamsOutOfRange {
        /// The memory cost asked for, in KiB.
        m_cost_kib: u32,
        /// The number of passes asked for.
        t_cost: u32,
        /// The parallelism asked for.
        p_cost: u32,
    },
    /// Password length limits outside their documented ranges.
    #[error(
        "password length limits min_length={min_len} max_length={max_len} are out of range: \
         min_length must be between {lo_min} and {hi_min}, max_length between {lo_max} and {hi_max}",
        lo_min = PasswordPolicy::MIN_LEN_RANGE.start(),
        hi_min = PasswordPolicy::MIN_LEN_RANGE.end(),
        lo_max = PasswordPolicy::MAX_LEN_RANGE.start(),
        hi_max = PasswordPolicy::MAX_LEN_RANGE.end()
    )]
    InvalidLengthLimits {
        /// The minimum length asked for.
        min_len: usize,
        /// The maximum length asked for.
        max_len: usize,
    },
    /// A stored hash that is not an Argon2id PHC string this server can verify.
    #[error("stored password hash is not a valid argon2id phc string")]
    InvalidHash,
    /// Argon2 itself, the random generator, or the blocking pool failed.
    #[error("password hashing failed")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl PasswordError {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }
}
