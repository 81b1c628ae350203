//! How deeply a JSON or GraphQL text nests, measured in one pass over its bytes before any recursive
//! parser sees it. A recursive-descent parser uses stack for each level, so an unbounded level count
//! in a request would let one anonymous request overflow the stack and abort the process.

use crate::error::TroveError;

/// The deepest nesting of brackets accepted in a request document. Real GraphQL documents, the
/// standard introspection query included, stay far below it.
pub const MAX_NESTING: usize = 64;

/// The text's syntax: which characters open strings and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    /// GraphQL adds `#` comments, `"""` block strings and `(`…`)` argument lists.
    GraphQl,
}

/// The deepest bracket nesting in `text`, counting at most up to `limit + 1`.
pub fn depth(text: &[u8], syntax: Syntax, limit: usize) -> usize {
    let graphql = syntax == Syntax::GraphQl;
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' if graphql && text[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next `"""` that is not escaped as `\"""`.
                i += 3;
                while i < text.len() && !text[i..].starts_with(b"\"\"\"") {
                    i += if text[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
                continue;
            }
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' if graphql => {
                while i < text.len() && text[i] != b'\n' && text[i] != b'\r' {
                    i += 1;
                }
            }
            b'{' | b'[' => depth += 1,
            b'(' if graphql => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b')' if graphql => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > deepest {
            deepest = depth;
            if deepest > limit {
                return deepest;
            }
        }
        i += 1;
    }
    deepest
}

/// Refuses a document nested deeper than `limit`, naming what it is.
pub fn check(text: &[u8], syntax: Syntax, limit: usize, what: &str) -> Result<(), TroveError> {
    if depth(text, syntax, limit) > limit {
        return Err(TroveError::invalid(format!(
            "{what} is nested more than {limit} levels deep"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_outside_strings_and_comments() {
        assert_eq!(depth(br#"{"a":[1,{"b":2}]}"#, Syntax::Json, 64), 3);
        assert_eq!(depth(br#"{"a":"{{{[[["}"#, Syntax::Json, 64), 1);
        assert_eq!(depth(br#"{"a":"\"{{"}"#, Syntax::Json, 64), 1);
        assert_eq!(
            depth(b"{ f(x: {a: 1}) # {{{{\n { g } }", Syntax::GraphQl, 64),
            3
        );
        assert_eq!(
            depth(
                b"{ f(s: \"\"\" {{{ \\\"\"\" {{ \"\"\") }",
                Syntax::GraphQl,
                64
            ),
            2
        );
        // Parentheses are not structure in JSON.
        assert_eq!(depth(b"[(((]", Syntax::Json, 64), 1);
    }

    #[test]
    fn stops_counting_past_the_limit() {
        let deep = "[".repeat(100_000);
        assert_eq!(depth(deep.as_bytes(), Syntax::Json, 64), 65);
        assert!(check(deep.as_bytes(), Syntax::Json, 64, "the body").is_err());
        let q = format!("{{ files(where: {}) {{ id }} }}", "{q: ".repeat(1500));
        assert!(check(q.as_bytes(), Syntax::GraphQl, 64, "the query").is_err());
        assert!(check(b"{ a { b { c } } }", Syntax::GraphQl, 64, "the query").is_ok());
    }

    #[test]
    fn unterminated_strings_end_the_scan() {
        assert_eq!(depth(b"{\"abc", Syntax::Json, 64), 1);
        assert_eq!(depth(b"{\"\"\"abc", Syntax::GraphQl, 64), 1);
        assert_eq!(depth(b"\"\\", Syntax::Json, 64), 0);
    }
}
