//! The live feed (issue 12): `GET /events`, Server-Sent Events for signed-in agents, and
//! `/assets/live.js`, which keeps open pages current with them.
//!
//! Source: PostgreSQL `LISTEN claimdesk_ticket` (`store::live`), notified at commit by
//! triggers whenever a ticket is created or changes or gains a message or note, whichever
//! process or surface made the change (chat, web, intake, the CLI). One listener connection
//! per process ([`Hub`]), started by the first viewer, fans out to every open page through a
//! tokio broadcast channel — never one database connection per browser. When the listener
//! loses its connection it reconnects (capped backoff) and tells every page to re-read
//! ([`Event::Resync`]), since notifications sent meanwhile are lost; a page too slow to keep
//! up with the channel gets the same.
//!
//! Events on the wire: `event: ticket` with `data: <number>` (the number only: no subject or
//! address travels), `event: resync` with empty data; a comment every 15 s keeps proxies
//! from closing the stream, and `retry: 1000` makes the browser reconnect within a second.
//! A signed-out request gets `401` and nothing else (EventSource then stops). An open stream
//! re-checks its session every [`SESSION_RECHECK`] and ends when it was signed out or
//! expired.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;
use tokio::sync::broadcast;

use super::session::Viewer;
use crate::web::WebState;

/// What the hub tells open pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The ticket with this number was created or changed.
    Ticket(String),
    /// Events may have been missed (the listener reconnected, or this page fell behind):
    /// re-read everything.
    Resync,
}

/// Events a slow page may fall behind by before it is told to [`Event::Resync`].
const CAPACITY: usize = 1024;

/// How often an open stream checks that its session is still valid (default of
/// [`Hub::with_session_recheck`]).
pub const SESSION_RECHECK: Duration = Duration::from_secs(60);

/// The process's one listener and its fan-out. Cheap to clone; the listener task starts on
/// the first [`Hub::subscribe`] and stops (within a minute) once every clone is dropped.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
    recheck: Duration,
}

struct Inner {
    pool: PgPool,
    tx: broadcast::Sender<Event>,
    started: Mutex<bool>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("receivers", &self.inner.tx.receiver_count())
            .finish()
    }
}

impl Hub {
    /// A hub listening through `pool`'s database (not connected until the first subscriber).
    pub fn new(pool: PgPool) -> Hub {
        let (tx, _) = broadcast::channel(CAPACITY);
        Hub {
            inner: Arc::new(Inner {
                pool,
                tx,
                started: Mutex::new(false),
            }),
            recheck: SESSION_RECHECK,
        }
    }

    /// The same hub, its streams re-checking their session every `every` (default
    /// [`SESSION_RECHECK`]; tests shorten it).
    pub fn with_session_recheck(mut self, every: Duration) -> Hub {
        self.recheck = every.max(Duration::from_millis(100));
        self
    }

    /// A receiver of every event from now on; starts the listener task on first use (must be
    /// called inside a tokio runtime).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        let rx = self.inner.tx.subscribe();
        let mut started = match self.inner.started.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !*started {
            *started = true;
            tokio::spawn(listen(Arc::downgrade(&self.inner), self.inner.pool.clone()));
        }
        rx
    }

    /// Pages currently subscribed (for tests and metrics).
    pub fn receivers(&self) -> usize {
        self.inner.tx.receiver_count()
    }
}

/// The listener task: LISTEN, forward every notification, reconnect on loss (1 s doubling to
/// 30 s), stop when the hub is gone.
async fn listen(hub: Weak<Inner>, pool: PgPool) {
    let mut backoff = Duration::from_secs(1);
    let mut connected_before = false;
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        let mut listener = match crate::store::live::listen(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live feed: cannot LISTEN; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        if connected_before {
            send(&hub, Event::Resync);
        }
        connected_before = true;
        loop {
            tokio::select! {
                r = listener.try_recv() => match r {
                    Ok(Some(n)) => {
                        if !send(&hub, Event::Ticket(n.payload().to_string())) {
                            return;
                        }
                    }
                    // The connection was lost; the next try_recv reconnects and LISTENs
                    // again. What was sent meanwhile is lost: pages re-read.
                    Ok(None) => {
                        tracing::warn!("live feed: LISTEN connection lost; reconnecting");
                        if !send(&hub, Event::Resync) {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live feed: LISTEN failed; reconnecting");
                        tokio::time::sleep(backoff).await;
                        break;
                    }
                },
                _ = tokio::time::sleep(Duration::from_secs(30)) => {
                    if hub.strong_count() == 0 {
                        return;
                    }
                }
            }
        }
    }
}

/// Sends `ev` to every subscriber; `false` when the hub is gone.
fn send(hub: &Weak<Inner>, ev: Event) -> bool {
    match hub.upgrade() {
        Some(inner) => {
            // No subscriber is not an error: nobody has a page open.
            let _ = inner.tx.send(ev);
            true
        }
        None => false,
    }
}

/// `GET /events`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/events", get(events))
        .route("/assets/live.js", get(live_js))
}

/// The wire form of `ev`.
fn sse(ev: Event) -> SseEvent {
    match ev {
        Event::Ticket(number) => SseEvent::default().event("ticket").data(number),
        Event::Resync => SseEvent::default().event("resync").data(""),
    }
}

/// `GET /events`: the stream for a signed-in agent, `401` for anyone else.
async fn events(State(s): State<WebState>, viewer: Option<Viewer>) -> Response {
    let Some(viewer) = viewer else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CACHE_CONTROL, "no-store")],
            "",
        )
            .into_response();
    };
    let rx = s.live.subscribe();
    let first = SseEvent::default()
        .retry(Duration::from_millis(1000))
        .comment("live");
    let every = s.live.recheck;
    let state = Stream {
        rx,
        web: s,
        viewer,
        first: Some(first),
        every,
        recheck: tokio::time::Instant::now() + every,
    };
    let stream = futures::stream::unfold(state, next_event);
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
        .into_response()
}

struct Stream {
    rx: broadcast::Receiver<Event>,
    web: WebState,
    viewer: Viewer,
    first: Option<SseEvent>,
    every: Duration,
    recheck: tokio::time::Instant,
}

/// The stream's next event; `None` ends it (session gone, or the hub closed).
async fn next_event(mut st: Stream) -> Option<(Result<SseEvent, Infallible>, Stream)> {
    if let Some(first) = st.first.take() {
        return Some((Ok(first), st));
    }
    loop {
        tokio::select! {
            r = st.rx.recv() => {
                let ev = match r {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(_)) => Event::Resync,
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                return Some((Ok(sse(ev)), st));
            }
            _ = tokio::time::sleep_until(st.recheck) => {
                if !still_signed_in(&st.web, &st.viewer).await {
                    return None;
                }
                st.recheck = tokio::time::Instant::now() + st.every;
            }
        }
    }
}

/// Whether `viewer`'s session is still live (not signed out, not expired, agent active). A
/// database failure counts as live: the stream is not cut for a hiccup, the next check
/// decides.
async fn still_signed_in(web: &WebState, viewer: &Viewer) -> bool {
    let Ok(mut conn) = web.desk.pool().acquire().await else {
        return true;
    };
    match crate::store::web_sessions::find(&mut conn, &viewer.session_hash).await {
        Ok(found) => found.is_some_and(|s| s.agent.id == viewer.agent.id),
        Err(_) => true,
    }
}

const LIVE_JS: &str = include_str!("assets/live.js");

/// `GET /assets/live.js`: the script, with the words it shows (`desk::messages::web`)
/// spliced in as JSON.
async fn live_js() -> impl IntoResponse {
    let words = serde_json::json!({
        "updated": crate::desk::messages::web::LIVE_LIST_UPDATED,
        "new_one": crate::desk::messages::web::LIVE_NEW_ONE,
        "new_many": crate::desk::messages::web::LIVE_NEW_MANY,
        "ticket_updated": crate::desk::messages::web::LIVE_TICKET_UPDATED,
    });
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        LIVE_JS.replacen("{/*WORDS*/}", &words.to_string(), 1),
    )
}
