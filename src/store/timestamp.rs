//! Timestamp text as kept in storage.
//!
//! Stores write RFC 3339 in UTC with a `Z` suffix and whole seconds (`2026-11-28T06:37:46Z`) and read
//! that form as well as the previous service's `2026-11-28T06:37:46.224347+0000` (fraction optional).
//! Pure functions over `chrono`: this module must not depend on any backend, on axum or on HTTP.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, SubsecRound, Utc};

/// Formats `at` as RFC 3339 UTC with a `Z` suffix, truncated to whole seconds.
///
/// `2026-11-28T06:37:46.9Z` is written as `2026-11-28T06:37:46Z`.
pub fn format(at: DateTime<Utc>) -> String {
    at.trunc_subsecs(0)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a stored timestamp; `None` when the text is in none of the accepted forms.
///
/// Accepted: RFC 3339 with `Z` or any numeric offset (fraction optional), the previous service's
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]+HHMM`, and the same without an offset, which is read as UTC (the
/// previous service's naive `isoformat()` output). Fractions are kept; values are converted to UTC.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, m, s)
            .single()
            .expect("valid date")
    }

    #[test]
    fn format_writes_z_and_whole_seconds() {
        let value = at(6, 37, 46) + chrono::Duration::microseconds(224_347);

        assert_eq!(format(value), "2026-11-28T06:37:46Z");
    }

    #[test]
    fn parse_reads_what_format_writes() {
        assert_eq!(parse(&format(at(6, 37, 46))), Some(at(6, 37, 46)));
    }

    #[test]
    fn parse_reads_the_previous_service_format_with_a_fraction() {
        let parsed = parse("2026-11-28T06:37:46.224347+0000").expect("parsed");

        assert_eq!(
            parsed,
            at(6, 37, 46) + chrono::Duration::microseconds(224_347)
        );
    }

    #[test]
    fn parse_reads_the_previous_service_format_without_a_fraction() {
        assert_eq!(parse("2026-11-28T06:37:46+0000"), Some(at(6, 37, 46)));
    }

    #[test]
    fn parse_converts_other_offsets_to_utc() {
        assert_eq!(parse("2026-11-28T08:37:46+02:00"), Some(at(6, 37, 46)));
        assert_eq!(
            parse("2026-11-28T08:37:46.5+0200"),
            Some(at(6, 37, 46) + chrono::Duration::milliseconds(500))
        );
    }

    #[test]
    fn parse_reads_a_naive_timestamp_as_utc() {
        assert_eq!(
            parse("2026-11-28T06:37:46.224347"),
            Some(at(6, 37, 46) + chrono::Duration::microseconds(224_347))
        );
    }

    #[test]
    fn parse_rejects_text_that_is_not_a_timestamp() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2026-11-28"), None);
        assert_eq!(parse("2026-13-28T06:37:46Z"), None);
    }
}
