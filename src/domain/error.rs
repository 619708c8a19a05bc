//! The one error every domain type gives when a value does not parse: a sentence that says what is
//! wrong and how to write it instead.

use thiserror::Error;

/// Why a value could not be parsed into a domain type.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A [`ParseError`] with `msg`.
pub(super) fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}
