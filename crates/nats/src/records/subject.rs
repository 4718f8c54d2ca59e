//! [`SubjectTemplate`]: a NATS subject with `{name}` and `{levelname}` tokens.
//!
//! Placeholders are whole tokens (`logs.{levelname}.{name}`), and the first token is literal,
//! so the stream's subject filter is the literal prefix plus `>` (`logs.>`). A logger name is
//! dotted, so `{name}` becomes as many tokens as it has parts. Values are made valid subject
//! text: whitespace, control characters, `*` and `>` become `_`, an empty token becomes `_`,
//! and a value is cut at [`MAX_TOKEN_TEXT`] bytes (a subject must stay far below NATS's
//! 1 MiB message size, and one remote name may not make it large).

/// Longest text a placeholder contributes, in bytes.
pub(crate) const MAX_TOKEN_TEXT: usize = 256;

/// Longest template accepted, in bytes.
const MAX_TEMPLATE: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Name,
    Levelname,
}

/// Why a subject template was refused ([`SubjectTemplate::parse`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// Empty, or longer than the template limit.
    #[error("subject must be 1 to {MAX_TEMPLATE} bytes")]
    Length,
    /// Two dots in a row, or a dot at either end.
    #[error("subject {subject:?} has an empty token")]
    EmptyToken {
        /// The template.
        subject: String,
    },
    /// A brace in a token that is not a whole `{name}` or `{levelname}`.
    #[error("subject {subject:?}: only whole tokens {{name}} and {{levelname}} are placeholders")]
    PartialPlaceholder {
        /// The template.
        subject: String,
    },
    /// A literal token with `*`, `>`, whitespace or a control character.
    #[error(
        "subject {subject:?}: token {token:?} may not hold wildcards, spaces or control characters"
    )]
    BadToken {
        /// The template.
        subject: String,
        /// The token.
        token: String,
    },
    /// A placeholder as the first token.
    #[error(
        "subject {subject:?} must start with a literal token (the stream's filter is that prefix)"
    )]
    LeadingPlaceholder {
        /// The template.
        subject: String,
    },
}

/// A subject with `{name}`/`{levelname}` tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTemplate {
    parts: Vec<Part>,
}

impl SubjectTemplate {
    /// Parses a template; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, SubjectError> {
        if text.is_empty() || text.len() > MAX_TEMPLATE {
            return Err(SubjectError::Length);
        }
        let subject = || text.to_owned();
        let mut parts = Vec::new();
        for (i, token) in text.split('.').enumerate() {
            let part = match token {
                "{name}" => Part::Name,
                "{levelname}" => Part::Levelname,
                "" => return Err(SubjectError::EmptyToken { subject: subject() }),
                t if t.contains(['{', '}']) => {
                    return Err(SubjectError::PartialPlaceholder { subject: subject() });
                }
                t if t.contains(['*', '>'])
                    || t.chars().any(|c| c.is_whitespace() || c.is_control()) =>
                {
                    return Err(SubjectError::BadToken {
                        subject: subject(),
                        token: t.to_owned(),
                    });
                }
                t => Part::Literal(t.to_owned()),
            };
            if i == 0 && part != Part::Literal(token.to_owned()) {
                return Err(SubjectError::LeadingPlaceholder { subject: subject() });
            }
            parts.push(part);
        }
        Ok(SubjectTemplate { parts })
    }

    /// The subject filter of a stream that holds every subject this template makes.
    pub fn filter(&self) -> String {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(t) => out.push(t.as_str()),
                _ => {
                    out.push(">");
                    break;
                }
            }
        }
        out.join(".")
    }

    /// The subject for a record of logger `name` at `levelname`.
    pub fn render(&self, name: &str, levelname: &str) -> String {
        let mut s = String::with_capacity(64);
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            match p {
                Part::Literal(t) => s.push_str(t),
                Part::Name => push_tokens(&mut s, name, true),
                Part::Levelname => push_tokens(&mut s, levelname, false),
            }
        }
        s
    }
}

/// Appends `value` as subject text: dotted into tokens if `dots`, else one token.
fn push_tokens(out: &mut String, value: &str, dots: bool) {
    let mut value = value;
    if value.len() > MAX_TOKEN_TEXT {
        let mut end = MAX_TOKEN_TEXT;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value = &value[..end];
    }
    let mut token_empty = true;
    for c in value.chars() {
        if c == '.' && dots {
            if token_empty {
                out.push('_');
            }
            out.push('.');
            token_empty = true;
            continue;
        }
        if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() {
            out.push('_');
        } else {
            out.push(c);
        }
        token_empty = false;
    }
    if token_empty {
        out.push('_');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_subjects_from_any_name() {
        let t = SubjectTemplate::parse("logs.{levelname}.{name}").unwrap();
        assert_eq!(t.filter(), "logs.>");
        assert_eq!(t.render("app.db", "INFO"), "logs.INFO.app.db");
        assert_eq!(t.render("", "Level 5"), "logs.Level_5._");
        assert_eq!(t.render("a..b.", "X"), "logs.X.a._.b._");
        assert_eq!(t.render("x > *", "A.B"), "logs.A_B.x____");
        let long = "n".repeat(10_000);
        assert!(t.render(&long, "INFO").len() < MAX_TOKEN_TEXT + 20);
        let fixed = SubjectTemplate::parse("logs.all").unwrap();
        assert_eq!(fixed.filter(), "logs.all");
        assert_eq!(fixed.render("a", "INFO"), "logs.all");
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "",
            "{name}",
            "logs..x",
            "logs.x{name}",
            "logs.*",
            "logs.a b",
            "logs.{msg}",
        ] {
            assert!(SubjectTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_read_as_config_errors_print_them() {
        let text = |s: &str| SubjectTemplate::parse(s).unwrap_err().to_string();
        assert_eq!(text(""), "subject must be 1 to 1024 bytes");
        assert_eq!(text("logs..x"), r#"subject "logs..x" has an empty token"#);
        assert_eq!(
            text("logs.x{name}"),
            r#"subject "logs.x{name}": only whole tokens {name} and {levelname} are placeholders"#
        );
        assert_eq!(
            text("logs.a b"),
            r#"subject "logs.a b": token "a b" may not hold wildcards, spaces or control characters"#
        );
        assert_eq!(
            text("{name}.x"),
            r#"subject "{name}.x" must start with a literal token (the stream's filter is that prefix)"#
        );
    }
}
