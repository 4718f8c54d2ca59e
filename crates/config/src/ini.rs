//! INI parsing with the semantics of Python's `configparser.ConfigParser`, as
//! `logging.config.fileConfig` uses it.
//!
//! The parser reproduces CPython's default settings exactly, because a fileConfig file that
//! CPython accepts must mean the same thing here:
//!
//! * delimiters `=` and `:` (the first one on the line splits name from value);
//! * `#` and `;` start comments on whole lines only (no inline comments);
//! * option names are lower-cased, section names keep their case;
//! * `[DEFAULT]` holds values every section inherits (it is not listed by
//!   [`IniDocument::sections`]);
//! * a section or option given twice is an error (`strict=True`);
//! * a value continues on following lines indented deeper than its first line; empty lines
//!   inside a value are kept; values are stripped of surrounding whitespace;
//! * every option needs a value;
//! * `BasicInterpolation` on [`IniDocument::get`]: `%(name)s` is replaced by another option of
//!   the same section or of DEFAULT, `%%` is a literal `%`, any other `%` is an error, and
//!   substitution nests at most [`MAX_INTERPOLATION_DEPTH`] levels. [`IniDocument::get_raw`]
//!   returns the value untouched (fileConfig reads `format`, `datefmt`, `style` and
//!   `defaults` that way).
//!
//! Line ends are read like a Python text file (`\n`, `\r\n` and a lone `\r` all end a line).
//! One deliberate difference: a leading UTF-8 byte order mark is skipped (CPython, reading with
//! `encoding="utf-8"`, rejects such a file with "File contains no section headers").
//!
//! Everything is bounded by [`IniLimits`]; parsing never panics and nothing recurses on input
//! except interpolation, whose depth is capped.
//!
//! ```
//! use logwire_config::ini::{IniDocument, IniLimits};
//!
//! let text = "[DEFAULT]\nroot = /var/log\n\n[handler_file]\nClass = FileHandler\nargs = ('%(root)s/app.log',)\n";
//! let doc = IniDocument::parse(text, &IniLimits::default())?;
//! assert_eq!(doc.sections().collect::<Vec<_>>(), ["handler_file"]);
//! assert_eq!(doc.get("handler_file", "class")?.as_deref(), Some("FileHandler"));
//! assert_eq!(doc.get("handler_file", "args")?.as_deref(), Some("('/var/log/app.log',)"));
//! assert_eq!(doc.get_raw("handler_file", "args"), Some("('%(root)s/app.log',)"));
//! # Ok::<(), logwire_config::ini::IniError>(())
//! ```

use std::collections::HashMap;

/// Name of the section whose options every other section inherits.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// How many levels of `%(name)s` substitution are followed before giving up; CPython's
/// `configparser.MAX_INTERPOLATION_DEPTH`.
pub const MAX_INTERPOLATION_DEPTH: usize = 10;

/// Bounds on what [`IniDocument::parse`] and [`IniDocument::get`] accept, so that a hostile
/// file can cost only a bounded amount of memory and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniLimits {
    /// Largest input, in bytes.
    pub max_input_bytes: usize,
    /// Most lines in the input.
    pub max_lines: usize,
    /// Longest value (after joining continuation lines), in bytes.
    pub max_value_len: usize,
    /// Most sections (DEFAULT not counted).
    pub max_sections: usize,
    /// Most options in one section (DEFAULT included, counted on its own).
    pub max_options_per_section: usize,
    /// Longest result of interpolating one value, in bytes. Needed because substitution can
    /// grow a value exponentially (`a=%(b)s%(b)s`, `b=%(c)s%(c)s`, …).
    pub max_interpolated_len: usize,
    /// Most `%(name)s` references followed while interpolating one value (bounds the work
    /// even when the references expand to nothing).
    pub max_interpolation_refs: usize,
}

impl Default for IniLimits {
    fn default() -> Self {
        Self {
            max_input_bytes: 1024 * 1024,
            max_lines: 50_000,
            max_value_len: 64 * 1024,
            max_sections: 1_000,
            max_options_per_section: 1_000,
            max_interpolated_len: 64 * 1024,
            max_interpolation_refs: 10_000,
        }
    }
}

/// Why an INI text was rejected or a value could not be read.
///
/// Line numbers are 1-based and count lines the way a Python text file does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IniError {
    /// The input is larger than [`IniLimits::max_input_bytes`].
    #[error("INI text is {actual} bytes, more than the limit of {limit}")]
    InputTooLarge {
        /// Size of the input in bytes.
        actual: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The input has more lines than [`IniLimits::max_lines`].
    #[error("INI text has more than {limit} lines")]
    TooManyLines {
        /// The configured limit.
        limit: usize,
    },
    /// A value is longer than [`IniLimits::max_value_len`].
    #[error(
        "line {line}: value of option '{option}' in section '{section}' is {actual} bytes, more than the limit of {limit}"
    )]
    ValueTooLong {
        /// Line where the option starts.
        line: usize,
        /// Section of the option.
        section: String,
        /// The option (lower-cased).
        option: String,
        /// Length of the value in bytes.
        actual: usize,
        /// The configured limit.
        limit: usize,
    },
    /// More sections than [`IniLimits::max_sections`].
    #[error("line {line}: more than {limit} sections")]
    TooManySections {
        /// Line of the first section header over the limit.
        line: usize,
        /// The configured limit.
        limit: usize,
    },
    /// More options in one section than [`IniLimits::max_options_per_section`].
    #[error("line {line}: more than {limit} options in section '{section}'")]
    TooManyOptions {
        /// Line of the first option over the limit.
        line: usize,
        /// The section.
        section: String,
        /// The configured limit.
        limit: usize,
    },
    /// A non-blank, non-comment line came before the first `[section]` header.
    #[error(
        "line {line}: no section header before {text:?} (the file must start with a '[section]' line)"
    )]
    MissingSectionHeader {
        /// The line number.
        line: usize,
        /// The offending line, stripped.
        text: String,
    },
    /// A line is neither a section header, an option, a continuation, a comment nor blank.
    #[error("line {line}: expected '[section]' or 'name = value', found {text:?}")]
    InvalidLine {
        /// The line number.
        line: usize,
        /// The offending line, stripped.
        text: String,
    },
    /// A line starts with a delimiter, so the option has no name.
    #[error("line {line}: option without a name: {text:?}")]
    EmptyOptionName {
        /// The line number.
        line: usize,
        /// The offending line, stripped.
        text: String,
    },
    /// A section header appears twice.
    #[error("line {line}: section '{section}' already exists (first on line {first_line})")]
    DuplicateSection {
        /// Line of the second header.
        line: usize,
        /// The section name.
        section: String,
        /// Line of the first header.
        first_line: usize,
    },
    /// An option appears twice in one section (option names compare lower-cased).
    #[error(
        "line {line}: option '{option}' in section '{section}' already exists (first on line {first_line})"
    )]
    DuplicateOption {
        /// Line of the second occurrence.
        line: usize,
        /// The section name.
        section: String,
        /// The option (lower-cased).
        option: String,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// Two of the extra defaults given to [`IniDocument::parse_with_defaults`] have the same
    /// lower-cased name.
    #[error("default '{option}' is given twice (option names compare lower-cased)")]
    DuplicateDefault {
        /// The option (lower-cased).
        option: String,
    },
    /// The section does not exist.
    #[error("no section '{section}'")]
    NoSection {
        /// The section name asked for.
        section: String,
    },
    /// A `%` in a value is not followed by `%` or a well-formed `(name)s`.
    #[error("section '{section}', option '{option}': {problem}; write '%%' for a literal '%'")]
    InterpolationSyntax {
        /// The section read.
        section: String,
        /// The option read (lower-cased).
        option: String,
        /// What is wrong, quoting the text from the offending `%`.
        problem: String,
    },
    /// `%(name)s` names an option that is neither in the section nor in DEFAULT.
    #[error(
        "section '{section}', option '{option}': '%({reference})s' refers to an option that does not exist in the section or in DEFAULT"
    )]
    InterpolationMissing {
        /// The section read.
        section: String,
        /// The option read (lower-cased).
        option: String,
        /// The missing name (lower-cased).
        reference: String,
    },
    /// Substitution nests deeper than [`MAX_INTERPOLATION_DEPTH`] (usually a reference cycle).
    #[error(
        "section '{section}', option '{option}': '%(name)s' substitution nests more than {MAX_INTERPOLATION_DEPTH} levels deep (is there a reference cycle?)"
    )]
    InterpolationDepth {
        /// The section read.
        section: String,
        /// The option read (lower-cased).
        option: String,
    },
    /// Interpolating the value exceeds [`IniLimits::max_interpolated_len`] or
    /// [`IniLimits::max_interpolation_refs`].
    #[error(
        "section '{section}', option '{option}': interpolated value exceeds the limit ({what})"
    )]
    InterpolationTooLarge {
        /// The section read.
        section: String,
        /// The option read (lower-cased).
        option: String,
        /// Which limit was hit.
        what: String,
    },
}

impl IniError {
    /// The 1-based line the error refers to, when it refers to one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::ValueTooLong { line, .. }
            | Self::TooManySections { line, .. }
            | Self::TooManyOptions { line, .. }
            | Self::MissingSectionHeader { line, .. }
            | Self::InvalidLine { line, .. }
            | Self::EmptyOptionName { line, .. }
            | Self::DuplicateSection { line, .. }
            | Self::DuplicateOption { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// One option: its lower-cased name, its raw (uninterpolated) value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    value: String,
    /// 1-based line of the `name = value` line; `None` for extra defaults given by the caller.
    line: Option<usize>,
}

/// A section (or DEFAULT): options in first-appearance order plus an index by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Section {
    name: String,
    line: usize,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Section {
    fn new(name: String, line: usize) -> Self {
        Self {
            name,
            line,
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn find(&self, option: &str) -> Option<&Entry> {
        self.index.get(option).map(|&i| &self.entries[i])
    }
}

/// A parsed INI document: sections and options in file order, values stored raw.
///
/// Option names given to the accessors are lower-cased first, like `configparser`'s
/// `optionxform`; section names are matched exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniDocument {
    defaults: Section,
    sections: Vec<Section>,
    section_index: HashMap<String, usize>,
    max_interpolated_len: usize,
    max_interpolation_refs: usize,
}

/// Python's `str.isspace()` (which is also what `\s` matches in a `str` regex); a little
/// wider than `char::is_whitespace` (it includes U+001C..U+001F).
fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// `str.lower()`, configparser's default `optionxform`.
fn optionxform(s: &str) -> String {
    s.to_lowercase()
}

/// Splits like iterating a Python text file opened with universal newlines.
struct Lines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.find(['\n', '\r']) {
            None => Some(std::mem::take(&mut self.rest)),
            Some(i) => {
                let line = &self.rest[..i];
                let skip = if self.rest[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                self.rest = &self.rest[i + skip..];
                Some(line)
            }
        }
    }
}

/// Which section lines currently go to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Default,
    Section(usize),
}

/// Parser state while reading lines; mirrors the locals of `RawConfigParser._read`.
struct Reader<'l> {
    limits: &'l IniLimits,
    defaults: Section,
    sections: Vec<Section>,
    section_index: HashMap<String, usize>,
    /// Pieces of each value before joining with `\n`, parallel to each section's entries.
    default_parts: Vec<Vec<String>>,
    section_parts: Vec<Vec<Vec<String>>>,
    /// (section, option) pairs seen in this text with their line, for `strict` duplicate
    /// checks (the caller's extra defaults are not in it: the file may override them).
    seen_options: HashMap<(String, String), usize>,
}

impl<'l> Reader<'l> {
    fn section_mut(&mut self, target: Target) -> (&mut Section, &mut Vec<Vec<String>>) {
        match target {
            Target::Default => (&mut self.defaults, &mut self.default_parts),
            Target::Section(i) => (&mut self.sections[i], &mut self.section_parts[i]),
        }
    }
}

impl IniDocument {
    /// Parses `text` with no extra defaults.
    pub fn parse(text: &str, limits: &IniLimits) -> Result<Self, IniError> {
        Self::parse_with_defaults(text, &[], limits)
    }

    /// Parses `text`, starting DEFAULT with `defaults` (fileConfig's `defaults=` argument,
    /// i.e. `ConfigParser(defaults)`). Their names are lower-cased; a `[DEFAULT]` option in
    /// the file with the same name replaces one. Like CPython, they are not checked for `%`
    /// syntax until a value that refers to them is interpolated.
    pub fn parse_with_defaults(
        text: &str,
        defaults: &[(&str, &str)],
        limits: &IniLimits,
    ) -> Result<Self, IniError> {
        if text.len() > limits.max_input_bytes {
            return Err(IniError::InputTooLarge {
                actual: text.len(),
                limit: limits.max_input_bytes,
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = Reader {
            limits,
            defaults: Section::new(DEFAULT_SECTION.to_owned(), 0),
            sections: Vec::new(),
            section_index: HashMap::new(),
            default_parts: Vec::new(),
            section_parts: Vec::new(),
            seen_options: HashMap::new(),
        };
        for (name, value) in defaults {
            let name = optionxform(name);
            if reader.defaults.index.contains_key(&name) {
                return Err(IniError::DuplicateDefault { option: name });
            }
            if reader.defaults.entries.len() >= limits.max_options_per_section {
                return Err(IniError::TooManyOptions {
                    line: 0,
                    section: DEFAULT_SECTION.to_owned(),
                    limit: limits.max_options_per_section,
                });
            }
            reader
                .defaults
                .index
                .insert(name.clone(), reader.defaults.entries.len());
            reader.defaults.entries.push(Entry {
                name,
                value: String::new(),
                line: None,
            });
            reader.default_parts.push(vec![(*value).to_owned()]);
        }
        reader.read(text)?;
        reader.finish()
    }

    /// Section names in file order, DEFAULT excluded (like `ConfigParser.sections()`).
    pub fn sections(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// Whether the section exists; always false for DEFAULT (like `has_section`).
    pub fn has_section(&self, section: &str) -> bool {
        self.section_index.contains_key(section)
    }

    /// The 1-based line of the section's header, if the section exists (DEFAULT excluded).
    pub fn section_line(&self, section: &str) -> Option<usize> {
        self.section(section).map(|s| s.line)
    }

    /// Option names of a section: its own in file order, then inherited DEFAULT ones it does
    /// not override (like `ConfigParser.options()`). DEFAULT itself is not a section here.
    pub fn options(&self, section: &str) -> Result<Vec<&str>, IniError> {
        let sect = self.section(section).ok_or_else(|| IniError::NoSection {
            section: section.to_owned(),
        })?;
        let mut names: Vec<&str> = sect.entries.iter().map(|e| e.name.as_str()).collect();
        names.extend(
            self.defaults
                .entries
                .iter()
                .filter(|e| !sect.index.contains_key(&e.name))
                .map(|e| e.name.as_str()),
        );
        Ok(names)
    }

    /// DEFAULT's options and raw values, in order (extra defaults first, then the file's).
    pub fn defaults(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.defaults
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
    }

    /// Whether `option` is set in `section` or inherited from DEFAULT. `section` may be
    /// `"DEFAULT"`.
    pub fn has_option(&self, section: &str, option: &str) -> bool {
        self.lookup(section, &optionxform(option)).is_some()
    }

    /// The raw value (no interpolation) of `option` in `section`, falling back to DEFAULT.
    /// `None` if the section or the option does not exist. `section` may be `"DEFAULT"`.
    pub fn get_raw(&self, section: &str, option: &str) -> Option<&str> {
        self.lookup(section, &optionxform(option))
            .map(|e| e.value.as_str())
    }

    /// The 1-based line where `option` is set for `section` (possibly in DEFAULT); `None` if
    /// it is not set or came from the caller's extra defaults.
    pub fn option_line(&self, section: &str, option: &str) -> Option<usize> {
        self.lookup(section, &optionxform(option))
            .and_then(|e| e.line)
    }

    /// The value of `option` in `section` (falling back to DEFAULT) after `%` interpolation.
    ///
    /// `Ok(None)` if the option is not set; [`IniError::NoSection`] if the section does not
    /// exist (`"DEFAULT"` always exists).
    pub fn get(&self, section: &str, option: &str) -> Result<Option<String>, IniError> {
        let sect = if section == DEFAULT_SECTION {
            None
        } else {
            Some(self.section(section).ok_or_else(|| IniError::NoSection {
                section: section.to_owned(),
            })?)
        };
        let option = optionxform(option);
        let Some(entry) = self.lookup(section, &option) else {
            return Ok(None);
        };
        let mut ctx = Interpolation {
            doc: self,
            section: sect,
            section_name: section,
            option: &option,
            out: String::new(),
            refs_left: self.max_interpolation_refs,
        };
        ctx.interpolate(&entry.value, 1)?;
        Ok(Some(ctx.out))
    }

    fn section(&self, section: &str) -> Option<&Section> {
        self.section_index.get(section).map(|&i| &self.sections[i])
    }

    /// `option` must already be lower-cased.
    fn lookup(&self, section: &str, option: &str) -> Option<&Entry> {
        if section == DEFAULT_SECTION {
            return self.defaults.find(option);
        }
        self.section(section)?
            .find(option)
            .or_else(|| self.defaults.find(option))
    }
}

impl Reader<'_> {
    /// The line loop of CPython's `RawConfigParser._read`, step for step.
    fn read(&mut self, text: &str) -> Result<(), IniError> {
        let mut target: Option<Target> = None;
        // Index of the option continuation lines extend; None also stands for CPython's
        // "optname is falsy" (no option yet, just after a header, or an unnamed option).
        let mut current: Option<usize> = None;
        let mut indent_level = 0usize;
        // CPython keeps parsing after a malformed line and reports it at the end.
        let mut deferred: Option<IniError> = None;

        for (index, raw_line) in (Lines { rest: text }).enumerate() {
            let lineno = index + 1;
            if lineno > self.limits.max_lines {
                return Err(IniError::TooManyLines {
                    limit: self.limits.max_lines,
                });
            }
            let value = py_strip(raw_line);
            if value.starts_with('#') || value.starts_with(';') {
                // A comment neither ends a multi-line value nor adds an empty line to it.
                continue;
            }
            if value.is_empty() {
                // empty_lines_in_values=True: keep the blank line inside the current value.
                if let (Some(t), Some(i)) = (target, current) {
                    self.section_mut(t).1[i].push(String::new());
                }
                continue;
            }
            let cur_indent = raw_line.chars().take_while(|&c| py_isspace(c)).count();
            if let (Some(t), Some(i)) = (target, current)
                && cur_indent > indent_level
            {
                self.section_mut(t).1[i].push(value.to_owned());
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                target = Some(self.enter_section(header, lineno)?);
                current = None;
                continue;
            }
            let Some(t) = target else {
                return Err(IniError::MissingSectionHeader {
                    line: lineno,
                    text: value.to_owned(),
                });
            };
            let Some(split) = value.find(['=', ':']) else {
                deferred.get_or_insert(IniError::InvalidLine {
                    line: lineno,
                    text: value.to_owned(),
                });
                continue;
            };
            let name = optionxform(value[..split].trim_end_matches(py_isspace));
            let optval = py_strip(&value[split + 1..]).to_owned();
            if name.is_empty() {
                deferred.get_or_insert(IniError::EmptyOptionName {
                    line: lineno,
                    text: value.to_owned(),
                });
            }
            let i = self.set_option(t, name.clone(), optval, lineno)?;
            current = if name.is_empty() { None } else { Some(i) };
        }
        match deferred {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn enter_section(&mut self, header: &str, lineno: usize) -> Result<Target, IniError> {
        if let Some(&i) = self.section_index.get(header) {
            // Only reachable for a section seen earlier in this same text: strict mode.
            return Err(IniError::DuplicateSection {
                line: lineno,
                section: header.to_owned(),
                first_line: self.sections[i].line,
            });
        }
        if header == DEFAULT_SECTION {
            // CPython allows `[DEFAULT]` more than once; its options still must not repeat.
            return Ok(Target::Default);
        }
        if self.sections.len() >= self.limits.max_sections {
            return Err(IniError::TooManySections {
                line: lineno,
                limit: self.limits.max_sections,
            });
        }
        self.section_index
            .insert(header.to_owned(), self.sections.len());
        self.sections.push(Section::new(header.to_owned(), lineno));
        self.section_parts.push(Vec::new());
        Ok(Target::Section(self.sections.len() - 1))
    }

    /// Adds or (for a caller's extra default) replaces an option; returns its index.
    fn set_option(
        &mut self,
        target: Target,
        name: String,
        value: String,
        lineno: usize,
    ) -> Result<usize, IniError> {
        let max_options = self.limits.max_options_per_section;
        let key = (self.section_mut(target).0.name.clone(), name.clone());
        if let Some(&first_line) = self.seen_options.get(&key) {
            return Err(IniError::DuplicateOption {
                line: lineno,
                section: key.0,
                option: key.1,
                first_line,
            });
        }
        let (section, parts) = self.section_mut(target);
        let index = match section.index.get(&name) {
            // An extra default overridden by `[DEFAULT]` keeps its position, like a dict.
            Some(&i) => {
                section.entries[i].line = Some(lineno);
                parts[i] = vec![value];
                i
            }
            None => {
                if section.entries.len() >= max_options {
                    return Err(IniError::TooManyOptions {
                        line: lineno,
                        section: section.name.clone(),
                        limit: max_options,
                    });
                }
                let i = section.entries.len();
                section.index.insert(name.clone(), i);
                section.entries.push(Entry {
                    name,
                    value: String::new(),
                    line: Some(lineno),
                });
                parts.push(vec![value]);
                i
            }
        };
        self.seen_options.insert(key, lineno);
        Ok(index)
    }

    /// Joins multi-line values like `_join_multiline_values` and checks their length.
    fn finish(self) -> Result<IniDocument, IniError> {
        let limit = self.limits.max_value_len;
        let join = |section: &mut Section, parts: Vec<Vec<String>>| -> Result<(), IniError> {
            for (entry, pieces) in section.entries.iter_mut().zip(parts) {
                let joined = pieces.join("\n");
                let trimmed = joined.trim_end_matches(py_isspace);
                if trimmed.len() > limit {
                    return Err(IniError::ValueTooLong {
                        line: entry.line.unwrap_or(0),
                        section: section.name.clone(),
                        option: entry.name.clone(),
                        actual: trimmed.len(),
                        limit,
                    });
                }
                entry.value = trimmed.to_owned();
            }
            Ok(())
        };
        let mut defaults = self.defaults;
        join(&mut defaults, self.default_parts)?;
        let mut sections = self.sections;
        for (section, parts) in sections.iter_mut().zip(self.section_parts) {
            join(section, parts)?;
        }
        Ok(IniDocument {
            defaults,
            sections,
            section_index: self.section_index,
            max_interpolated_len: self.limits.max_interpolated_len,
            max_interpolation_refs: self.limits.max_interpolation_refs,
        })
    }
}

/// `SECTCRE = r"\[(?P<header>.+)\]"` applied with `match`: from a leading `[` to the last `]`,
/// at least one character between; anything after that `]` is ignored, as in CPython.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// State of one `BasicInterpolation.before_get` call.
struct Interpolation<'d> {
    doc: &'d IniDocument,
    /// None when reading DEFAULT itself.
    section: Option<&'d Section>,
    section_name: &'d str,
    option: &'d str,
    out: String,
    refs_left: usize,
}

impl Interpolation<'_> {
    /// `BasicInterpolation._interpolate_some`. Recursion depth is capped at
    /// [`MAX_INTERPOLATION_DEPTH`] + 1, independent of the input.
    fn interpolate(&mut self, mut rest: &str, depth: usize) -> Result<(), IniError> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(IniError::InterpolationDepth {
                section: self.section_name.to_owned(),
                option: self.option.to_owned(),
            });
        }
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                self.push(rest)?;
                return Ok(());
            };
            self.push(&rest[..p])?;
            rest = &rest[p..];
            let after = &rest[1..];
            if let Some(tail) = after.strip_prefix('%') {
                self.push("%")?;
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('(') {
                // _KEYCRE = r"%\(([^)]+)\)s"
                let name_end = tail
                    .find(')')
                    .filter(|&n| n > 0 && tail[n + 1..].starts_with('s'));
                let Some(n) = name_end else {
                    return Err(self.syntax(format!(
                        "bad interpolation variable reference {}",
                        quote_prefix(rest)
                    )));
                };
                let reference = optionxform(&tail[..n]);
                rest = &tail[n + 2..];
                if self.refs_left == 0 {
                    return Err(self.too_large(format!(
                        "more than {} references followed",
                        self.doc.max_interpolation_refs
                    )));
                }
                self.refs_left -= 1;
                let found = self
                    .section
                    .and_then(|s| s.find(&reference))
                    .or_else(|| self.doc.defaults.find(&reference));
                let Some(entry) = found else {
                    return Err(IniError::InterpolationMissing {
                        section: self.section_name.to_owned(),
                        option: self.option.to_owned(),
                        reference,
                    });
                };
                let value = entry.value.as_str();
                if value.contains('%') {
                    self.interpolate(value, depth + 1)?;
                } else {
                    self.push(value)?;
                }
            } else {
                return Err(self.syntax(format!(
                    "'%' must be followed by '%' or '(', found {}",
                    quote_prefix(rest)
                )));
            }
        }
        Ok(())
    }

    fn push(&mut self, s: &str) -> Result<(), IniError> {
        if self.out.len() + s.len() > self.doc.max_interpolated_len {
            return Err(self.too_large(format!(
                "longer than {} bytes",
                self.doc.max_interpolated_len
            )));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn syntax(&self, problem: String) -> IniError {
        IniError::InterpolationSyntax {
            section: self.section_name.to_owned(),
            option: self.option.to_owned(),
            problem,
        }
    }

    fn too_large(&self, what: String) -> IniError {
        IniError::InterpolationTooLarge {
            section: self.section_name.to_owned(),
            option: self.option.to_owned(),
            what,
        }
    }
}

/// Quotes the start of `s` for an error message, shortened so a huge value cannot make a
/// huge message.
fn quote_prefix(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut chars = s.char_indices();
    match chars.nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}
