//! The integration tests of `logwire-collector`, one binary (each test binary links the whole
//! dependency tree), one module per former test file; `common_recv` is their shared starter.

mod common_recv;
mod receive_connection_keep;
mod receive_cpython;
mod receive_dispatcher_slots;
mod receive_hand_off;
mod receive_hostile;
mod receive_parallel_order;
mod receive_peer_cap;
mod receive_per_listener;
mod receive_queue_budget;
mod receive_remote_names;
mod receive_signed;
mod send_receiver;
