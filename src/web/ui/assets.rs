//! The stylesheet and script of the web view, compiled into the binary (`include_str!`)
//! and served by claimdesk itself: no CDN, no build step. `/assets/app.css`,
//! `/assets/app.js`; `/assets/live.js` is the live feed's (`super::live`).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::web::WebState;

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

/// Assets are cached for an hour (they change only with a new build).
const CACHE: &str = "public, max-age=3600";

/// `GET /assets/app.css`, `GET /assets/app.js`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/assets/app.css", get(app_css))
        .route("/assets/app.js", get(app_js))
}

async fn app_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        APP_CSS,
    )
}

async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        APP_JS,
    )
}
