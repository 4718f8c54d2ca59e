//! The `$` style: `string.Template` placeholders `$name`, `${name}` and `$$`.
//!
//! Identifiers follow `Template.idpattern` (`[_a-zA-Z][_a-zA-Z0-9]*`, ASCII). A `$` that
//! starts no placeholder makes `Template.substitute` fail on every record, so it is rejected
//! when the formatter is built.

use super::FormatError;

/// A piece of a `$`-style format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Field(String),
}

/// Parses a template. `validate` adds CPython's "no fields" check.
pub(crate) fn parse(fmt: &str, validate: bool) -> Result<Vec<Piece>, FormatError> {
    let b = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let mut lit_start = 0;
    let ident_len = |s: &[u8]| -> usize {
        if s.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            1 + s[1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count()
        } else {
            0
        }
    };
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        lit.push_str(&fmt[lit_start..i]);
        let rest = &b[i + 1..];
        if rest.first() == Some(&b'$') {
            lit.push('$');
            i += 2;
        } else if let n @ 1.. = ident_len(rest) {
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Field(fmt[i + 1..i + 1 + n].to_owned()));
            i += 1 + n;
        } else if rest.first() == Some(&b'{')
            && ident_len(&rest[1..]) > 0
            && rest.get(1 + ident_len(&rest[1..])) == Some(&b'}')
        {
            let n = ident_len(&rest[1..]);
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Field(fmt[i + 2..i + 2 + n].to_owned()));
            i += 3 + n;
        } else {
            return Err(FormatError::InvalidFormat("bare '$' not allowed".into()));
        }
        lit_start = i;
    }
    lit.push_str(&fmt[lit_start..]);
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    if validate && !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
        return Err(FormatError::InvalidFormat("no fields".into()));
    }
    Ok(pieces)
}
