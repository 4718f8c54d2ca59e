//! Errors that name their place: `handlers.h1.level: unknown level 'NTOSET'`.

use std::fmt;

/// One problem in a configuration, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where: a dotted path for dictConfig (`handlers.h1.level`), a section and key for INI
    /// (`[handler_hand1] args`), or `document` for the whole text.
    pub place: String,
    /// What is wrong.
    pub message: String,
    /// Whether the config asked for something logwire never does (run code, import, set
    /// arbitrary attributes), as opposed to something malformed.
    pub refusal: bool,
}

impl ConfigError {
    /// An error at `place`.
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            place: place.into(),
            message: message.into(),
            refusal: false,
        }
    }

    /// A refusal at `place`: the config names code to run or a module to import. Refusals
    /// stand even where CPython would not read the part of the config they are in.
    pub fn refused(place: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            refusal: true,
            ..ConfigError::new(place, message)
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// Every problem found in one document (not only the first).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// One error.
    pub fn one(place: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError::new(place, message)])
    }
    /// Adds an error.
    pub fn push(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(place, message));
    }
    /// Adds a refusal (see [`ConfigError::refused`]).
    pub fn refuse(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::refused(place, message));
    }
    /// Whether no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(value)` if no error was found.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
    /// The errors.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Why a [`HandlerPlan`](crate::HandlerPlan) could not build or commit its handler: the
/// seam between a validated configuration and the live handlers. The configurator reports
/// it as a [`ConfigError`] at the handler's place, so callers of `apply` still get one
/// [`ConfigErrors`]; a handler kind written outside this crate returns it from its plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The engine refused to build or prepare the handler (a file that cannot be opened or
    /// truncated, an argument out of range …).
    #[error(transparent)]
    Handler(#[from] logwire_engine::HandlerError),
    /// A handler this one sends to (a queue's or memory handler's target) was not built.
    #[error("{role} '{id}' was not built")]
    NotBuilt {
        /// What the missing handler is to this one (`target`, `handler`).
        role: &'static str,
        /// Its id.
        id: String,
    },
    /// A kind defined outside this crate failed with its own error (a network handler's
    /// address that does not resolve …), kept as the source.
    #[error(transparent)]
    Kind(Box<dyn std::error::Error + Send + Sync>),
}

impl PlanError {
    /// Wraps another crate's error ([`PlanError::Kind`]).
    pub fn kind(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        PlanError::Kind(Box::new(error))
    }
}
