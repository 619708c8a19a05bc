//! The integration tests, as one test crate: one link instead of one per file, and the files' tests
//! run side by side. Each module is what a user does with one part of `newsletter`, over its real
//! interface; the helpers that start the binary, servers and databases are in `tests/common`.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod admin;
mod backup;
mod bounce_reasons;
mod bounces;
mod breaker;
mod browser;
mod check;
mod check_rules;
mod cli_render;
mod complaints;
mod console_browser;
mod control;
mod deploy;
mod docs;
mod doctor;
mod hostile;
mod mailgun;
mod man;
mod no_panic;
mod postfix;
mod postmark;
mod queue;
mod render;
mod render_fuzz;
mod send;
mod ses;
mod shaping;
mod store;
mod web;
mod webhooks;
