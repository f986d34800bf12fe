//! The redirect_uri rules: syntax of a client redirect_uri and allow-list matching.
//! Matching is byte-wise and case-sensitive, with no normalisation of any kind.
//!
//! Because a prefix rule matches bytes while a browser resolves paths, a URI admitted by a prefix rule
//! must not contain a dot-segment (`.` or `..` as a path segment, also spelled `%2e`/`%2E`, also as the
//! last segment) nor a backslash (raw or `%5C`, which browsers treat as `/`): otherwise
//! `https://app.example.com/cb/../evil` would pass `https://app.example.com/cb/*` and land on `/evil`.
//! Every redirect_uri must be ASCII, so nothing but ASCII is ever written into a `Location` header.

use crate::config::RedirectRule;

/// The `value_error` message for a malformed redirect_uri.
pub const REDIRECT_URI_RULE: &str = "redirect_uri must be an absolute URI without a fragment";

/// The `value_error` message for a redirect_uri with non-ASCII characters.
pub const REDIRECT_URI_ASCII_RULE: &str =
    "redirect_uri must contain only ASCII characters (percent-encode anything else)";

/// The detail of the 400 `invalid_redirect_uri` for a URI that a prefix rule would admit but that
/// contains a dot-segment or a backslash.
pub const REDIRECT_URI_PATH_RULE: &str =
    "redirect_uri is not allowed: it contains a dot-segment or a backslash";

/// Whether the allow-list admits `uri`, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An exact rule, a prefix rule (with a clean path) or `*` admits it.
    Allowed,
    /// A prefix rule matches its bytes, but it has a dot-segment or a backslash.
    UnsafePath,
    /// No rule admits it.
    NotAllowed,
}

/// Whether `uri` is an absolute URI (a scheme, `:`, something after it) without a fragment or
/// whitespace/control characters.
pub fn is_absolute_without_fragment(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.chars();
    let scheme_ok = scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !rest.is_empty()
        && !uri.contains('#')
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether the allow-list admits `uri`.
pub fn is_allowed(rules: &[RedirectRule], uri: &str) -> bool {
    check(rules, uri) == Verdict::Allowed
}

/// Matches `uri` against the allow-list: exact rules byte for byte; prefix rules by their bytes and
/// then only when the URI has no dot-segment and no backslash.
pub fn check(rules: &[RedirectRule], uri: &str) -> Verdict {
    let mut prefix_matched = false;
    for rule in rules {
        match rule {
            RedirectRule::Exact(exact) if exact == uri => return Verdict::Allowed,
            RedirectRule::Any => return Verdict::Allowed,
            RedirectRule::Prefix(prefix) if uri.starts_with(prefix.as_str()) => {
                prefix_matched = true;
            }
            _ => {}
        }
    }
    if !prefix_matched {
        Verdict::NotAllowed
    } else if has_dot_segment_or_backslash(uri) {
        Verdict::UnsafePath
    } else {
        Verdict::Allowed
    }
}

/// Whether `uri` has a backslash (raw or `%5C`, anywhere) or a path segment that is `.` or `..` once
/// `%2e`/`%2E` are read as dots. The path ends at the first `?`; a query is not resolved by browsers.
pub fn has_dot_segment_or_backslash(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    if lower.contains('\\') || lower.contains("%5c") {
        return true;
    }
    let path = lower.split('?').next().unwrap_or("");
    path.split('/').any(|segment| {
        let dots = segment.replace("%2e", ".");
        dots == "." || dots == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_rules_refuse_dot_segments_and_backslashes_in_every_spelling() {
        let rules = [
            RedirectRule::Prefix("https://app.example.com/cb/".into()),
            RedirectRule::Prefix("apuntador://auth/".into()),
        ];
        let table: &[(&str, Verdict)] = &[
            ("https://app.example.com/cb/done", Verdict::Allowed),
            ("https://app.example.com/cb/a.b/..c/c..", Verdict::Allowed),
            ("https://app.example.com/cb/...", Verdict::Allowed),
            ("https://app.example.com/cb/x?next=/../y", Verdict::Allowed),
            ("https://app.example.com/cb/%2e%2e%2e", Verdict::Allowed),
            ("apuntador://auth/ok", Verdict::Allowed),
            ("https://app.example.com/cb/../evil", Verdict::UnsafePath),
            ("https://app.example.com/cb/./x", Verdict::UnsafePath),
            ("https://app.example.com/cb/x/..", Verdict::UnsafePath),
            ("https://app.example.com/cb/x/.", Verdict::UnsafePath),
            ("https://app.example.com/cb/..?x=1", Verdict::UnsafePath),
            (
                "https://app.example.com/cb/%2e%2e/evil",
                Verdict::UnsafePath,
            ),
            (
                "https://app.example.com/cb/%2E%2E/evil",
                Verdict::UnsafePath,
            ),
            ("https://app.example.com/cb/.%2E/evil", Verdict::UnsafePath),
            ("https://app.example.com/cb/%2e./evil", Verdict::UnsafePath),
            ("https://app.example.com/cb/%2e/evil", Verdict::UnsafePath),
            ("https://app.example.com/cb/x/%2E", Verdict::UnsafePath),
            ("https://app.example.com/cb/x/%2e%2E", Verdict::UnsafePath),
            ("https://app.example.com/cb/\\..\\evil", Verdict::UnsafePath),
            ("https://app.example.com/cb/x\\y", Verdict::UnsafePath),
            (
                "https://app.example.com/cb/%5C%5Cevil.com",
                Verdict::UnsafePath,
            ),
            ("https://app.example.com/cb/%5cevil", Verdict::UnsafePath),
            ("https://app.example.com/cb/x?y=%5C", Verdict::UnsafePath),
            ("apuntador://auth/../other", Verdict::UnsafePath),
            ("https://other.example.com/cb/x", Verdict::NotAllowed),
            ("https://other.example.com/cb/../x", Verdict::NotAllowed),
        ];
        for (uri, expected) in table {
            assert_eq!(check(&rules, uri), *expected, "{uri}");
        }
    }

    #[test]
    fn exact_and_allow_all_rules_are_not_subject_to_the_path_rule() {
        let exact = [RedirectRule::Exact("https://app.example.com/a/../b".into())];
        assert_eq!(
            check(&exact, "https://app.example.com/a/../b"),
            Verdict::Allowed
        );
        assert_eq!(
            check(&[RedirectRule::Any], "https://x/../y"),
            Verdict::Allowed
        );
    }

    #[test]
    fn prefix_rules_cannot_be_widened_by_host_suffixes() {
        let rules = [RedirectRule::Prefix("https://app.example.com/".into())];
        assert!(is_allowed(&rules, "https://app.example.com/cb"));
        assert!(!is_allowed(&rules, "https://app.example.com.evil/cb"));
        assert!(!is_allowed(&rules, "https://app.example.com"));
    }

    #[test]
    fn exact_rules_match_byte_for_byte() {
        let rules = [RedirectRule::Exact("apuntador://oauth-callback".into())];
        assert!(is_allowed(&rules, "apuntador://oauth-callback"));
        assert!(!is_allowed(&rules, "apuntador://oauth-callback/"));
        assert!(!is_allowed(&rules, "Apuntador://oauth-callback"));
        assert!(!is_allowed(&rules, "apuntador://oauth%2Dcallback"));
    }

    #[test]
    fn redirect_uri_syntax_requires_a_scheme_and_forbids_fragments_and_spaces() {
        assert!(is_absolute_without_fragment("apuntador://oauth-callback"));
        assert!(is_absolute_without_fragment(
            "https://app.example.com/cb?x=1"
        ));
        assert!(!is_absolute_without_fragment("/relative"));
        assert!(!is_absolute_without_fragment(
            "https://app.example.com/cb#frag"
        ));
        assert!(!is_absolute_without_fragment("https://app.example.com/a b"));
        assert!(!is_absolute_without_fragment("1http://x"));
        assert!(!is_absolute_without_fragment("https:"));
    }
}
