//! The agents' pages: `/` (to My tickets), the lists `/tickets/mine`, `/tickets/unassigned`,
//! `/tickets/all`, one ticket `/tickets/{number}` with its attachments and actions, and
//! `/workload`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::html;

use super::layout::{page, page_live, Live};
use super::session::Viewer;
use crate::desk::messages::web as words;
use crate::web::WebState;

/// The pages' routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home))
        .route("/tickets/mine", get(mine))
        .route("/tickets/unassigned", get(unassigned))
        .route("/tickets/all", get(all))
        .route("/tickets/{number}", get(ticket))
        .route("/workload", get(workload))
}

async fn home(_v: Viewer) -> Response {
    Redirect::to("/tickets/mine").into_response()
}

async fn mine(v: Viewer) -> Response {
    list(v, "mine").await
}

async fn unassigned(v: Viewer) -> Response {
    list(v, "unassigned").await
}

async fn all(v: Viewer) -> Response {
    list(v, "all").await
}

async fn list(v: Viewer, which: &str) -> Response {
    page_live(
        words::list_title(which),
        Some(&v),
        Live::List,
        html! { p { (words::LIST_EMPTY) } },
    )
    .into_response()
}

async fn ticket(State(_s): State<WebState>, v: Viewer, Path(number): Path<String>) -> Response {
    page_live(&number, Some(&v), Live::Ticket(&number), html! {}).into_response()
}

async fn workload(v: Viewer) -> Response {
    page(words::NAV[4], Some(&v), html! {}).into_response()
}
