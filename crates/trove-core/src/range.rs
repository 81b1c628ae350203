//! `Range: bytes=…` (RFC 9110 section 14.2) for one representation of known length.

/// What a `Range` header asks of a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range (absent, malformed, another unit, or several ranges): send everything, 200.
    Full,
    /// One satisfiable range, both ends inclusive: send 206.
    Partial { start: u64, end: u64 },
    /// A well-formed range that does not overlap the representation: 416 with `bytes */size`.
    Unsatisfiable,
}

/// Parses a `Range` header against a representation of `size` bytes.
///
/// Malformed headers are ignored as RFC 9110 allows; several ranges are answered with the whole
/// representation, which the RFC also allows.
pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(header) = header else {
        return RangeRequest::Full;
    };
    let header = header.trim();
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            // Digits beyond u64 are still a valid (huge) position.
            Some(s.parse().unwrap_or(u64::MAX))
        }
    };
    match (first.is_empty(), last.is_empty()) {
        (true, true) => RangeRequest::Full,
        (true, false) => {
            let Some(suffix) = number(last) else {
                return RangeRequest::Full;
            };
            if suffix == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
        }
        (false, _) => {
            let Some(start) = number(first) else {
                return RangeRequest::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return RangeRequest::Full,
                }
            };
            if start >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial {
                    start,
                    end: end.min(size - 1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::{Full, Partial, Unsatisfiable};
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert_eq!(parse(None, 10), Full);
        assert_eq!(parse(Some("bytes=0-4"), 10), Partial { start: 0, end: 4 });
        assert_eq!(parse(Some("bytes=5-"), 10), Partial { start: 5, end: 9 });
        assert_eq!(parse(Some("bytes=-3"), 10), Partial { start: 7, end: 9 });
        assert_eq!(parse(Some("bytes=-30"), 10), Partial { start: 0, end: 9 });
        assert_eq!(parse(Some("bytes=2-100"), 10), Partial { start: 2, end: 9 });
        assert_eq!(parse(Some("Bytes = 2-3"), 10), Partial { start: 2, end: 3 });
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(parse(Some("bytes=-5"), 0), Unsatisfiable);
        assert_eq!(
            parse(Some("bytes=99999999999999999999999-"), 10),
            Unsatisfiable
        );
    }

    #[test]
    fn ignored() {
        for h in [
            "items=0-1",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=-",
            "bytes",
            "bytes=0-1,3-4",
            "bytes=+1-2",
            "bytes=1--2",
        ] {
            assert_eq!(parse(Some(h), 10), Full, "{h}");
        }
    }

    proptest! {
        #[test]
        fn partial_ranges_are_always_within_the_representation(h in ".{0,30}", size in 0u64..10_000) {
            if let Partial { start, end } = parse(Some(&h), size) {
                prop_assert!(start <= end);
                prop_assert!(end < size);
            }
        }

        #[test]
        fn explicit_ranges_round_trip(size in 1u64..1_000_000, a in 0u64..1_000_000, len in 0u64..1_000_000) {
            let b = a.saturating_add(len);
            let got = parse(Some(&format!("bytes={a}-{b}")), size);
            if a < size {
                prop_assert_eq!(got, Partial { start: a, end: b.min(size - 1) });
            } else {
                prop_assert_eq!(got, Unsatisfiable);
            }
        }

        #[test]
        fn suffix_ranges_cover_the_tail(size in 1u64..1_000_000, n in 1u64..2_000_000) {
            let got = parse(Some(&format!("bytes=-{n}")), size);
            prop_assert_eq!(got, Partial { start: size.saturating_sub(n), end: size - 1 });
        }
    }
}
