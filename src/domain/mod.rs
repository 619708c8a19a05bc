//! Small types every stage shares. Each parses at the edge: once you hold one, it is valid.
//!
//! One type (or one family of words) per file; everything is re-exported here, so callers name
//! `crate::domain::EmailAddress`, never the file it lives in.

#[macro_use]
mod vocabulary;
mod date;
mod email;
mod error;
mod ids;
mod issue_number;
mod provider;
mod reason;
mod sanitize;
mod smtp;
mod subscriber;
mod token;

pub use date::{Date, rfc5322_date, unix_now};
pub use email::EmailAddress;
pub use error::ParseError;
pub use ids::{MessageId, VERP_PREFIX, Verp, campaign_key, hex};
pub use issue_number::IssueNumber;
pub use provider::{
    DomainPattern, ProviderMap, ProviderName, organizational_domain, provider_names,
};
pub use reason::{BounceReason, ReasonGroup};
pub use sanitize::{from_spreadsheet, spreadsheet_safe, terminal_safe};
pub use smtp::{EnhancedStatus, ReplyCode};
pub use subscriber::{SubscriberName, SubscriberStatus};
pub use token::UnsubscribeToken;
pub use vocabulary::{
    AdminRole, Attribution, BounceClass, BounceKind, BounceSource, CampaignState, DeliveryState,
    DsnAction, Source,
};
