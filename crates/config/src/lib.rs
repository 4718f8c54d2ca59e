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

//!
//! # One path per name
//! Every public item is re-exported here, at the crate root, and nowhere else. Two parsers
//! keep a public namespace of their own, because they group many names a config user rarely
//! needs and some of them (`Position`, `DEFAULT_SECTION`) read well only qualified:
//! - [`ini`]: the `configparser`-compatible INI reader behind fileConfig;
//! - [`pyliteral`]: the bounded `ast.literal_eval` subset for fileConfig's `args=`/`kwargs=`.
//!
//! Nothing in them is re-exported at the root.

mod build;
mod dict;
mod doc;
mod error;
mod file;
pub mod ini;
mod model;
mod policy;
pub mod pyliteral;
mod registry;
mod source;

pub use build::{ApplyReport, Configurator, PreparedConfig};
pub use dict::model_from_doc;
pub use doc::{DocLimits, DocValue};
pub use error::{ConfigError, ConfigErrors, PlanError};
pub use file::{model_from_document, model_from_ini};
pub use model::{
    ConfigModel, ConfigValue, Dialect, FilterSpec, FormatterSpec, HandlerSpec,
    JSON_FORMATTER_CLASSES, LoggerSpec, StdStream,
};
pub use policy::{ConfigLimits, ContentPolicy, Destination, FileAccess, PolicyError};
// `bind` is renamed at the root so it says what it binds.
pub use registry::{
    BoundArgs, BuildContext, HandlerKind, HandlerPlan, HandlerRegistry, Param, PrepareContext,
    ProcessStreams, StreamFactory, bind as bind_args,
};
pub use source::{SourceFormat, parse_model};
