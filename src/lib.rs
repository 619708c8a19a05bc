//! newsletter: render a weekly Markdown issue once, check it, and deliver it to every subscriber.
//!
//! The flow, in the order modules may import each other (each uses only those listed before it,
//! besides [`domain`]'s shared types, [`config`], [`files`] and [`fetch`] (one-shot HTTPS GETs and the TLS client settings)):
//!
//! - [`issue`] reads the file; [`render`] makes its HTML and plaintext once; [`check`] runs the
//!   pre-send rules on both;
//! - [`mail`] builds each recipient's message by splicing into the rendered parts, [`dkim`] signs
//!   it, [`transport`] hands it to an SMTP relay, an ESP's API or an outbox;
//! - [`store`] is the database (subscribers, campaigns and their delivery queue, bounces,
//!   administrators) and decides nothing;
//! - [`bounce`] reads what comes back (DSN, ARF, MTA texts, ESP events, mailto unsubscribes) and
//!   applies to the store what its proof allows;
//! - [`send`] runs a campaign: snapshot the list, claim deliveries, build, sign, hand over, record,
//!   with the suppression policy of `bounce` for what is refused during the send;
//! - [`web`] serves subscribers (unsubscribe, subscribe, confirm), the console and the webhooks;
//!   [`doctor`] checks the setup (configuration, database, DNS, the transport, the webhooks).
//!
//! Only [`commands`] (one function per command) knows every module; the binary only parses
//! arguments: see [`cli`].

pub mod bounce;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dkim;
pub mod doctor;
pub mod domain;
pub mod fetch;
pub mod files;
pub mod issue;
pub mod mail;
pub mod password;
pub mod render;
pub mod send;
pub mod store;
pub mod transport;
pub mod web;
