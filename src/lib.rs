//! newsletter: render a weekly Markdown issue once, check it, and deliver it to every subscriber.
//!
//! The data flow is `issue` → `render` → `mail` → `store` → `send` (and later `bounce`); each module
//! has one small public entry point. The binary only parses arguments: see [`cli`].

pub mod bounce;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dkim;
pub mod doctor;
pub mod domain;
pub mod files;
pub mod issue;
pub mod mail;
pub mod password;
pub mod render;
pub mod send;
pub mod store;
pub mod transport;
pub mod web;
