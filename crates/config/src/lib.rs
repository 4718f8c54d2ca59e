//! dictConfig (JSON/YAML/TOML) and fileConfig (INI) front ends, the typed model, the class
//! registry, the content policy and the atomic builder.
//!
//! Configurations are data: class names resolve only through [`HandlerRegistry`]; `'()'`,
//! `'.'` and `ext://` other than the standard streams are rejected; INI `args`/`kwargs` are
//! parsed as Python literals, never evaluated. Applying is atomic: a configuration with any
//! error changes nothing.
//!
//! ```
//! use logwire_config::{Configurator, SourceFormat};
//! use logwire_engine::LoggerTree;
//!
//! let tree = LoggerTree::new();
//! let text = r#"{"version": 1, "root": {"level": "INFO"}}"#;
//! Configurator::default().apply_text(&tree, text, SourceFormat::Json).unwrap();
//! assert_eq!(tree.root().effective_level(), 20);
//!
//! let bad = r#"{"version": 1, "handlers": {"h": {"()": "os.system", "command": "id"}}}"#;
//! let errors = Configurator::default().apply_text(&tree, bad, SourceFormat::Json).unwrap_err();
//! assert!(errors.to_string().contains("'()' factories are not allowed"));
//! ```

pub mod build;
pub mod dict;
pub mod doc;
pub mod error;
pub mod file;
pub mod ini;
pub mod model;
pub mod policy;
pub mod pyliteral;
pub mod registry;
mod source;

pub use build::{ApplyReport, Configurator, PreparedConfig};
pub use error::{ConfigError, ConfigErrors, PlanError};
pub use model::{ConfigModel, ConfigValue, Dialect, StdStream};
pub use policy::{ConfigLimits, ContentPolicy, Destination};
pub use registry::{HandlerKind, HandlerPlan, HandlerRegistry, StreamFactory};
pub use source::{SourceFormat, parse_model};
