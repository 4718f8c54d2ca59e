//! The integration tests of `logwire-config`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).

mod common;
mod config_all_errors;
mod config_atomic;
mod config_differential;
mod config_hostile;
mod config_render_budget;
mod dictconfig_cpython;
mod differential_dictconfig;
mod fileconfig_cpython;
mod ini_cases;
mod ini_golden;
mod json_formatter_pjl;
mod json_formatter_pjl_ini;
mod keep_existing_loggers;
mod pyliteral_arithmetic;
mod pyliteral_cases;
mod pyliteral_golden;
mod queue_keys_cpython312;
mod truthiness_cpython;
