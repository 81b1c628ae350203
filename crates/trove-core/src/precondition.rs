//! Conditional requests (RFC 9110 section 13): the headers parsed into one struct with one `check`,
//! evaluated in the order of section 13.2.2.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The conditional headers of a request, as raw values.
#[derive(Debug, Clone, Default)]
pub struct Preconditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

/// The outcome of evaluating the preconditions before serving a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Serve it; `honor_range` says whether a `Range` header may be applied (false when `If-Range`
    /// does not match).
    Proceed { honor_range: bool },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// The current validators of a representation.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// A strong, quoted entity tag such as `"abc"`.
    pub etag: &'a str,
    pub last_modified: SystemTime,
}

impl Preconditions<'_> {
    /// Evaluates the preconditions for a GET or HEAD (`safe = true`) or another method.
    pub fn check(&self, v: Validators<'_>, safe: bool) -> Outcome {
        let last_modified = truncate_to_seconds(v.last_modified);
        // Step 1 and 2: If-Match, else If-Unmodified-Since.
        if let Some(h) = self.if_match {
            if !matches_any(h, v.etag, Comparison::Strong) {
                return Outcome::PreconditionFailed;
            }
        } else if let Some(date) = self.if_unmodified_since.and_then(parse_date)
            && last_modified > date
        {
            return Outcome::PreconditionFailed;
        }
        // Step 3 and 4: If-None-Match, else If-Modified-Since.
        if let Some(h) = self.if_none_match {
            if matches_any(h, v.etag, Comparison::Weak) {
                return if safe {
                    Outcome::NotModified
                } else {
                    Outcome::PreconditionFailed
                };
            }
        } else if safe
            && let Some(date) = self.if_modified_since.and_then(parse_date)
            && last_modified <= date
        {
            return Outcome::NotModified;
        }
        // Step 5: If-Range.
        let honor_range = match self.if_range {
            None => true,
            Some(h) => if_range_matches(h.trim(), v.etag, last_modified),
        };
        Outcome::Proceed { honor_range }
    }
}

/// Whether an `If-Match` value (`*` or a list of entity tags) holds for a representation whose current
/// entity tag is `etag` (strong comparison, RFC 9110 section 13.1.1). Unsafe methods (`PATCH`, `PUT`,
/// `DELETE`) check it atomically with their write.
pub fn if_match_holds(header: &str, etag: &str) -> bool {
    matches_any(header, etag, Comparison::Strong)
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether an `If-Match`/`If-None-Match` value (`*` or a list of entity tags) matches `current`.
fn matches_any(header: &str, current: &str, cmp: Comparison) -> bool {
    if header.trim() == "*" {
        return true;
    }
    let current_opaque = current.strip_prefix("W/").unwrap_or(current);
    let current_weak = current.starts_with("W/");
    entity_tags(header).any(|(weak, opaque)| match cmp {
        Comparison::Strong => !weak && !current_weak && opaque == current_opaque,
        Comparison::Weak => opaque == current_opaque,
    })
}

/// Splits a list of entity tags into `(is_weak, "opaque")`, skipping malformed members.
fn entity_tags(header: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = header;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                return None;
            }
            let (weak, tail) = match rest.strip_prefix("W/") {
                Some(t) => (true, t),
                None => (false, rest),
            };
            if let Some(body) = tail.strip_prefix('"')
                && let Some(close) = body.find('"')
            {
                let opaque = &tail[..close + 2];
                rest = &body[close + 1..];
                return Some((weak, opaque));
            }
            // Malformed member: skip to the next comma.
            match rest.find(',') {
                Some(i) => rest = &rest[i + 1..],
                None => rest = "",
            }
        }
    })
}

fn if_range_matches(value: &str, etag: &str, last_modified: SystemTime) -> bool {
    if value.starts_with('"') || value.starts_with("W/") {
        // If-Range needs a strong comparison; a weak tag never matches.
        !value.starts_with("W/") && value == etag
    } else {
        parse_date(value) == Some(last_modified)
    }
}

fn parse_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

fn truncate_to_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ETAG: &str = "\"abc\"";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(at(secs))
    }

    fn check(p: Preconditions<'_>) -> Outcome {
        p.check(
            Validators {
                etag: ETAG,
                last_modified: at(1_000_000) + Duration::from_millis(700),
            },
            true,
        )
    }

    const GO: Outcome = Outcome::Proceed { honor_range: true };

    #[test]
    fn if_match() {
        let p = |h| Preconditions {
            if_match: Some(h),
            ..Default::default()
        };
        assert_eq!(check(p("\"abc\"")), GO);
        assert_eq!(check(p("*")), GO);
        assert_eq!(check(p("\"x\", \"abc\"")), GO);
        assert_eq!(check(p("W/\"abc\"")), Outcome::PreconditionFailed);
        assert_eq!(check(p("\"x\"")), Outcome::PreconditionFailed);
        assert_eq!(check(p("garbage")), Outcome::PreconditionFailed);
    }

    #[test]
    fn if_none_match() {
        let p = |h| Preconditions {
            if_none_match: Some(h),
            ..Default::default()
        };
        assert_eq!(check(p("\"abc\"")), Outcome::NotModified);
        assert_eq!(check(p("W/\"abc\"")), Outcome::NotModified);
        assert_eq!(check(p("\"a,b\", \"abc\"")), Outcome::NotModified);
        assert_eq!(check(p("*")), Outcome::NotModified);
        assert_eq!(check(p("\"x\"")), GO);
        let put = Preconditions {
            if_none_match: Some("*"),
            ..Default::default()
        };
        assert_eq!(
            put.check(
                Validators {
                    etag: ETAG,
                    last_modified: at(0)
                },
                false
            ),
            Outcome::PreconditionFailed
        );
    }

    #[test]
    fn dates() {
        let ims = |s: &str| {
            check(Preconditions {
                if_modified_since: Some(s),
                ..Default::default()
            })
        };
        assert_eq!(ims(&date(1_000_000)), Outcome::NotModified);
        assert_eq!(ims(&date(1_000_001)), Outcome::NotModified);
        assert_eq!(ims(&date(999_999)), GO);
        assert_eq!(ims("not a date"), GO);
        let ius = |s: &str| {
            check(Preconditions {
                if_unmodified_since: Some(s),
                ..Default::default()
            })
        };
        assert_eq!(ius(&date(1_000_000)), GO);
        assert_eq!(ius(&date(999_999)), Outcome::PreconditionFailed);
    }

    #[test]
    fn order_of_evaluation() {
        // If-None-Match takes precedence over If-Modified-Since.
        let d = date(1_000_000);
        let p = Preconditions {
            if_none_match: Some("\"x\""),
            if_modified_since: Some(&d),
            ..Default::default()
        };
        assert_eq!(check(p), GO);
        // If-Match takes precedence over If-Unmodified-Since.
        let old = date(1);
        let p = Preconditions {
            if_match: Some("\"abc\""),
            if_unmodified_since: Some(&old),
            ..Default::default()
        };
        assert_eq!(check(p), GO);
        // A failed If-Match wins over a matching If-None-Match.
        let p = Preconditions {
            if_match: Some("\"x\""),
            if_none_match: Some("\"abc\""),
            ..Default::default()
        };
        assert_eq!(check(p), Outcome::PreconditionFailed);
    }

    #[test]
    fn if_range() {
        let ir = |s: &str| {
            check(Preconditions {
                if_range: Some(s),
                ..Default::default()
            })
        };
        assert_eq!(ir("\"abc\""), GO);
        assert_eq!(ir("\"x\""), Outcome::Proceed { honor_range: false });
        assert_eq!(ir("W/\"abc\""), Outcome::Proceed { honor_range: false });
        assert_eq!(ir(&date(1_000_000)), GO);
        assert_eq!(ir(&date(999_999)), Outcome::Proceed { honor_range: false });
    }

    proptest! {
        #[test]
        fn never_panics(a in ".{0,40}", b in ".{0,40}", c in ".{0,40}") {
            let p = Preconditions { if_match: Some(&a), if_none_match: Some(&b), if_range: Some(&c), if_modified_since: Some(&c), if_unmodified_since: Some(&a) };
            let _ = check(p);
        }

        #[test]
        fn listed_tag_always_matches(tags in proptest::collection::vec("[a-z0-9,]{0,8}", 0..5)) {
            let mut list: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
            list.push(ETAG.to_owned());
            let header = list.join(", ");
            prop_assert_eq!(check(Preconditions { if_none_match: Some(&header), ..Default::default() }), Outcome::NotModified);
            prop_assert_eq!(check(Preconditions { if_match: Some(&header), ..Default::default() }), GO);
        }
    }
}
