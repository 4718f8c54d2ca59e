//! The integration tests of the `logwire` command: one binary (each test binary links the whole
//! dependency tree, so one per crate keeps builds small), one module per former test file.

mod common;

mod audit_cli;
mod check_cli;
mod check_warnings;
mod examples;
mod hostile_configs;
mod hostile_connection_slots;
mod hostile_connections;
mod hostile_file_root;
mod hostile_frames;
mod hostile_injection;
mod hostile_logger_names;
mod hostile_push_costs;
mod hostile_record_path;
mod hostile_signed;
mod keygen_cli;
mod listen_half_open;
mod listen_kill_restart;
mod listen_serve;
mod listen_tls_cli;
mod memory_handler_collector;
mod metrics_cli;
mod nats_config;
mod nats_records;
mod one_registry;
mod pushed_policy_corpus;
mod real_configs;
mod send_config_cli;
mod send_config_cpython;
mod serve_cli;
mod serve_signed_restarts;
mod systemd;
mod top_cli;
