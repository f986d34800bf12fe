//! Desktop attestation: a weak, client-asserted signal that binds a device id to the first
//! fingerprint seen, with a per-device limit per UTC clock hour. This module holds the pure parts: the
//! rate window and the fixed texts. Pure: no I/O, the clock is a parameter.

use chrono::{DateTime, TimeZone as _, Utc};

/// Advice when the fingerprint differs from the bound one.
pub const FINGERPRINT_MISMATCH: &str = "FINGERPRINT_MISMATCH";
/// Problem detail (and stored `error_message`) of a fingerprint mismatch.
pub const MISMATCH_DETAIL: &str =
    "Device verification failed: fingerprint does not match the one bound to this device";

/// One UTC clock hour, the unit of the desktop rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Hours since the Unix epoch.
    pub hour: i64,
    /// The end of the hour (the start of the next one).
    pub end: DateTime<Utc>,
}

impl RateWindow {
    /// The clock hour containing `at`.
    pub fn containing(at: DateTime<Utc>) -> RateWindow {
        let hour = at.timestamp().div_euclid(3600);
        let end = Utc
            .timestamp_opt((hour + 1) * 3600, 0)
            .single()
            .unwrap_or(at);
        RateWindow { hour, end }
    }

    /// The counter key of a device in this window: `desktop#<device_id>#<epoch hour>` (stored as
    /// `rate#desktop#…`).
    pub fn key(&self, device_id: &str) -> String {
        format!("desktop#{device_id}#{}", self.hour)
    }

    /// Whole seconds from `now` to the next hour, at least 1 (the `Retry-After` value).
    pub fn retry_after(&self, now: DateTime<Utc>) -> u64 {
        let millis = (self.end - now).num_milliseconds().max(0);
        u64::try_from((millis + 999) / 1000).unwrap_or(1).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_window_is_the_utc_clock_hour() {
        let w = RateWindow::containing(at("2026-11-28T06:37:46Z"));
        assert_eq!(w.end, at("2026-11-28T07:00:00Z"));
        assert_eq!(w.hour, at("2026-11-28T06:00:00Z").timestamp() / 3600);
        assert_eq!(w.key("desk-0001"), format!("desktop#desk-0001#{}", w.hour));
        assert_eq!(
            RateWindow::containing(at("2026-11-28T06:00:00Z")),
            RateWindow::containing(at("2026-11-28T06:59:59Z"))
        );
    }

    #[test]
    fn retry_after_counts_whole_seconds_to_the_next_hour() {
        let w = RateWindow::containing(at("2026-11-28T06:37:46Z"));
        assert_eq!(w.retry_after(at("2026-11-28T06:37:46Z")), 22 * 60 + 14);
        let late = at("2026-11-28T06:59:59.500Z");
        assert_eq!(RateWindow::containing(late).retry_after(late), 1);
    }
}
