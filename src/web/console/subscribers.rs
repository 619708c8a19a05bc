//! The console's subscribers (admins only: see the route table): search by address or name, one
//! subscriber's status history, deliveries and bounces, and the changes an administrator may make:
//! unsubscribe (which their session may undo for a while), resubscribe a bounced address, forget.
//! Every view and change is audited; someone who left the list themselves can only come back by
//! signing up again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::auth::{CsrfForm, Posted, Signed};
use super::flash::{Done, DoneQuery, flash, flash_error};
use super::words::{bounce_class, delivery_state, subscriber_status, when};
use super::{page, unavailable};
use crate::domain::SubscriberStatus;
use crate::web::AppState;
use crate::web::pages::{not_found, scroll};

#[derive(serde::Deserialize)]
pub struct SubscriberQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: i64,
}

/// `GET /admin/subscribers?q=&status=&after=`: search by address or name (any part of either),
/// filter by status, 50 per page in id order (keyset: `after` is the last id shown).
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<SubscriberQuery>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let status = SubscriberStatus::parse(&q.status).ok();
    let rows = match state.store.search(&q.q, status, q.after.max(0), 50).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    signed
        .audit(&state, "searched subscribers", Some(&q.q))
        .await;
    let next = (rows.len() == 50)
        .then(|| rows.last().map(|s| s.id))
        .flatten();
    let short = (1..3).contains(&q.q.trim().chars().count());
    let body = html! {
        @if done.done() == Some(Done::Forgotten) {
            (flash(html! { p { strong { "The subscriber is forgotten." } " Their address and name are erased." } }))
        }
        form method="get" action="/admin/subscribers" role="search" class="actions" {
            p {
                label for="q" { "Address or name contains" } br;
                input id="q" name="q" type="search" value=(q.q) aria-describedby="q-hint";
            }
            p {
                label for="status" { "Status" } br;
                select id="status" name="status" {
                    option value="" selected[status.is_none()] { "any" }
                    @for s in SubscriberStatus::ALL {
                        option value=(s.as_str()) selected[status == Some(s)] { (subscriber_status(s)) }
                    }
                }
            }
            p { button type="submit" { "Search" } }
        }
        p id="q-hint" { small {
            @if short { strong { "Only the start of addresses was searched. " } }
            "One or two characters find addresses that begin with them; three or more find any part of an address or a name. "
            "Capitals and accents do not matter in names (Weiss finds Weiß)."
        } }
        @if rows.is_empty() { p { "Nobody matches." } } @else {
            (scroll("Subscribers found", html! { table {
                thead { tr { th scope="col" { "Address" } th scope="col" { "Name" } th scope="col" { "Status" } } }
                tbody {
                    @for s in &rows {
                        tr {
                            td { a href={ "/admin/subscribers/" (s.id) } { (s.email.as_str()) } }
                            td { (s.name.as_deref().unwrap_or("")) }
                            td { (subscriber_status(s.status)) }
                        }
                    }
                }
            } }))
        }
        @if let Some(n) = next {
            p { a href={ "/admin/subscribers?q=" (encode(&q.q)) "&status=" (encode(&q.status)) "&after=" (n) } { "Next page" } }
        }
    };
    page(&state, Some(&signed), "Subscribers", body).into_response()
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Which status changes the console offers for a status: unsubscribe from pending or active; back
/// to active only from bounced (the address works again). Someone who unsubscribed or complained
/// withdrew consent: only they can come back, by signing up.
fn may_resubscribe(s: SubscriberStatus) -> bool {
    s == SubscriberStatus::Bounced
}

fn may_unsubscribe(s: SubscriberStatus) -> bool {
    matches!(s, SubscriberStatus::Active | SubscriberStatus::Pending)
}

/// `GET /admin/subscribers/{id}`: status history, deliveries and bounces, and the actions.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<i64>,
    Query(done): Query<DoneQuery>,
) -> Response {
    let store = &state.store;
    let data = async {
        let Some(s) = store.find_by_id(id).await? else {
            return Ok(None);
        };
        let history = store.history(id).await?;
        let deliveries = store.deliveries_of(id, 50).await?;
        let bounces = store.bounces(0, Some(id), 50).await?;
        let campaigns = store.campaigns().await?;
        Ok::<_, crate::store::StoreError>(Some((s, history, deliveries, bounces, campaigns)))
    }
    .await;
    let (s, history, deliveries, bounces, campaigns) = match data {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(&state),
        Err(e) => return unavailable(e),
    };
    signed
        .audit(
            &state,
            "viewed a subscriber",
            Some(&format!("subscriber {id}")),
        )
        .await;
    let csrf = &signed.session.csrf;
    // A delivery the reader's server took and that came back later: its bounce, by campaign.
    let issue_of = |campaign: Option<i64>| {
        campaign.and_then(|cid| {
            campaigns
                .iter()
                .find(|c| c.id == cid)
                .map(|c| c.issue_number)
        })
    };
    let bounced_later = |issue: i64, delivered: bool, sent_at: Option<i64>| {
        bounces.iter().find(|b| {
            delivered
                && b.kind != crate::domain::BounceClass::None
                && issue_of(b.campaign_id) == Some(issue)
                && sent_at.is_none_or(|t| b.received_at >= t)
        })
    };
    let may_undo = done.done() == Some(Done::Unsubscribed)
        && s.status == SubscriberStatus::Unsubscribed
        && state.console.undos.open(signed.session_key(), id);
    let body = html! {
        @match done.done() {
            Some(Done::Unsubscribed) => (flash(html! {
                p { strong { (s.email.as_str()) " is unsubscribed." } " They get no further issue." }
                @if may_undo {
                    form method="post" action={ "/admin/subscribers/" (id) "/undo" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Undo" }
                    }
                    p { small { "A mistake? Undo puts them back as they were, within 15 minutes, in this session." } }
                }
            })),
            Some(Done::Resubscribed) => (flash(html! { p { strong { (s.email.as_str()) " is active again." } } })),
            Some(Done::Undone) => (flash(html! { p { strong { "Undone: " (s.email.as_str()) " is " (subscriber_status(s.status)) " again." } } })),
            _ => {}
        }
        p { strong { (s.email.as_str()) } @if let Some(n) = &s.name { " (" (n) ")" } ": " (s.status.as_str()) }
        h2 { "Actions" }
        div class="actions" {
            @if may_unsubscribe(s.status) {
                form method="post" action={ "/admin/subscribers/" (id) "/unsubscribe" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Unsubscribe" }
                }
            }
            @if may_resubscribe(s.status) {
                form method="post" action={ "/admin/subscribers/" (id) "/resubscribe" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Resubscribe" }
                }
            }
            p { a href={ "/admin/subscribers/" (id) "/forget" } { "Forget this subscriber…" } }
        }
        h2 { "Status history" }
        (scroll("Status history", html! { table class="cards" {
            thead { tr { th scope="col" { "When" } th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Why" } } }
            tbody {
                @for e in &history {
                    tr {
                        td data-label="When" { (when(&state, e.at)) }
                        td data-label="From" { (e.old_status.map_or("-", subscriber_status)) }
                        td data-label="To" { (subscriber_status(e.new_status)) }
                        td data-label="Why" {
                            (change_source(e.source))
                            @if let Some(d) = &e.detail {
                                @let (plain, technical) = plain_detail(d, &campaigns);
                                ": " (plain)
                                @if let Some(t) = technical { details { summary { "Technical" } p { (t) } } }
                            }
                        }
                    }
                }
            }
        } }))
        h2 { "Deliveries" }
        @if deliveries.is_empty() { p { "None." } } @else {
            (scroll("Deliveries", html! { table class="cards" {
                thead { tr { th scope="col" { "Issue" } th scope="col" { "Outcome" } th scope="col" class="n" { "Attempts" } th scope="col" { "Last error" } } }
                tbody {
                    @for d in &deliveries {
                        tr {
                            td data-label="Issue" { a href={ "/admin/campaigns/" (d.issue_number) } { "Issue " (d.issue_number) } }
                            td data-label="Outcome" {
                                @if let Some(b) = bounced_later(d.issue_number, d.state == "sent", d.sent_at) {
                                    strong { "bounced" } ": " (bounce_class(b.kind)) " on " (when(&state, b.received_at))
                                    br; small { "Their server first accepted it"
                                        @if let Some(t) = d.sent_at { " (" (when(&state, t)) ")" }
                                        ", then sent it back." }
                                } @else {
                                    (delivery_state(&d.state))
                                }
                            }
                            td class="n" data-label="Attempts" { (d.attempts) }
                            td data-label="Last error" { (d.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } }))
        }
        h2 { "Bounces" }
        @if bounces.is_empty() { p { "None." } } @else {
            (scroll("Bounces", html! { table class="cards" {
                thead { tr { th scope="col" { "When" } th scope="col" { "Issue" } th scope="col" { "What happened" } th scope="col" { "Details" } } }
                tbody {
                    @for b in &bounces {
                        tr {
                            td data-label="When" { (when(&state, b.received_at)) }
                            td data-label="Issue" { @if let Some(n) = issue_of(b.campaign_id) { "Issue " (n) } @else { "-" } }
                            td data-label="What happened" { strong { (bounce_class(b.kind)) } @if let Some(r) = b.reason { ": " (r.explain()) } }
                            td data-label="Details" {
                                details {
                                    summary { "Evidence" }
                                    @if let Some(d) = &b.diagnostic { p { "The server said: " (d) } }
                                    p { small { "Technical: status " code { (b.status.as_deref().unwrap_or("-")) }
                                        ", source " code { (b.source.as_str()) } "." } }
                                }
                            }
                        }
                    }
                }
            } }))
        }
    };
    page(&state, Some(&signed), "Subscriber", body).into_response()
}

/// `GET /admin/subscribers/{id}/forget`: the confirmation step.
pub async fn forget_form(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<i64>,
) -> Response {
    let s = match state.store.find_by_id(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(&state),
        Err(e) => return unavailable(e),
    };
    let body = html! {
        p { "Forgetting " strong { (s.email.as_str()) } " erases the address, name and token for good. "
            "Only a salted hash stays, so that an import cannot add the address again unnoticed. This cannot be undone." }
        form method="post" action={ "/admin/subscribers/" (id) "/forget" } {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            p { button type="submit" { "Forget " (s.email.as_str()) } }
        }
        p { a href={ "/admin/subscribers/" (id) } { "Cancel" } }
    };
    page(&state, Some(&signed), "Forget a subscriber", body).into_response()
}

/// `POST /admin/subscribers/{id}/forget`, after its confirmation page.
pub async fn forget(
    state: State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<i64>,
    form: Posted<CsrfForm>,
) -> Response {
    act(state, signed, Path((id, "forget".to_string())), form).await
}

/// `POST /admin/subscribers/{id}/{unsubscribe|resubscribe|undo|forget}`.
pub async fn act(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((id, action)): Path<(i64, String)>,
    _: Posted<CsrfForm>,
) -> Response {
    let store = &state.store;
    let s = match store.find_by_id(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(&state),
        Err(e) => return unavailable(e),
    };
    let detail = format!("by {} in the console", signed.email());
    let back = |done: Done| format!("/admin/subscribers/{id}?done={}", done.code());
    let done = match action.as_str() {
        "unsubscribe" if may_unsubscribe(s.status) => {
            let r = store
                .change_status(
                    &s,
                    SubscriberStatus::Unsubscribed,
                    crate::domain::Source::Admin,
                    &detail,
                )
                .await;
            if r.is_ok() {
                state
                    .console
                    .undos
                    .offer(signed.session_key(), id, s.status);
            }
            r.map(|_| back(Done::Unsubscribed))
        }
        "resubscribe" if may_resubscribe(s.status) => store
            .change_status(
                &s,
                SubscriberStatus::Active,
                crate::domain::Source::Admin,
                &detail,
            )
            .await
            .map(|_| back(Done::Resubscribed)),
        // The administrator's own mistake, taken back: no consent of the reader is needed, because
        // the reader never gave the unsubscribe either.
        "undo" => {
            let previous = (s.status == SubscriberStatus::Unsubscribed)
                .then(|| state.console.undos.take(signed.session_key(), id))
                .flatten();
            let Some(previous) = previous else {
                let body = html! {
                    (flash_error(html! {
                        "this unsubscribe can no longer be undone here (after 15 minutes, in another session, or once the subscriber changed again). "
                        "Only the reader can sign up again."
                    }))
                    p { a href={ "/admin/subscribers/" (id) } { "Back to the subscriber" } }
                };
                return (
                    StatusCode::CONFLICT,
                    page(&state, Some(&signed), "Not undone", body),
                )
                    .into_response();
            };
            store
                .change_status(
                    &s,
                    previous,
                    crate::domain::Source::Admin,
                    &format!(
                        "undo by {} of their own unsubscribe in the console",
                        signed.email()
                    ),
                )
                .await
                .map(|_| back(Done::Undone))
        }
        "forget" => match &s.email {
            crate::store::StoredAddress::Valid(e) => store
                .forget(e, crate::domain::Source::Admin)
                .await
                .map(|_| format!("/admin/subscribers?done={}", Done::Forgotten.code())),
            crate::store::StoredAddress::Invalid { .. } => {
                return (StatusCode::CONFLICT, "this stored address cannot be parsed: forget it from a terminal with: newsletter subscribers forget\n").into_response();
            }
        },
        "unsubscribe" | "resubscribe" => {
            let body = html! {
                (flash_error(html! {
                    "that change is not allowed for a subscriber who is " (subscriber_status(s.status)) "."
                    @if s.status == SubscriberStatus::Unsubscribed || s.status == SubscriberStatus::Complained {
                        " They left the list themselves; only they can sign up again."
                    }
                }))
                p { a href={ "/admin/subscribers/" (id) } { "Back to the subscriber" } }
            };
            return (
                StatusCode::CONFLICT,
                page(&state, Some(&signed), "Not allowed", body),
            )
                .into_response();
        }
        _ => return not_found(&state),
    };
    match done {
        Ok(to) => {
            signed
                .audit(
                    &state,
                    &format!("{action} subscriber"),
                    Some(&format!("subscriber {id}")),
                )
                .await;
            Redirect::to(&to).into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// A status change's stored detail as the console says it: "campaign ID" (the database's id)
/// becomes "issue N", and the evidence in parentheses ("(smtp, attributed by delivery)") moves out
/// of the sentence, to be shown one click away.
fn plain_detail(detail: &str, campaigns: &[crate::store::Campaign]) -> (String, Option<String>) {
    let mut text = String::with_capacity(detail.len());
    let mut rest = detail;
    while let Some(at) = rest.find("campaign ") {
        let after = &rest[at + "campaign ".len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        text.push_str(&rest[..at]);
        match after[..digits]
            .parse::<i64>()
            .ok()
            .and_then(|id| campaigns.iter().find(|c| c.id == id))
        {
            Some(c) => text.push_str(&format!("issue {}", c.issue_number)),
            None => text.push_str(&rest[at..at + "campaign ".len() + digits]),
        }
        rest = &after[digits..];
    }
    text.push_str(rest);
    if let (Some(open), Some(close)) = (text.find(" ("), text.find(')'))
        && open < close
        && text[open..close].contains("attributed by")
    {
        let technical = text[open + 2..close].to_string();
        let plain = format!("{}{}", &text[..open], &text[close + 1..]);
        return (plain, Some(technical));
    }
    (text, None)
}

/// Who or what changed a subscriber, in words.
fn change_source(s: crate::domain::Source) -> &'static str {
    use crate::domain::Source::*;
    match s {
        Cli => "an operator, from a terminal",
        Web => "the reader, on the website",
        Api => "the admin API",
        Bounce => "a bounce or complaint",
        Import => "an import",
        Mail => "the reader, by e-mail",
        Admin => "an administrator, in the console",
    }
}

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

#[cfg(test)]
mod tests {
    use super::Undos;
    use crate::domain::SubscriberStatus;

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
}
