//! `send`: a campaign's life and the delivery engine.
//!
//! - [`campaign`]: reading, checking and rendering the issue once; whether a campaign exists, is
//!   done or changed; creating it, the preflight, the snapshot; the job the engine runs; a test copy
//!   and a dry run.
//! - [`control`]: pause, resume and cancel, waiting until what was in flight is recorded.
//! - [`breaker`]: the circuit breaker that pauses a campaign when a provider refuses us.
//! - [`complaints`]: complaint control, which pauses a campaign when too many readers at one
//!   provider mark it as spam.
//! - [`engine`]: the delivery engine (claims, pacing, retries, group commit of outcomes).
//! - [`shaping`]: mailbox providers' limits, the pace that adapts to throttling, the warm-up's
//!   daily cap and the reading of `send --at`.
//! - [`worker`]: the loop of `newsletter worker`, delivering every campaign that is sending.

pub mod breaker;
pub mod campaign;
pub mod complaints;
pub mod control;
pub mod engine;
pub mod shaping;
pub mod worker;

pub use engine::{Counters, Job, RunReport, SendError, deliver};
