//! The console's campaign control (schedule again, send now, pause, resume, cancel), each behind a
//! confirmation page that says what will happen in numbers; the flash message every action leaves
//! behind; the undo of an administrator's own unsubscribe; and the plain words the pages use for
//! the store's terms.
//!
//! A flash is a fixed message chosen by a code in the address (`?done=paused`), never text taken
//! from the request, so nothing a link carries can be shown as the console's own words.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::AppState;
use super::admin::{Signed, admin_page, csrf_refused, unavailable};
use super::pages::thousands;
use crate::domain::{CampaignState, SubscriberStatus};
use crate::store::{Campaign, Control, DeliveryCounts, Store, StoreError};

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

// --- Undo of an administrator's own unsubscribe -------------------------------------------------

/// How long the console offers to undo an unsubscribe made in it.
pub const UNDO_FOR: Duration = Duration::from_secs(15 * 60);

/// Unsubscribes made in the console that their session may still undo: the administrator's own
/// mistake, not the reader's wish, so taking it back needs no confirmation from the reader. Kept in
/// memory, per session and subscriber, for [`UNDO_FOR`].
#[derive(Default)]
pub struct Undos {
    items: Mutex<Vec<(String, i64, SubscriberStatus, Instant)>>,
}

impl Undos {
    /// Offers `session` the undo of its unsubscribe of `subscriber`, who was `previous` before.
    pub fn offer(&self, session: &str, subscriber: i64, previous: SubscriberStatus) {
        let mut all = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        all.retain(|u| u.3 > now && !(u.0 == session && u.1 == subscriber));
        if all.len() >= 10_000 {
            all.remove(0);
        }
        all.push((session.to_string(), subscriber, previous, now + UNDO_FOR));
    }

    /// Whether `session` may still undo its unsubscribe of `subscriber`.
    pub fn open(&self, session: &str, subscriber: i64) -> bool {
        let all = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        all.iter()
            .any(|u| u.0 == session && u.1 == subscriber && u.3 > now)
    }

    /// The status to go back to, once: the offer is used up.
    pub fn take(&self, session: &str, subscriber: i64) -> Option<SubscriberStatus> {
        let mut all = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let at = all
            .iter()
            .position(|u| u.0 == session && u.1 == subscriber && u.3 > now)?;
        Some(all.remove(at).2)
    }
}

// --- Plain words --------------------------------------------------------------------------------

/// A campaign's state as the console says it.
pub fn campaign_state(s: CampaignState) -> &'static str {
    match s {
        CampaignState::Created => "not started",
        CampaignState::Scheduled => "scheduled",
        CampaignState::Sending => "sending",
        CampaignState::Paused => "paused",
        CampaignState::Cancelled => "cancelled",
        CampaignState::Done => "done",
    }
}

/// A delivery's state as the console says it.
pub fn delivery_state(s: &str) -> &str {
    match s {
        "queued" => "waiting",
        "sending" => "being sent",
        "sent" => "delivered to the reader's server",
        "deferred" => "will be tried again",
        "failed" => "failed",
        "skipped" => "not sent (no longer subscribed)",
        other => other,
    }
}

/// How the console came to know of a bounce, in words.
pub fn bounce_source(s: crate::domain::BounceSource) -> &'static str {
    use crate::domain::BounceSource::*;
    match s {
        Smtp => "the receiving server refused it while we sent",
        Dsn => "a delivery report from the receiving server",
        Arf => "a complaint report from the reader's provider",
        Heuristic => "a bounce message, read by its wording",
    }
}

/// How the console knew whose bounce it was, in words.
pub fn attribution(a: crate::domain::Attribution) -> &'static str {
    use crate::domain::Attribution::*;
    match a {
        Verp => "the reader's own return address",
        DsnField => "the recipient named in the report",
        OriginalHeaders => "the returned copy of our message",
        Heuristic => "the wording of the bounce",
        Delivery => "our own delivery attempt",
    }
}

/// A bounce's class as the console says it.
pub fn bounce_class(c: crate::domain::BounceClass) -> &'static str {
    use crate::domain::BounceClass::*;
    match c {
        Hard => "Permanent failure",
        Soft => "Temporary failure",
        Complaint => "Spam complaint",
        Policy => "Refused by policy",
        None => "Not a failure",
    }
}

/// A library message for the page: its `code` quotes become typographic ones (“x”), since a
/// reader of the console sees no Markdown.
pub fn quoted(s: &str) -> String {
    let mut open = true;
    s.chars()
        .map(|c| {
            if c == '`' {
                open = !open;
                if open { '”' } else { '“' }
            } else {
                c
            }
        })
        .collect()
}

/// The first letter of `s` in capitals: "mailbox full" becomes "Mailbox full".
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// A time in the send time zone (`[send] time_zone`), as people read it: "Mon 7 Dec 2026, 09:00 CET".
pub fn when(state: &AppState, unix: i64) -> String {
    let tz = time_zone(state);
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(tz)
                .strftime("%a %-d %b %Y, %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| crate::domain::rfc5322_date(unix))
}

fn time_zone(state: &AppState) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(state.config.send.time_zone.trim()).unwrap_or(jiff::tz::TimeZone::UTC)
}

fn zone_name(state: &AppState) -> String {
    let name = state.config.send.time_zone.trim();
    if name.is_empty() {
        "UTC".into()
    } else {
        name.into()
    }
}

/// A `datetime-local` value (`2026-12-07T09:00`) in the send time zone, as UNIX seconds.
fn parse_local(state: &AppState, value: &str) -> Option<i64> {
    let dt: jiff::civil::DateTime = value.trim().parse().ok()?;
    dt.to_zoned(time_zone(state))
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// A UNIX time as a `datetime-local` value in the send time zone.
fn local_value(state: &AppState, unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(time_zone(state))
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

// --- Campaign control ---------------------------------------------------------------------------

/// What an administrator asks of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Pause,
    Resume,
    Cancel,
    /// A scheduled campaign at another time.
    Reschedule(i64),
    /// A scheduled campaign now.
    StartNow,
}

impl Order {
    fn parse(action: &str, at: Option<i64>) -> Option<Order> {
        Some(match action {
            "pause" => Order::Pause,
            "resume" => Order::Resume,
            "cancel" => Order::Cancel,
            "start" => Order::StartNow,
            "reschedule" => Order::Reschedule(at?),
            _ => return None,
        })
    }

    fn action(self) -> &'static str {
        match self {
            Order::Pause => "pause",
            Order::Resume => "resume",
            Order::Cancel => "cancel",
            Order::Reschedule(_) => "reschedule",
            Order::StartNow => "start",
        }
    }

    fn done(self) -> Done {
        match self {
            Order::Pause => Done::Paused,
            Order::Resume => Done::Resumed,
            Order::Cancel => Done::Cancelled,
            Order::Reschedule(_) => Done::Rescheduled,
            Order::StartNow => Done::Started,
        }
    }

    /// The states it applies to.
    fn applies(self, s: CampaignState) -> bool {
        match self {
            Order::Pause => matches!(s, CampaignState::Scheduled | CampaignState::Sending),
            Order::Resume => s == CampaignState::Paused,
            Order::Cancel => matches!(
                s,
                CampaignState::Created
                    | CampaignState::Scheduled
                    | CampaignState::Sending
                    | CampaignState::Paused
            ),
            Order::Reschedule(_) | Order::StartNow => s == CampaignState::Scheduled,
        }
    }
}

/// The console's one call into the library's campaign control: every button of the campaign page
/// ends here. Returns the campaign as it is afterwards.
pub async fn control_campaign(
    store: &Store,
    number: i64,
    order: Order,
) -> Result<Campaign, StoreError> {
    match order {
        // A pause or a cancel answers once the messages already with the relay are recorded, so
        // the page's counts are final and nothing more goes out after it shows them.
        Order::Pause => stop(store, number, Control::Pause).await,
        Order::Resume => store.control(number, Control::Resume).await,
        Order::Cancel => stop(store, number, Control::Cancel).await,
        Order::Reschedule(_) | Order::StartNow => {
            let c = store
                .campaign_by_number(number)
                .await?
                .ok_or(StoreError::NoCampaign(number))?;
            if c.state != CampaignState::Scheduled {
                return Err(StoreError::WrongState {
                    number,
                    state: c.state,
                    hint: "only a scheduled issue can be moved".into(),
                });
            }
            let at = match order {
                Order::Reschedule(at) => Some(at),
                _ => None,
            };
            store.reschedule(c.id, at).await
        }
    }
}

/// How long the console waits for in-flight messages after a pause or a cancel: below the server's
/// per-request time limit; a worker that has not answered by then has died (its rows go back when
/// their lease ends, and nothing is sent while the issue is paused or cancelled).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(8);

async fn stop(store: &Store, number: i64, action: Control) -> Result<Campaign, StoreError> {
    crate::send::control::apply(store, number, action, SETTLE)
        .await
        .map(|done| done.campaign)
}

/// Readers who have not got the issue and still might (waiting, being sent, to be tried again).
pub fn not_yet(c: &DeliveryCounts) -> i64 {
    c.queued + c.sending + c.deferred
}

fn readers(n: i64) -> String {
    if n == 1 {
        "1 reader".into()
    } else {
        format!("{} readers", thousands(n))
    }
}

/// What the order will do, in a sentence with its numbers.
fn consequence(state: &AppState, c: &Campaign, counts: &DeliveryCounts, order: Order) -> Markup {
    let n = c.issue_number;
    let waiting = readers(not_yet(counts));
    let sent = thousands(counts.sent);
    html! {
        @match order {
            Order::Pause => {
                p { "No new message of issue " (n) " will start. " (sent) " have been sent; "
                    (waiting) " are still waiting and get it when you resume." }
                p { "Messages already being handed to a mail server finish; the page shows the final counts." }
            }
            Order::Resume => p { "Sending issue " (n) " goes on: " (waiting) " are waiting for it. "
                "It goes out while the sending program (" em { "worker" } ") runs." },
            Order::Cancel => {
                p { strong { (capitalised(&waiting)) " will not get issue " (n) "." } " " (sent) " already have it." }
                p { "This cannot be undone: a cancelled issue cannot be resumed." }
            }
            Order::Reschedule(at) => p { "Issue " (n) " will go out on " strong { (when(state, at)) } " to "
                (waiting) " instead of on " (c.scheduled_at.map_or("-".to_string(), |t| when(state, t))) "." },
            Order::StartNow => p { "Issue " (n) " starts now instead of on "
                (c.scheduled_at.map_or("-".to_string(), |t| when(state, t))) ": " (waiting)
                " get it while the sending program (" em { "worker" } ") runs." },
        }
    }
}

fn title(order: Order, n: i64) -> String {
    match order {
        Order::Pause => format!("Pause issue {n}?"),
        Order::Resume => format!("Resume issue {n}?"),
        Order::Cancel => format!("Cancel issue {n}?"),
        Order::Reschedule(_) => format!("Move issue {n} to another time?"),
        Order::StartNow => format!("Send issue {n} now?"),
    }
}

fn button(order: Order, n: i64) -> String {
    match order {
        Order::Pause => format!("Pause issue {n}"),
        Order::Resume => format!("Resume issue {n}"),
        Order::Cancel => format!("Cancel issue {n}"),
        Order::Reschedule(_) => format!("Move issue {n}"),
        Order::StartNow => format!("Send issue {n} now"),
    }
}

/// The control buttons of a campaign page, for an administrator: each leads to its confirmation.
pub fn controls(state: &AppState, c: &Campaign) -> Markup {
    let n = c.issue_number;
    let s = c.state;
    let go = |order: Order, label: &str| {
        html! {
            @if order.applies(s) {
                form method="get" action={ "/admin/campaigns/" (n) "/" (order.action()) } {
                    button type="submit" class=[(order == Order::Cancel).then_some("quiet")] { (label) }
                }
            }
        }
    };
    let default_at = c
        .scheduled_at
        .map(|t| local_value(state, t))
        .unwrap_or_default();
    html! {
        @if [Order::Pause, Order::Resume, Order::Cancel, Order::StartNow].iter().any(|o| o.applies(s)) {
            h2 { "Control" }
            div class="actions" {
                (go(Order::StartNow, "Send now…"))
                (go(Order::Pause, "Pause…"))
                (go(Order::Resume, "Resume…"))
                (go(Order::Cancel, "Cancel the issue…"))
            }
            @if s == CampaignState::Scheduled {
                form method="get" action={ "/admin/campaigns/" (n) "/reschedule" } class="actions" {
                    p { label for="at" { "New time (" (zone_name(state)) ")" } br;
                        input id="at" name="at" type="datetime-local" value=(default_at) required; }
                    p { button type="submit" { "Move to this time…" } }
                }
            }
        }
    }
}

#[derive(serde::Deserialize, Default)]
pub struct ControlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    at: String,
}

/// Editors see a campaign's state, not its controls.
async fn admins_only(state: &AppState, signed: &Signed) -> Option<Response> {
    if signed.is_admin() {
        return None;
    }
    signed
        .audit(state, "refused: campaign control (editor)", None)
        .await;
    let body =
        html! { p { "Only administrators can pause, resume, cancel or schedule an issue." } };
    Some(
        (
            StatusCode::FORBIDDEN,
            admin_page(state, Some(signed), "Not allowed", body),
        )
            .into_response(),
    )
}

/// A refusal shown on a page of its own, with the way back.
fn refused(state: &AppState, signed: &Signed, n: i64, status: StatusCode, why: Markup) -> Response {
    let body = html! {
        (flash_error(why))
        p { a href={ "/admin/campaigns/" (n) } { "Back to issue " (n) } }
    };
    (
        status,
        admin_page(state, Some(signed), &format!("Issue {n}"), body),
    )
        .into_response()
}

/// Why an order does not apply to a campaign in state `s`.
fn wrong_state(n: i64, s: CampaignState, order: Order) -> Markup {
    html! {
        "issue " (n) " is " (campaign_state(s)) " now, so it cannot be "
        (match order {
            Order::Pause => "paused",
            Order::Resume => "resumed",
            Order::Cancel => "cancelled",
            Order::Reschedule(_) => "moved to another time",
            Order::StartNow => "started now",
        })
        ". Nothing was changed."
    }
}

/// Reads the order of a request, or the page that says why there is none.
fn order_of(
    state: &AppState,
    signed: &Signed,
    n: i64,
    action: &str,
    at: &str,
) -> Result<Order, Box<Response>> {
    let at = if action == "reschedule" {
        match parse_local(state, at) {
            Some(t) if t > crate::domain::unix_now() => Some(t),
            Some(_) => {
                return Err(Box::new(refused(
                    state,
                    signed,
                    n,
                    StatusCode::BAD_REQUEST,
                    html! { "that time has already passed. Choose a time in the future, or use " strong { "Send now" } "." },
                )));
            }
            None => {
                return Err(Box::new(refused(
                    state,
                    signed,
                    n,
                    StatusCode::BAD_REQUEST,
                    html! { "choose a date and a time for the issue." },
                )));
            }
        }
    } else {
        None
    };
    Order::parse(action, at).ok_or_else(|| Box::new(super::pages::not_found(state)))
}

/// `GET /admin/campaigns/{issue}/{action}?at=`: what the action will do, and the button that does it.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Path((n, action)): Path<(i64, String)>,
    Query(form): Query<ControlForm>,
) -> Response {
    if let Some(r) = admins_only(&state, &signed).await {
        return r;
    }
    let order = match order_of(&state, &signed, n, &action, &form.at) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let store = &state.store;
    let c = match store.campaign_by_number(n).await {
        Ok(Some(c)) => c,
        Ok(None) => return super::pages::not_found(&state),
        Err(e) => return unavailable(e),
    };
    if !order.applies(c.state) {
        return refused(
            &state,
            &signed,
            n,
            StatusCode::CONFLICT,
            wrong_state(n, c.state, order),
        );
    }
    let counts = match store.delivery_counts(c.id).await {
        Ok(k) => k,
        Err(e) => return unavailable(e),
    };
    let body = html! {
        p { "“" (c.subject) "”" }
        (consequence(&state, &c, &counts, order))
        form method="post" action={ "/admin/campaigns/" (n) "/" (order.action()) } class="actions" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            @if let Order::Reschedule(at) = order { input type="hidden" name="at" value=(local_value(&state, at)); }
            button type="submit" class=[(order == Order::Cancel).then_some("danger")] { (button(order, n)) }
            a href={ "/admin/campaigns/" (n) } { "Go back without changing anything" }
        }
    };
    admin_page(&state, Some(&signed), &title(order, n), body).into_response()
}

/// `POST /admin/campaigns/{issue}/{action}` (csrf, and `at` to reschedule): does it, audits it, and
/// shows the campaign with a flash.
pub async fn act(
    State(state): State<Arc<AppState>>,
    axum::Extension(signed): axum::Extension<Signed>,
    Path((n, action)): Path<(i64, String)>,
    Form(form): Form<ControlForm>,
) -> Response {
    if !signed.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &signed).await;
    }
    if let Some(r) = admins_only(&state, &signed).await {
        return r;
    }
    let order = match order_of(&state, &signed, n, &action, &form.at) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let store = &state.store;
    match control_campaign(store, n, order).await {
        Ok(c) => {
            let counts = store.delivery_counts(c.id).await.unwrap_or_default();
            let detail = match order {
                Order::Reschedule(at) => format!("issue {n} moved to {}", when(&state, at)),
                _ => format!(
                    "issue {n}: {} sent, {} not yet",
                    counts.sent,
                    not_yet(&counts)
                ),
            };
            signed
                .audit(&state, &format!("{} issue", order.action()), Some(&detail))
                .await;
            Redirect::to(&format!(
                "/admin/campaigns/{n}?done={}",
                order.done().code()
            ))
            .into_response()
        }
        Err(StoreError::NoCampaign(_)) => super::pages::not_found(&state),
        Err(StoreError::WrongState { state: s, .. }) => refused(
            &state,
            &signed,
            n,
            StatusCode::CONFLICT,
            wrong_state(n, s, order),
        ),
        Err(StoreError::Corrupt(_)) if matches!(order, Order::Reschedule(_) | Order::StartNow) => {
            refused(
                &state,
                &signed,
                n,
                StatusCode::CONFLICT,
                html! { "issue " (n) " changed while you were deciding (it may have started). Nothing was changed." },
            )
        }
        Err(e) => unavailable(e),
    }
}

/// The flash of a campaign page after an action, with the counts as they are now.
pub fn campaign_flash(
    state: &AppState,
    c: &Campaign,
    counts: &DeliveryCounts,
    done: Option<Done>,
) -> Markup {
    let n = c.issue_number;
    let sent = thousands(counts.sent);
    let waiting = readers(not_yet(counts));
    html! {
        @match done {
            Some(Done::Paused) => (flash(html! { p { strong { "Issue " (n) " is paused." } " " (sent) " sent; "
                (waiting) " waiting. Nothing more goes out until you resume it." } })),
            Some(Done::Resumed) => (flash(html! { p { strong { "Issue " (n) " is resumed." } " "
                (waiting) " still to get it." } })),
            Some(Done::Cancelled) => (flash(html! { p { strong { "Issue " (n) " is cancelled." } " " (sent) " sent; "
                (waiting) " will not get it." } })),
            Some(Done::Rescheduled) => (flash(html! { p { strong { "Issue " (n) " is moved" } " to "
                (c.scheduled_at.map_or("-".to_string(), |t| when(state, t))) "." } })),
            Some(Done::Started) => (flash(html! { p { strong { "Issue " (n) " is starting now." } " "
                (waiting) " waiting." } })),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_quotes() {
        assert_eq!(quoted("`x` is not `y`"), "“x” is not “y”");
        assert_eq!(quoted("none"), "none");
    }

    #[test]
    fn every_code_reads_back() {
        for d in Done::ALL {
            assert_eq!(Done::parse(d.code()), Some(d));
        }
        assert_eq!(Done::parse("<script>"), None);
    }

    #[test]
    fn an_undo_is_for_its_session_and_subscriber_and_once() {
        let u = Undos::default();
        u.offer("s1", 7, SubscriberStatus::Active);
        assert!(u.open("s1", 7));
        assert!(!u.open("s2", 7));
        assert!(!u.open("s1", 8));
        assert_eq!(u.take("s2", 7), None);
        assert_eq!(u.take("s1", 7), Some(SubscriberStatus::Active));
        assert_eq!(u.take("s1", 7), None);
    }

    #[test]
    fn orders_apply_where_the_store_allows_them() {
        use CampaignState::*;
        assert!(Order::Pause.applies(Sending) && Order::Pause.applies(Scheduled));
        assert!(!Order::Pause.applies(Paused) && !Order::Pause.applies(Done));
        assert!(Order::Resume.applies(Paused) && !Order::Resume.applies(Sending));
        assert!(Order::Cancel.applies(Paused) && !Order::Cancel.applies(Cancelled));
        assert!(Order::StartNow.applies(Scheduled) && !Order::StartNow.applies(Sending));
    }
}
