//! Argon2id cost parameters and the floor under them.
//!
//! Owns the rule that production never hashes below OWASP's Argon2id recommendation. The only
//! way around it is [`PasswordParams::danger_test_minimum`], which configuration cannot reach.

use super::PasswordError;

/// Argon2id cost: memory in KiB, passes, and lanes.
///
/// A value of this type is at or above the OWASP floor unless it came from
/// [`PasswordParams::danger_test_minimum`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PasswordParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl PasswordParams {
    /// OWASP's recommended Argon2id configuration: m = 19456 KiB (19 MiB), t = 2, p = 1.
    /// The default and the reference for the floor.
    pub const OWASP: PasswordParams = PasswordParams {
        m_cost_kib: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// Largest memory cost accepted: 4 GiB. Above this a single login could exhaust memory.
    pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    /// Largest number of passes accepted.
    pub const MAX_T_COST: u32 = 64;
    /// Largest parallelism accepted.
    pub const MAX_P_COST: u32 = 16;

    /// The OWASP default ([`PasswordParams::OWASP`]).
    pub fn owasp_default() -> Self {
        Self::OWASP
    }

    /// Checked parameters.
    ///
    /// # The floor
    /// The memory cost must be at least what OWASP recommends for the same number of passes:
    ///
    /// | `t_cost` | minimum `m_cost_kib` |
    /// |---|---|
    /// | 1 | 47104 |
    /// | 2 | 19456 (the default) |
    /// | 3 | 12288 |
    /// | 4 | 9216 |
    /// | 5 or more | 7168 |
    ///
    /// so every OWASP-listed configuration is accepted and nothing weaker than one is. Any
    /// `p_cost` from 1 is accepted: the attacker's cost is memory times passes, whatever the
    /// lanes. Ranges: `m_cost_kib` up to [`Self::MAX_M_COST_KIB`], `t_cost` 1 to
    /// [`Self::MAX_T_COST`], `p_cost` 1 to [`Self::MAX_P_COST`].
    ///
    /// # Errors
    /// [`PasswordError::WeakParams`] below the floor (the message names the minimum memory for
    /// the given passes), [`PasswordError::ParamsOutOfRange`] outside the ranges.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, PasswordError> {
        let in_range = m_cost_kib <= Self::MAX_M_COST_KIB
            && (1..=Self::MAX_T_COST).contains(&t_cost)
            && (1..=Self::MAX_P_COST).contains(&p_cost);
        if !in_range {
            return Err(PasswordError::ParamsOutOfRange {
                m_cost_kib,
                t_cost,
                p_cost,
            });
        }
        let min_m_cost_kib = Self::min_m_cost_kib_for(t_cost);
        if m_cost_kib < min_m_cost_kib {
            return Err(PasswordError::WeakParams {
                m_cost_kib,
                t_cost,
                p_cost,
                min_m_cost_kib,
            });
        }
        Ok(Self {
            m_cost_kib,
            t_cost,
            p_cost,
        })
    }

    /// The smallest `m_cost_kib` that [`Self::new`] accepts with `t_cost` passes.
    pub fn min_m_cost_kib_for(t_cost: u32) -> u32 {
        // OWASP's equivalent Argon2id configurations (Password Storage Cheat Sheet): each row
        // trades memory for passes at the same defensive strength.
        match t_cost {
            0 | 1 => 47_104,
            2 => 19_456,
            3 => 12_288,
            4 => 9_216,
            _ => 7_168,
        }
    }

    /// DANGER: the smallest parameters Argon2 accepts (m = 8 KiB, t = 1, p = 1), for tests
    /// only, so that suites which register and log in users run in microseconds.
    ///
    /// A hash made with these is trivially brute-forced. Configuration cannot select them: the
    /// server builds its parameters through [`Self::new`], which refuses anything below the
    /// floor; only test harnesses call this directly.
    pub fn danger_test_minimum() -> Self {
        Self {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Memory cost in KiB.
    pub fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Number of passes over memory.
    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Degree of parallelism (lanes).
    pub fn p_cost(&self) -> u32 {
        self.p_cost
    }

    /// Whether a hash made with the raw costs `(m, t, p)` was made with these parameters.
    pub(crate) fn matches(&self, m_cost_kib: u32, t_cost: u32, p_cost: u32) -> bool {
        (self.m_cost_kib, self.t_cost, self.p_cost) == (m_cost_kib, t_cost, p_cost)
    }

    pub(crate) fn to_argon2(self) -> Result<argon2::Params, PasswordError> {
        argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
            .map_err(PasswordError::internal)
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::OWASP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_owasp_configuration_is_accepted() {
        for (m, t) in [
            (47_104, 1),
            (19_456, 2),
            (12_288, 3),
            (9_216, 4),
            (7_168, 5),
        ] {
            assert!(
                PasswordParams::new(m, t, 1).is_ok(),
                "OWASP row m={m} t={t} must be accepted"
            );
        }
        assert_eq!(PasswordParams::default(), PasswordParams::OWASP);
        assert_eq!(PasswordParams::owasp_default(), PasswordParams::OWASP);
    }

    #[test]
    fn params_below_the_floor_are_refused_with_the_minimum_in_the_message() {
        let cases = [
            (19_455, 2, 1, 19_456, "one KiB under the default"),
            (19_456, 1, 1, 47_104, "default memory with a single pass"),
            (12_287, 3, 1, 12_288, "just under the three-pass row"),
            (7_167, 64, 1, 7_168, "many passes do not excuse tiny memory"),
            (8, 1, 1, 47_104, "the test minimum"),
        ];
        for (m, t, p, min, why) in cases {
            let err = PasswordParams::new(m, t, p).expect_err(why);
            assert!(
                matches!(err, PasswordError::WeakParams { min_m_cost_kib, .. } if min_m_cost_kib == min),
                "{why}: got {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!("at least {min}")),
                "{why}: message must say the floor: {message}"
            );
        }
    }

    #[test]
    fn params_out_of_range_are_refused() {
        let cases = [
            (19_456, 0, 1, "zero passes"),
            (19_456, 2, 0, "zero lanes"),
            (19_456, 2, 17, "too many lanes"),
            (PasswordParams::MAX_M_COST_KIB + 1, 2, 1, "more than 4 GiB"),
            (19_456, 65, 1, "too many passes"),
        ];
        for (m, t, p, why) in cases {
            let err = PasswordParams::new(m, t, p).expect_err(why);
            assert!(
                matches!(err, PasswordError::ParamsOutOfRange { .. }),
                "{why}: got {err:?}"
            );
        }
    }

    #[test]
    fn danger_test_minimum_is_below_the_floor() {
        let p = PasswordParams::danger_test_minimum();
        assert_eq!((p.m_cost_kib(), p.t_cost(), p.p_cost()), (8, 1, 1));
        assert!(PasswordParams::new(8, 1, 1).is_err());
    }
}
