//! `tessera audit`: list the audit log, newest first, filtered by event, user and time, as a
//! table or as JSON lines. Reads the database directly, so it works while servers run on it.

use anyhow::{Context as _, bail};
use serde_json::json;
use tessera_core::audit::AuditEvent;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::store::{AuditEntry, AuditFilter, Store};
use tessera_server::config::Settings;

use crate::admin::open;
use crate::cli::AuditArgs;

/// `tessera audit …`
pub(crate) async fn audit(settings: Settings, args: AuditArgs) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    let filter = AuditFilter {
        event: args.event.as_deref().map(event_name).transpose()?,
        subject: match &args.user {
            Some(user) => Some(subject(store.as_ref(), user).await?),
            None => None,
        },
        since: args
            .since
            .as_deref()
            .map(|s| since(s, SystemClock.unix()))
            .transpose()?,
        until: None,
        limit: args.limit,
    };
    let entries = store
        .audit_entries(&filter)
        .await
        .context("cannot read the audit log")?;
    if args.json {
        for e in &entries {
            println!("{}", entry_json(e));
        }
    } else {
        print_table(&entries);
    }
    Ok(())
}

/// A known event name, or an error listing them.
fn event_name(name: &str) -> anyhow::Result<String> {
    match AuditEvent::parse(name) {
        Some(event) => Ok(event.as_str().to_owned()),
        None => {
            let known: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.as_str()).collect();
            bail!("unknown event '{name}'; known events: {}", known.join(", "))
        }
    }
}

/// The user id `--user` names: a username (any case) if one matches, else the text as an id.
async fn subject(store: &dyn Store, user: &str) -> anyhow::Result<String> {
    if let Ok(name) = tessera_core::username::Username::parse(user)
        && let Some(found) = store
            .user_by_username(name.canonical())
            .await
            .context("cannot look the user up")?
    {
        return Ok(found.user.id.as_str().to_owned());
    }
    Ok(user.to_owned())
}

/// `--since`: Unix seconds, or a duration before `now` (`90s`, `15m`, `24h`, `7d`, `2w`).
fn since(text: &str, now: i64) -> anyhow::Result<i64> {
    if let Ok(unix) = text.parse::<i64>() {
        return Ok(unix);
    }
    let secs = duration_secs(text).ok_or_else(|| {
        anyhow::anyhow!(
            "--since takes Unix seconds or a duration such as 90s, 15m, 24h, 7d or 2w, not '{text}'"
        )
    })?;
    Ok(now.saturating_sub(secs))
}

/// A duration written as a whole number and a unit (`90s`, `15m`, `24h`, `7d`, `2w`), in
/// seconds; `None` for anything else (a negative, a fraction, no unit, another unit).
pub(crate) fn duration_secs(text: &str) -> Option<i64> {
    let split = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at_checked(split)?;
    let number: i64 = number.parse().ok()?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    if number < 0 {
        return None;
    }
    Some(number.saturating_mul(unit_secs))
}

fn entry_json(e: &AuditEntry) -> serde_json::Value {
    json!({
        "at": e.at,
        "time": rfc3339(e.at),
        "event": e.event,
        "outcome": e.outcome,
        "actor": e.actor,
        "subject": e.subject,
        "client_ip": e.client_ip,
        "session_id": e.session_id,
        "detail": e.detail,
    })
}

fn print_table(entries: &[AuditEntry]) {
    println!(
        "{:<20} {:<24} {:<8} {:<36} {:<36} {:<15} {:<36} DETAIL",
        "TIME", "EVENT", "OUTCOME", "ACTOR", "SUBJECT", "IP", "SESSION"
    );
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    for e in entries {
        println!(
            "{:<20} {:<24} {:<8} {:<36} {:<36} {:<15} {:<36} {}",
            rfc3339(e.at),
            e.event,
            e.outcome,
            or_dash(&e.actor),
            or_dash(&e.subject),
            or_dash(&e.client_ip),
            or_dash(&e.session_id),
            or_dash(&e.detail),
        );
    }
}

/// Unix seconds as RFC 3339 in UTC (`2026-12-06T03:20:00Z`), by the civil-from-days
/// algorithm (H. Hinnant), so the binary needs no date crate.
pub(crate) fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc_3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z", "a leap day");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn since_takes_unix_seconds_or_a_duration_back_from_now() {
        assert_eq!(since("1700000000", 5).unwrap(), 1_700_000_000);
        assert_eq!(since("90s", 1_000).unwrap(), 910);
        assert_eq!(since("15m", 10_000).unwrap(), 9_100);
        assert_eq!(since("2h", 10_000).unwrap(), 2_800);
        assert_eq!(since("1d", 100_000).unwrap(), 13_600);
        assert_eq!(since("1w", 1_000_000).unwrap(), 395_200);
        for bad in ["", "h", "5y", "-5m", "1.5h"] {
            assert!(since(bad, 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_events_are_refused_with_the_list() {
        assert_eq!(event_name("login.failed").unwrap(), "login.failed");
        let err = event_name("login.nope").unwrap_err().to_string();
        assert!(err.contains("login.succeeded"), "{err}");
    }
}
