//! The redirect_uri rules (SPEC §3.5, §4.8): syntax of a client redirect_uri and allow-list matching.
//! Matching is byte-wise and case-sensitive, with no normalisation of any kind.

use crate::config::RedirectRule;

/// The `value_error` message for a malformed redirect_uri.
pub const REDIRECT_URI_RULE: &str = "redirect_uri must be an absolute URI without a fragment";

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
    rules.iter().any(|rule| match rule {
        RedirectRule::Exact(exact) => exact == uri,
        RedirectRule::Prefix(prefix) => uri.starts_with(prefix.as_str()),
        RedirectRule::Any => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
