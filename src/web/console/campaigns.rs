//! The console's campaigns: every issue with its state and counts, one issue's deliveries per state
//! and per provider with the top failure reasons (addresses masked: editors read them), and the
//! control of an issue (schedule again, send now, pause, resume, cancel), each behind a
//! confirmation page that says what will happen in numbers. Every account sees the issues; the
//! controls are for whom [`CAMPAIGN_CONTROL`] admits, and only they see the buttons.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::auth::{CarriesCsrf, Posted, Signed};
use super::flash::{Done, DoneQuery, flash, flash_error};
use super::words::{
    campaign_state, capitalised, local_value, parse_local, when, without_addresses, zone_name,
};
use super::{CAMPAIGN_CONTROL, page, unavailable};
use crate::domain::CampaignState;
use crate::store::{Campaign, Control, DeliveryCounts, Store, StoreError};
use crate::web::AppState;
use crate::web::pages::{auto_refresh, not_found, scroll, thousands};

/// `GET /admin/campaigns`: every campaign with its state and counts.
pub async fn list(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let list = match crate::send::campaign::overview(&state.store).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    let body = html! {
        @if list.is_empty() { p { "No issue has been sent or scheduled yet." } } @else {
            (campaign_table(&state, list.iter()))
        }
    };
    page(&state, Some(&signed), "Issues", body).into_response()
}

/// `GET /admin/campaigns/{issue}`: counts per state and per provider, top failure reasons. While it
/// sends, the page reloads itself every 5 seconds (the pages' small script; without it, a link).
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(issue): Path<i64>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let store = &state.store;
    let data = async {
        let Some(c) = store.campaign_by_number(issue).await? else {
            return Ok(None);
        };
        let counts = store.delivery_counts(c.id).await?;
        let providers = store.provider_counts(c.id).await?;
        let reasons = store.failure_reasons(c.id, 10).await?;
        let pause_reason = store.pause_reason(c.id).await?;
        Ok::<_, crate::store::StoreError>(Some((c, counts, providers, reasons, pause_reason)))
    }
    .await;
    let (c, counts, providers, reasons, pause_reason) = match data {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(&state),
        Err(e) => return unavailable(e),
    };
    let live = matches!(
        c.state,
        crate::domain::CampaignState::Sending | crate::domain::CampaignState::Scheduled
    );
    let t = |v: Option<i64>| v.map_or("-".to_string(), |t| when(&state, t));
    let outcome = counts.sent + counts.failed + counts.skipped + counts.deferred;
    let watch = crate::send::complaints::ComplaintWatch::from_config(&state.config.send.complaints);
    let over_limit = watch.verdict(&providers).filter(|_| pause_reason.is_none());
    let body = html! {
        (campaign_flash(&state, &c, &counts, done.done()))
        p { "“" (c.subject) "”" }
        @if live { (auto_refresh()) }
        dl class="facts" {
            dt { "State" } dd { (campaign_state(c.state)) }
            @if let Some(reason) = &pause_reason {
                dt { "Why" }
                dd role="status" {
                    strong { "Paused itself: " } (without_addresses(reason))
                    " Nobody was suppressed. Once the cause is fixed, "
                    @if signed.may(CAMPAIGN_CONTROL) { "press Resume below." } @else { "an administrator can resume it." }
                    details { summary { "From a terminal" } p { code { "newsletter resume " (c.issue_number) } } }
                }
            }
            @if let Some(v) = &over_limit {
                dt { "Complaints" }
                dd role="status" { strong { "Over the complaint limit: " } (v) }
            }
            @if c.scheduled_at.is_some() { dt { "Scheduled for" } dd { (t(c.scheduled_at)) } }
            dt { "Prepared" } dd { (t(Some(c.created_at))) }
            dt { "Started" } dd { (t(c.started_at)) }
            dt { "Finished" } dd { (t(c.finished_at)) }
        }
        @if signed.may(CAMPAIGN_CONTROL) { (controls(&state, &c)) }
        h2 { "Deliveries" }
        p {
            progress max=(counts.total().max(1)) value=(outcome) aria-label="Progress" {}
            " " (thousands(outcome)) " of " (thousands(counts.total())) " have an outcome"
        }
        (scroll("Deliveries", html! { table class="cards" {
            thead { tr {
                th scope="col" class="n" { "Sent" } th scope="col" class="n" { "Failed" } th scope="col" class="n" { "To try again" }
                th scope="col" class="n" { "Not sent" } th scope="col" class="n" { "Waiting" } th scope="col" class="n" { "Being sent" }
            } }
            tbody { tr {
                td class="n" data-label="Sent" { (thousands(counts.sent)) } td class="n" data-label="Failed" { (thousands(counts.failed)) } td class="n" data-label="To try again" { (thousands(counts.deferred)) }
                td class="n" data-label="Not sent" { (thousands(counts.skipped)) } td class="n" data-label="Waiting" { (thousands(counts.queued)) } td class="n" data-label="Being sent" { (thousands(counts.sending)) }
            } }
        } }))
        p { small { "“Not sent”: readers who left the list before their turn came. "
            "“To try again”: the reader's server asked us to come back later." } }
        h2 { "Per provider" }
        (scroll("Per provider", html! { table class="cards" {
            thead { tr {
                th scope="col" { "Provider" } th scope="col" class="n" { "Sent" } th scope="col" class="n" { "Waiting" }
                th scope="col" class="n" { "Failed" } th scope="col" class="n" { "Asked us to slow down" }
                th scope="col" class="n" { "Marked as spam" } th scope="col" { "Pace" }
            } }
            tbody {
                @for p in &providers {
                    tr {
                        td data-label="Provider" { (p.provider) }
                        td class="n" data-label="Sent" { (thousands(p.counts.sent)) }
                        td class="n" data-label="Waiting" { (thousands(p.counts.queued + p.counts.sending)) }
                        td class="n" data-label="Failed" { (thousands(p.counts.failed)) }
                        td class="n" data-label="Asked us to slow down" { (thousands(p.throttled)) }
                        td class="n" data-label="Marked as spam" {
                            (thousands(p.complaints))
                            @if let (true, Some(r)) = (p.complaints > 0, p.complaint_percent()) { " (" (format!("{r:.2}")) "%)" }
                        }
                        td data-label="Pace" { (p.rate.map_or("no limit of its own".to_string(), |r| format!("{r:.1} a second"))) }
                    }
                }
            }
        } }))
        p { small { "“Marked as spam”: readers who complained about this issue (Gmail asks senders to stay below 0.3%). "
            "When it reaches " (watch.percent) "% at one provider after " (thousands(watch.min_deliveries)) " messages there, "
            "an issue still being sent pauses itself." } }
        h2 { "Top failure reasons" }
        @if reasons.is_empty() { p { "None." } } @else {
            (scroll("Top failure reasons", html! { table class="cards" {
                thead { tr { th scope="col" class="n" { "Readers" } th scope="col" { "What the receiving server said" } } }
                tbody { @for (r, n) in &reasons { tr { td class="n" data-label="Readers" { (thousands(*n)) } td data-label="What the receiving server said" { (without_addresses(r)) } } } }
            } }))
        }
    };
    page(
        &state,
        Some(&signed),
        &format!("Issue {}", c.issue_number),
        body,
    )
    .into_response()
}

/// A table of issues: each row a link to its page, with its state, its date and its counts.
pub(super) fn campaign_table<'a>(
    state: &AppState,
    list: impl Iterator<Item = &'a crate::send::campaign::Overview>,
) -> Markup {
    scroll(
        "Issues",
        html! { table class="cards" {
            thead { tr {
                th scope="col" { "Issue" } th scope="col" { "State" } th scope="col" { "When" }
                th scope="col" class="n" { "Sent" } th scope="col" class="n" { "Not yet" } th scope="col" class="n" { "Failed" }
            } }
            tbody {
                @for o in list {
                    @let c = &o.campaign;
                    tr {
                        td data-label="Issue" { a href={ "/admin/campaigns/" (c.issue_number) } { "Issue " (c.issue_number) } br; small { (c.subject) } }
                        td data-label="State" { (campaign_state(c.state)) }
                        td data-label="When" { (campaign_date(state, c)) }
                        td class="n" data-label="Sent" { (thousands(o.counts.sent)) }
                        td class="n" data-label="Not yet" { (thousands(not_yet(&o.counts))) }
                        td class="n" data-label="Failed" { (thousands(o.counts.failed)) }
                    }
                }
            }
        } },
    )
}

/// The one date that says most about a campaign in its state.
fn campaign_date(state: &AppState, c: &crate::store::Campaign) -> String {
    use crate::domain::CampaignState::*;
    let (what, at) = match c.state {
        Done | Cancelled => (
            if c.state == Done {
                "finished"
            } else {
                "cancelled"
            },
            c.finished_at,
        ),
        Sending | Paused => ("started", c.started_at),
        Scheduled => ("due", c.scheduled_at),
        Created => ("prepared", Some(c.created_at)),
    };
    at.map_or(String::new(), |t| format!("{what} {}", when(state, t)))
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

/// A control's form (and its confirmation's query): the CSRF token, and the new time to reschedule.
#[derive(serde::Deserialize, Default)]
pub struct ControlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    at: String,
}

impl CarriesCsrf for ControlForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A refusal shown on a page of its own, with the way back.
fn refused(state: &AppState, signed: &Signed, n: i64, status: StatusCode, why: Markup) -> Response {
    let body = html! {
        (flash_error(why))
        p { a href={ "/admin/campaigns/" (n) } { "Back to issue " (n) } }
    };
    (
        status,
        page(state, Some(signed), &format!("Issue {n}"), body),
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
    Order::parse(action, at).ok_or_else(|| Box::new(not_found(state)))
}

/// `GET /admin/campaigns/{issue}/{action}?at=`: what the action will do, and the button that does it.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((n, action)): Path<(i64, String)>,
    Query(form): Query<ControlForm>,
) -> Response {
    let order = match order_of(&state, &signed, n, &action, &form.at) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let store = &state.store;
    let c = match store.campaign_by_number(n).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(&state),
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
    page(&state, Some(&signed), &title(order, n), body).into_response()
}

/// `POST /admin/campaigns/{issue}/{action}` (csrf, and `at` to reschedule): does it, audits it, and
/// shows the campaign with a flash.
pub async fn act(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((n, action)): Path<(i64, String)>,
    Posted(form): Posted<ControlForm>,
) -> Response {
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
        Err(StoreError::NoCampaign(_)) => not_found(&state),
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
    fn orders_apply_where_the_store_allows_them() {
        use CampaignState::*;
        assert!(Order::Pause.applies(Sending) && Order::Pause.applies(Scheduled));
        assert!(!Order::Pause.applies(Paused) && !Order::Pause.applies(Done));
        assert!(Order::Resume.applies(Paused) && !Order::Resume.applies(Sending));
        assert!(Order::Cancel.applies(Paused) && !Order::Cancel.applies(Cancelled));
        assert!(Order::StartNow.applies(Scheduled) && !Order::StartNow.applies(Sending));
    }
}
