//! The HTTP API of Pingan: axum routes, session authentication, JSON errors,
//! and the OpenAPI document with a locally served viewer.
#![forbid(unsafe_code)]

pub mod auth;
pub mod categories;
pub mod error;
pub mod extract;
pub mod history;
pub mod imports;
pub mod indicators;
pub mod intake;
pub mod live;
pub mod matters;
pub mod mediation;
pub mod notify;
pub mod openapi;
pub mod overview;
pub mod patrols;
pub mod pdf;
pub mod photos;
pub mod portal;
pub mod rentals;
pub mod reports;
pub mod routes;
pub mod scheduler;
pub mod state;
pub mod views;
pub mod web;
pub mod xlsx;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::response::{Html, IntoResponse};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use state::{ApiConfig, AppState};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a per-process random prefix and a counter, unique without a
/// UUID dependency.
#[derive(Clone)]
struct SequentialRequestId {
    prefix: u32,
}

static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = NEXT_REQUEST.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The whole HTTP application, without the web front end.
pub fn router(state: AppState) -> Router {
    build_router(state, None)
}

/// The whole HTTP application with the embedded web front end: every path
/// outside `/api/` and `/healthz` is the app.
pub fn router_with_web(state: AppState, assets: web::Assets) -> Router {
    build_router(state, Some(assets))
}

fn build_router(state: AppState, assets: Option<web::Assets>) -> Router {
    let import_limit = state.config.import_body_limit;
    // A report with its photos in one multipart body.
    let photo_body =
        state.config.photo_limit * state.config.photos_per_request + state.config.body_limit;
    let api = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/locate", get(routes::locate))
        .route("/api/v1/regions/{code}", get(routes::region))
        .route(
            "/api/v1/regions/{code}/children",
            get(routes::region_children),
        )
        .route("/api/v1/grids", get(routes::grids))
        .route(
            "/api/v1/grids/import",
            post(routes::import_grids).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route("/api/v1/grids/{code}", get(routes::grid))
        .route(
            "/api/v1/units",
            get(routes::units).post(routes::create_unit),
        )
        .route("/api/v1/units/{id}", get(routes::unit))
        .route(
            "/api/v1/accounts",
            get(routes::accounts).post(routes::create_account),
        )
        .route(
            "/api/v1/accounts/{id}",
            get(routes::account).patch(routes::change_account),
        )
        .route("/api/v1/accounts/{id}/phone", get(routes::reveal_phone))
        .route(
            "/api/v1/matters",
            get(matters::list)
                .post(matters::create)
                .layer(DefaultBodyLimit::max(photo_body)),
        )
        .route("/api/v1/matters/counts", get(matters::counts))
        .route("/api/v1/matters/geojson", get(matters::geojson))
        .route("/api/v1/matters/{id}", get(matters::get))
        .route("/api/v1/matters/{id}/duplicates", get(matters::duplicates))
        .route("/api/v1/map/{code}", get(overview::map))
        .route("/api/v1/dashboard", get(overview::dashboard))
        .route("/api/v1/live", get(live::stream))
        .route("/api/v1/indicators", get(indicators::indicator_report))
        .route(
            "/api/v1/indicators/definitions",
            get(indicators::indicator_definitions),
        )
        .route("/api/v1/rankings", get(indicators::rankings))
        .route("/api/v1/reports", get(reports::list).post(reports::create))
        .route("/api/v1/reports/{id}", get(reports::one))
        .route("/api/v1/reports/{id}/pdf", get(reports::pdf_file))
        .route("/api/v1/reports/{id}/xlsx", get(reports::xlsx_file))
        .route("/api/v1/alerts", get(indicators::alerts))
        .route(
            "/api/v1/alert-settings",
            get(indicators::get_alert_settings).put(indicators::put_alert_settings),
        )
        .route("/api/v1/warnings", get(indicators::warnings))
        .route(
            "/api/v1/warning-rules",
            get(indicators::get_warning_rules).put(indicators::put_warning_rules),
        )
        .route(
            "/api/v1/composite-index",
            get(indicators::get_composite_index).put(indicators::put_composite_index),
        )
        .route("/api/v1/patrols", get(patrols::list).post(patrols::create))
        .route(
            "/api/v1/mediation/committees",
            get(mediation::committees).post(mediation::create_committee),
        )
        .route(
            "/api/v1/mediation/cases",
            get(mediation::list).post(mediation::create),
        )
        .route("/api/v1/mediation/stats", get(mediation::stats))
        .route("/api/v1/mediation/cases/{id}", get(mediation::get))
        .route("/api/v1/mediation/cases/{id}/actions", post(mediation::act))
        .route(
            "/api/v1/mediation/cases/{id}/parties",
            get(mediation::parties),
        )
        .route("/api/v1/mediation/cases/{id}/log", get(mediation::log))
        .route(
            "/api/v1/mediation/cases/{id}/agreement.pdf",
            get(mediation::agreement_pdf),
        )
        .route("/api/v1/patrols/{id}", get(patrols::get))
        .route(
            "/api/v1/matters/{id}/dispatch-options",
            get(matters::dispatch_options),
        )
        .route(
            "/api/v1/matters/{id}/photos/{sha256}",
            get(photos::download),
        )
        .route(
            "/api/v1/photos",
            post(photos::upload).layer(DefaultBodyLimit::max(state.config.photo_limit)),
        )
        .route("/api/v1/categories", get(categories::catalogue))
        .route("/api/v1/categories/{code}", put(categories::put_category))
        .route("/api/v1/matters/{id}/actions", post(matters::act))
        .route("/api/v1/matters/{id}/log", get(matters::log))
        .route("/api/v1/track/{code}", get(matters::track))
        .route("/api/v1/track/{code}/actions", post(portal::act))
        .route("/api/v1/public/codes", post(portal::send_code))
        .route("/api/v1/public/matters", post(portal::report))
        .route("/api/v1/inbox", get(matters::inbox))
        .route("/api/v1/notifications", get(notify::feed))
        .route("/api/v1/notifications/unread", get(notify::unread))
        .route("/api/v1/notifications/read", post(notify::mark_read))
        .route(
            "/api/v1/webhooks",
            get(notify::webhooks).post(notify::create_webhook),
        )
        .route("/api/v1/webhooks/{id}", delete(notify::deactivate_webhook))
        .route(
            "/api/v1/rentals/properties",
            get(rentals::properties).post(rentals::create_property),
        )
        .route("/api/v1/rentals/properties/{id}", get(rentals::property))
        .route(
            "/api/v1/rentals/properties/{id}/units",
            post(rentals::create_unit),
        )
        .route("/api/v1/rentals/units", get(rentals::units))
        .route(
            "/api/v1/rentals/units/{id}",
            get(rentals::unit).put(rentals::edit_unit),
        )
        .route("/api/v1/rentals/units/{id}/actions", post(rentals::act))
        .route(
            "/api/v1/rentals/units/{id}/inspections",
            get(rentals::inspections).post(rentals::inspect),
        )
        .route(
            "/api/v1/rentals/units/{id}/tenancies",
            get(rentals::tenancies).post(rentals::check_in),
        )
        .route(
            "/api/v1/rentals/units/{id}/photos/{sha256}",
            get(rentals::photo),
        )
        .route("/api/v1/rentals/units/{id}/qr.svg", get(rentals::qr_svg))
        .route(
            "/api/v1/rentals/units/{id}/qr.png",
            get(rentals::qr_png_route),
        )
        .route("/api/v1/rentals/rounds", get(rentals::rounds))
        .route(
            "/api/v1/rentals/tenancies/{id}/check-out",
            post(rentals::check_out),
        )
        .route("/api/v1/rentals/tenants/lookup", post(rentals::lookup))
        .route("/api/v1/rentals/overview", get(rentals::overview))
        .route("/api/v1/public/rentals", get(rentals::search))
        .route("/api/v1/public/rentals/geojson", get(rentals::geojson))
        .route("/api/v1/public/rentals/{token}", get(rentals::listing))
        .fallback(move |uri: axum::http::Uri| async move {
            match assets {
                Some(assets) if !uri.path().starts_with("/api/") && uri.path() != "/healthz" => {
                    web::serve(assets, &uri)
                }
                _ => ApiError::NotFound("route").into_response(),
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError::BadRequest("method not allowed on this path".into())
        });
    let prefix = rand::random::<u32>();
    api.layer(DefaultBodyLimit::max(state.config.body_limit))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            SequentialRequestId { prefix },
        ))
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::document())
}

async fn docs() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(include_str!("docs.html")),
    )
}

/// Keeps the locate index in step with grids imported by another process
/// (e.g. `pingan import grids` while the server runs): checks the grid table's
/// fingerprint every `every` and reloads when it changed.
pub fn spawn_index_refresher(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = state.store.grids_fingerprint().await.ok();
        loop {
            tokio::time::sleep(every).await;
            let Ok(now) = state.store.grids_fingerprint().await else {
                continue;
            };
            if Some(now) != seen {
                match imports::load_index(&*state.store).await {
                    Ok(index) => {
                        tracing::info!(grids = index.len(), "reloaded grid index");
                        state.replace_index(index);
                        seen = Some(now);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not reload grid index"),
                }
            }
        }
    })
}
