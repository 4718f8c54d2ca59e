//! dictConfig (JSON/YAML/TOML) and fileConfig (INI) front ends, the typed model, registry, content policy and atomic builder.

pub mod ini;
pub mod pyliteral;
