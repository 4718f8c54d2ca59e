//! Reading configuration text: which front end, and the document-level budgets.

use crate::doc::{DocLimits, DocValue, with_budget};
use crate::error::ConfigErrors;
use crate::model::ConfigModel;
use crate::policy::ConfigLimits;
use std::path::Path;

/// The syntax of a configuration text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceFormat {
    /// dictConfig as JSON.
    Json,
    /// dictConfig as YAML.
    Yaml,
    /// dictConfig as TOML.
    Toml,
    /// fileConfig INI.
    Ini,
    /// As the config listener decides: JSON if the first non-blank character is `{`, else INI.
    Wire,
}

impl SourceFormat {
    /// The format a file name suggests (`.json`, `.yaml`/`.yml`, `.toml`, `.ini`/`.conf`/
    /// `.cfg`); otherwise decided from the content as the listener does.
    pub fn for_path(path: &Path) -> SourceFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => SourceFormat::Json,
            Some("yaml" | "yml") => SourceFormat::Yaml,
            Some("toml") => SourceFormat::Toml,
            Some("ini" | "conf" | "cfg") => SourceFormat::Ini,
            _ => SourceFormat::Wire,
        }
    }
}

/// Parses configuration text into the model, within `limits`.
pub fn parse_model(
    text: &str,
    format: SourceFormat,
    limits: &ConfigLimits,
) -> Result<ConfigModel, ConfigErrors> {
    let mut errs = ConfigErrors::default();
    match parse_model_parts(text, format, limits, &mut errs) {
        Some(m) => errs.into_result(m),
        None => Err(errs),
    }
}

/// Like [`parse_model`], but adds its errors to `errs` and returns the model of the valid
/// parts when there is one, so that validation can report its own errors in the same run.
/// Crate-private: the public API is the one function, whose `Err` holds every error;
/// the configurator's check uses this to add whole-model errors in the same run.
pub(crate) fn parse_model_parts(
    text: &str,
    format: SourceFormat,
    limits: &ConfigLimits,
    errs: &mut ConfigErrors,
) -> Option<ConfigModel> {
    if text.len() > limits.max_document_bytes {
        errs.push(
            "document",
            format!(
                "{} bytes is more than the limit of {}",
                text.len(),
                limits.max_document_bytes
            ),
        );
        return None;
    }
    let format = match format {
        SourceFormat::Wire if text.trim_start().starts_with('{') => SourceFormat::Json,
        SourceFormat::Wire => SourceFormat::Ini,
        f => f,
    };
    let doc_limits = DocLimits {
        max_bytes: limits.max_document_bytes,
        max_depth: limits.max_depth,
        ..DocLimits::default()
    };
    let doc: Result<DocValue, String> = with_budget(&doc_limits, || match format {
        SourceFormat::Json => {
            serde_json::from_str::<DocValue>(text).map_err(|e| format!("not valid JSON: {e}"))
        }
        SourceFormat::Toml => {
            toml::from_str::<DocValue>(text).map_err(|e| format!("not valid TOML: {e}"))
        }
        SourceFormat::Yaml => {
            let options = serde_saphyr::options! {
                budget: serde_saphyr::budget! {
                    max_depth: doc_limits.max_depth,
                    max_nodes: doc_limits.max_nodes,
                    max_aliases: 100,
                    max_anchors: 100,
                },
            };
            serde_saphyr::from_str_with_options::<DocValue>(text, options)
                .map_err(|e| format!("not valid YAML: {e}"))
        }
        SourceFormat::Ini | SourceFormat::Wire => Err(String::new()),
    });
    match format {
        SourceFormat::Ini => crate::file::model_from_ini_parts(text, &[], true, errs),
        _ => match doc {
            Ok(doc) => crate::dict::model_from_doc_parts(&doc, errs),
            Err(e) => {
                errs.push("document", e);
                None
            }
        },
    }
}

impl crate::build::Configurator {
    /// Parses, validates and applies configuration text atomically.
    pub fn apply_text(
        &self,
        tree: &logwire_engine::LoggerTree,
        text: &str,
        format: SourceFormat,
    ) -> Result<crate::build::ApplyReport, ConfigErrors> {
        let prepared = self.check_text(text, format)?;
        self.apply(tree, prepared)
    }

    /// Parses and validates without applying (what `logwire check` does).
    pub fn check_text(
        &self,
        text: &str,
        format: SourceFormat,
    ) -> Result<crate::build::PreparedConfig, ConfigErrors> {
        // Every error of the document in one run: those of the front end, then those only a
        // whole model shows (unknown ids, arguments, policy), from the valid parts.
        let mut errs = ConfigErrors::default();
        let Some(model) = parse_model_parts(text, format, &self.policy().limits, &mut errs) else {
            return Err(errs);
        };
        match self.prepare(model) {
            Ok(prepared) => errs.into_result(prepared),
            Err(more) => {
                for e in more.0 {
                    if !errs.0.contains(&e) {
                        errs.0.push(e);
                    }
                }
                Err(errs)
            }
        }
    }
}
