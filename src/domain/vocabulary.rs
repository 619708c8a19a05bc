//! The states and labels the pipeline stores and compares: a campaign's and a delivery's state, a
//! bounce's class, kind, attribution and source, and who changed a subscriber. Each parses from and
//! prints to the exact word stored in the database; outside this module no code compares them as
//! strings.

use std::fmt;

use serde::Serialize;

use super::ParseError;

/// Declares an enum of stored words: `as_str`, `parse`, `ALL`, `Display`, `Serialize` as the word,
/// and comparison with a `&str` (for tests and logs that hold the word).
macro_rules! words {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        words!(@core $(#[$meta])* $name, $what { $($(#[$vmeta])* $variant = $word),+ });

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
    (@core $(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// The value a stored word names.
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                match s.trim() {
                    $($word => Ok($name::$variant),)+
                    other => Err(ParseError(format!(
                        "`{other}` is not a {}; use one of {}",
                        $what,
                        [$($word),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

words!(
    /// Where a campaign is in its life.
    CampaignState, "campaign state" {
        /// Created; nothing has been sent, and the issue may still change.
        Created = "created",
        /// Snapshotted and waiting for its time; `worker` starts it then.
        Scheduled = "scheduled",
        /// Its deliveries are queued or being sent.
        Sending = "sending",
        /// Stopped by an operator: nothing new is claimed until `resume`.
        Paused = "paused",
        /// Ended by an operator: what was not sent will not be.
        Cancelled = "cancelled",
        /// Every delivery has an outcome.
        Done = "done",
    }
);

words!(
    /// What an administrators' console account may do.
    AdminRole, "admin role" {
        /// Everything, including subscriber data.
        Admin = "admin",
        /// Preview issues and send test copies; no subscriber data.
        Editor = "editor",
    }
);

words!(
    /// Where one delivery (one campaign, one subscriber) is.
    DeliveryState, "delivery state" {
        /// Waiting to be claimed (possibly not before a retry time).
        Queued = "queued",
        /// Claimed by a worker under a lease.
        Sending = "sending",
        /// Accepted by the relay or written to the outbox.
        Sent = "sent",
        /// Given up after repeated temporary failures; retried by a later run.
        Deferred = "deferred",
        /// Refused for good by the recipient's server.
        Failed = "failed",
        /// Not sent: the subscriber left after the snapshot.
        Skipped = "skipped",
    }
);

impl DeliveryState {
    /// Whether a message was handed over (or may have been), so a bounce can be about it.
    pub fn was_handed_over(self) -> bool {
        matches!(
            self,
            DeliveryState::Sent
                | DeliveryState::Failed
                | DeliveryState::Deferred
                | DeliveryState::Sending
        )
    }
}

words!(
    /// What a recipient's outcome means for the list.
    BounceClass, "bounce class" {
        /// The address does not work: suppress.
        Hard = "hard",
        /// It may work later (mailbox full, delayed, 4.x.x): count.
        Soft = "soft",
        /// The recipient reported the mail as spam: suppress for good.
        Complaint = "complaint",
        /// The receiver refused us (5.7.x policy, reputation): a sender-side problem. Record and
        /// alert, never suppress the subscriber.
        Policy = "policy",
        /// Delivered, relayed, or nothing to act on.
        None = "none",
    }
);

words!(@core
    /// What kind of message came back.
    BounceKind, "message kind" {
        /// An RFC 3464 delivery status notification.
        Dsn = "dsn",
        /// An RFC 5965 abuse/feedback report.
        Arf = "arf",
        /// A bounce in a format of its own, read from its text.
        NonStandardBounce = "non-standard bounce",
        /// A request to unsubscribe, sent to the `List-Unsubscribe` mailto address.
        Unsubscribe = "unsubscribe request",
        /// A vacation message, other automatic reply or challenge-response request: not a bounce.
        AutoReply = "auto-reply",
        /// An e-mail service provider's own event (by webhook, or its notification by mail).
        ProviderEvent = "provider event",
        /// Nothing we recognise as a bounce.
        NotABounce = "not a bounce",
        /// Not an e-mail message at all.
        Unparsable = "not an e-mail message",
    }
);

impl BounceKind {
    /// The bounce log's source for reports of this kind; `None` for what is not a bounce.
    pub fn log_source(self) -> Option<BounceSource> {
        match self {
            BounceKind::Dsn => Some(BounceSource::Dsn),
            BounceKind::Arf => Some(BounceSource::Arf),
            BounceKind::NonStandardBounce => Some(BounceSource::Heuristic),
            BounceKind::ProviderEvent => Some(BounceSource::Provider),
            _ => None,
        }
    }

    /// The name in JSON output (`non-standard-bounce`).
    pub fn json_name(self) -> &'static str {
        match self {
            BounceKind::Dsn => "dsn",
            BounceKind::Arf => "arf",
            BounceKind::NonStandardBounce => "non-standard-bounce",
            BounceKind::Unsubscribe => "unsubscribe",
            BounceKind::ProviderEvent => "provider-event",
            BounceKind::AutoReply => "auto-reply",
            BounceKind::NotABounce => "not-a-bounce",
            BounceKind::Unparsable => "unparsable",
        }
    }
}

impl Serialize for BounceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.json_name())
    }
}

words!(
    /// How a recipient was tied to a delivery (or an address), most reliable first.
    Attribution, "attribution" {
        /// The VERP address the bounce was sent to.
        Verp = "verp",
        /// The DSN's recipient fields.
        DsnField = "dsn-field",
        /// The Message-ID (or VERP Return-Path) of the returned original message.
        OriginalHeaders = "original-headers",
        /// A reading of a non-standard bounce text.
        Heuristic = "heuristic",
        /// Our own SMTP session: the relay refused the recipient while we sent.
        Delivery = "delivery",
        /// The id an e-mail service provider gave a message we handed it, named by its event.
        ProviderMessageId = "provider-message-id",
    }
);

words!(
    /// An RFC 3464 `Action:` field: what the reporting server did for one recipient.
    DsnAction, "DSN action" {
        /// Could not be delivered and will not be retried.
        Failed = "failed",
        /// Not delivered yet; the server keeps trying.
        Delayed = "delayed",
        /// Delivered to the recipient's mailbox.
        Delivered = "delivered",
        /// Handed to a system that sends no reports of its own.
        Relayed = "relayed",
        /// Delivered to a list or alias and passed on.
        Expanded = "expanded",
    }
);

impl DsnAction {
    /// Reads the field's value, which RFC 3464 makes case-insensitive.
    pub fn from_field(value: &str) -> Result<Self, ParseError> {
        DsnAction::parse(&value.trim().to_ascii_lowercase())
    }

    /// Whether the report says the message arrived (or went on), so there is nothing to act on.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            DsnAction::Delivered | DsnAction::Relayed | DsnAction::Expanded
        )
    }
}

words!(
    /// Where a logged bounce came from.
    BounceSource, "bounce source" {
        /// A refusal during our own SMTP session.
        Smtp = "smtp",
        /// An RFC 3464 report.
        Dsn = "dsn",
        /// An RFC 5965 feedback report.
        Arf = "arf",
        /// A bounce text read by its wording.
        Heuristic = "heuristic",
        /// An e-mail service provider's event (SES, Postmark, Mailgun), by webhook or by mail.
        Provider = "provider",
    }
);

words!(
    /// Who or what changed a subscriber.
    Source, "source" {
        Cli = "cli",
        Web = "web",
        Api = "api",
        Bounce = "bounce",
        Import = "import",
        /// An unsubscribe by mail, to the per-recipient `List-Unsubscribe` mailto address.
        Mail = "mail",
        /// An administrator in the web console.
        Admin = "admin",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips() {
        for s in CampaignState::ALL {
            assert_eq!(CampaignState::parse(s.as_str()).unwrap(), *s);
        }
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()).unwrap(), *s);
        }
        for c in BounceClass::ALL {
            assert_eq!(BounceClass::parse(c.as_str()).unwrap(), *c);
        }
        for a in Attribution::ALL {
            assert_eq!(Attribution::parse(a.as_str()).unwrap(), *a);
        }
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()).unwrap(), *s);
        }
        assert!(DeliveryState::parse("lost").is_err());
        assert_eq!(
            BounceKind::NonStandardBounce.json_name(),
            "non-standard-bounce"
        );
        assert!(CampaignState::Done == "done");
    }
}
