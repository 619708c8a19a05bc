//! Why a message came back, as fine as the field's best classifiers (Sisimai's reasons, RFC 3463 and
//! the IANA enhanced-status registry), grouped by what a newsletter must do about it.
//!
//! The group, not the reason, decides: only [`ReasonGroup::Gone`] suppresses at once,
//! [`ReasonGroup::Unwell`] counts over time, and a refusal about the sender ([`ReasonGroup::Sender`])
//! never costs a reader: it feeds the campaign's circuit breaker.

use std::fmt;

use serde::Serialize;

use super::{BounceClass, ParseError};

words!(
    /// What the list must do about a reason.
    ReasonGroup, "reason group" {
        /// The address no longer exists: suppress at once.
        Gone = "gone",
        /// The mailbox exists but does not take mail now: counts toward suppression over time.
        Unwell = "unwell",
        /// Our message was refused for what it is (size, content): never suppresses; the operator
        /// should look at the issue.
        Message = "message",
        /// The refusal is about us (IP, domain, identity, authentication, rate): never suppresses a
        /// reader; counts toward the campaign's circuit breaker.
        Sender = "sender",
        /// The way there failed (network, queue expiry, the remote system): a retry may work.
        Transport = "transport",
        /// Not a failure (delayed, delivered, an automatic reply): nothing to act on.
        NotAFailure = "not-a-failure",
        /// A report from a reader or a provider about a message that arrived.
        Feedback = "feedback",
        /// A failure whose cause nothing in the message states: counts like an unwell mailbox,
        /// never suppresses at once.
        Undetermined = "undetermined",
    }
);

words!(
    /// Why a message came back for one recipient.
    BounceReason, "bounce reason" {
        // the address is gone
        /// No such mailbox at that domain (5.1.1, 5.1.10, "user unknown").
        UserUnknown = "user-unknown",
        /// The domain does not exist or accepts no mail (5.1.2, 5.4.4, a null MX, RFC 7505).
        HostUnknown = "host-unknown",
        /// The recipient has moved and left no forwarding (5.1.6).
        HasMoved = "has-moved",
        /// The provider's own suppression list refuses the address after earlier hard bounces.
        Suppressed = "suppressed",
        // the mailbox is unwell
        /// Full or over quota (5.2.2, 4.2.2, "mailbox full").
        MailboxFull = "mailbox-full",
        /// Disabled, suspended, inactive, or not accepting mail (5.2.1 about the mailbox).
        MailboxDisabled = "mailbox-disabled",
        /// The recipient's own filter or rules refused it.
        Filtered = "filtered",
        // the message
        /// Larger than the receiver takes (5.3.4, 5.2.3).
        MessageTooLarge = "message-too-large",
        /// Refused as spam or for its content (5.7.1 with content words, 5.6.x policy).
        ContentRejected = "content-rejected",
        /// A virus or a forbidden attachment was found (5.7.1 with virus words).
        VirusDetected = "virus-detected",
        /// Not RFC-compliant: bad headers, bare LF, missing Date or Message-ID (5.6.0, 5.5.2 at DATA).
        NotCompliant = "not-compliant",
        // the sender
        /// Our IP or domain is on a block list (5.7.1 with "blacklist"/"blocklist"/"Spamhaus").
        Blocked = "blocked",
        /// Our IP or domain has a bad reputation with the receiver.
        BadReputation = "bad-reputation",
        /// SPF, DKIM or DMARC failed for our message (5.7.23–5.7.27, 5.7.26 DMARC).
        AuthFailure = "auth-failure",
        /// The receiver wants a PTR record or matching reverse DNS for our IP (5.7.25).
        RequirePtr = "require-ptr",
        /// The relay will not relay for us (5.7.1 "relaying denied", 5.4.1 from our own relay).
        RelayDenied = "relay-denied",
        /// Our sender address or identity was refused (5.1.7, 5.1.8, "not verified",
        /// "unauthenticated senders", any refusal of MAIL FROM).
        SenderRejected = "sender-rejected",
        /// Rate or volume limits on us (4.7.28, 5.7.28, 4.7.650, "too many recipients this hour").
        RateLimited = "rate-limited",
        /// Too many connections or sessions from us.
        TooManyConnections = "too-many-connections",
        /// A policy refusal about us that names no more precise cause (bare 5.7.1 "not authorized").
        PolicyRefused = "policy-refused",
        // the transport
        /// Connection refused, timed out, TLS failed on the way.
        NetworkError = "network-error",
        /// The reporting server gave up after its queue lifetime (4.4.7).
        Expired = "expired",
        /// The remote system failed (4.3.0, 5.3.0, a mailer error).
        SystemError = "system-error",
        /// The remote system is out of disk or resources (4.3.1).
        SystemFull = "system-full",
        // not a failure
        /// Delayed; the server keeps trying.
        Delayed = "delayed",
        /// Delivered, relayed or expanded.
        Delivered = "delivered",
        /// A vacation message or another automatic reply.
        AutoReply = "auto-reply",
        // feedback
        /// The reader reported the message as spam (ARF `abuse`, `fraud`, `virus`, `other`; a
        /// provider's complaint event).
        Complaint = "complaint",
        /// ARF `not-spam`: the reader took the message out of spam; acts on nobody.
        NotSpam = "not-spam",
        /// An RFC 6591 authentication failure report (ARF `auth-failure`): about our
        /// authentication, acts on nobody.
        AuthReport = "auth-report",
        /// An unsubscribe request (mailto, or a provider's unsubscribe event).
        Unsubscribe = "unsubscribe",
        // undetermined
        /// A failure whose cause nothing in the message states.
        Undetermined = "undetermined",
    }
);

impl BounceReason {
    /// What the list must do about this reason.
    pub fn group(self) -> ReasonGroup {
        use BounceReason::*;
        match self {
            UserUnknown | HostUnknown | HasMoved | Suppressed => ReasonGroup::Gone,
            MailboxFull | MailboxDisabled | Filtered => ReasonGroup::Unwell,
            MessageTooLarge | ContentRejected | VirusDetected | NotCompliant => {
                ReasonGroup::Message
            }
            Blocked | BadReputation | AuthFailure | RequirePtr | RelayDenied | SenderRejected
            | RateLimited | TooManyConnections | PolicyRefused => ReasonGroup::Sender,
            NetworkError | Expired | SystemError | SystemFull => ReasonGroup::Transport,
            Delayed | Delivered | AutoReply => ReasonGroup::NotAFailure,
            Complaint | NotSpam | AuthReport | Unsubscribe => ReasonGroup::Feedback,
            Undetermined => ReasonGroup::Undetermined,
        }
    }

    /// True for a refusal about us: it never suppresses a reader and counts toward the circuit
    /// breaker.
    pub fn is_sender_side(self) -> bool {
        self.group() == ReasonGroup::Sender
    }

    /// The class the bounce log and the suppression policy act on.
    pub fn class(self) -> BounceClass {
        match self.group() {
            ReasonGroup::Gone => BounceClass::Hard,
            ReasonGroup::Unwell | ReasonGroup::Transport | ReasonGroup::Undetermined => {
                BounceClass::Soft
            }
            ReasonGroup::Message | ReasonGroup::Sender => BounceClass::Policy,
            ReasonGroup::NotAFailure => BounceClass::None,
            ReasonGroup::Feedback => match self {
                BounceReason::Complaint => BounceClass::Complaint,
                _ => BounceClass::None,
            },
        }
    }

    /// One plain sentence for the console and `bounces inspect`.
    pub fn explain(self) -> &'static str {
        use BounceReason::*;
        match self {
            UserUnknown => "the address does not exist",
            HostUnknown => "the address's domain does not exist or takes no mail",
            HasMoved => "the reader has moved and left no forwarding address",
            Suppressed => "the provider refuses the address after earlier bounces",
            MailboxFull => "the reader's mailbox is full",
            MailboxDisabled => "the reader's mailbox is disabled or inactive",
            Filtered => "the reader's own filter refused the message",
            MessageTooLarge => "the issue is larger than the receiver takes",
            ContentRejected => "the receiver refused the issue for its content",
            VirusDetected => "the receiver found a virus or a forbidden attachment",
            NotCompliant => "the receiver found the message malformed",
            Blocked => "our server or domain is on a block list",
            BadReputation => "the receiver distrusts our server or domain",
            AuthFailure => "our SPF, DKIM or DMARC failed",
            RequirePtr => "the receiver wants reverse DNS for our server",
            RelayDenied => "a relay refused to pass our mail on",
            SenderRejected => "our sender address or identity was refused",
            RateLimited => "we sent too much, too fast, for the receiver",
            TooManyConnections => "we opened too many connections to the receiver",
            PolicyRefused => "the receiver's policy refused our mail",
            NetworkError => "the network failed on the way",
            Expired => "the reporting server gave up after trying for days",
            SystemError => "the receiving system failed",
            SystemFull => "the receiving system is out of space",
            Delayed => "delivery is delayed; the server keeps trying",
            Delivered => "the message was delivered",
            AutoReply => "an automatic reply, such as a vacation message",
            Complaint => "the reader reported the issue as spam",
            NotSpam => "the reader marked the issue as not spam",
            AuthReport => "a report that our authentication failed somewhere",
            Unsubscribe => "the reader asked to leave the list",
            Undetermined => "the failure's cause is not stated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_and_only_gone_is_hard() {
        for r in BounceReason::ALL {
            assert_eq!(BounceReason::parse(r.as_str()).unwrap(), *r);
            assert_eq!(
                r.class() == BounceClass::Hard,
                r.group() == ReasonGroup::Gone
            );
            if r.is_sender_side() {
                assert_eq!(r.class(), BounceClass::Policy);
            }
        }
        for g in ReasonGroup::ALL {
            assert_eq!(ReasonGroup::parse(g.as_str()).unwrap(), *g);
        }
    }
}
