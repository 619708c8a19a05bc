//! What an action leaves to say on the page it redirects to: a fixed message chosen by a code in
//! the address (`?done=paused`), never text taken from the request, so nothing a link carries can
//! be shown as the console's own words; and the two boxes every message is shown in ([`flash`],
//! [`flash_error`]).

use maud::{Markup, html};

/// What an action left to say, by its code in `?done=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Unsubscribed,
    Resubscribed,
    Undone,
    Forgotten,
    Discarded,
    Processed,
    Paused,
    Resumed,
    Cancelled,
    Rescheduled,
    Started,
}

impl Done {
    pub fn code(self) -> &'static str {
        match self {
            Done::Unsubscribed => "unsubscribed",
            Done::Resubscribed => "resubscribed",
            Done::Undone => "undone",
            Done::Forgotten => "forgotten",
            Done::Discarded => "discarded",
            Done::Processed => "processed",
            Done::Paused => "paused",
            Done::Resumed => "resumed",
            Done::Cancelled => "cancelled",
            Done::Rescheduled => "rescheduled",
            Done::Started => "started",
        }
    }

    /// Every outcome, in the order the flash codes were added.
    pub const ALL: [Done; 11] = [
        Done::Unsubscribed,
        Done::Resubscribed,
        Done::Undone,
        Done::Forgotten,
        Done::Discarded,
        Done::Processed,
        Done::Paused,
        Done::Resumed,
        Done::Cancelled,
        Done::Rescheduled,
        Done::Started,
    ];

    pub fn parse(code: &str) -> Option<Done> {
        Done::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// The `?done=` of a page an action redirects to.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: String,
}

impl DoneQuery {
    pub fn done(&self) -> Option<Done> {
        Done::parse(&self.done)
    }
}

/// A flash: a sentence (or two) saying what just happened, announced to screen readers.
pub fn flash(body: Markup) -> Markup {
    html! { div class="flash" role="status" { (body) } }
}

/// A flash for something that did not happen: in colour and in words.
pub fn flash_error(body: Markup) -> Markup {
    html! { div class="flash error" role="alert" { p { strong { "Not done: " } (body) } } }
}

#[cfg(test)]
mod tests {
    use super::Done;

    #[test]
    fn every_code_reads_back() {
        for d in Done::ALL {
            assert_eq!(Done::parse(d.code()), Some(d));
        }
        assert_eq!(Done::parse("<script>"), None);
    }
}
