//! `pingan serve`: the HTTP server.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use pingan_api::{ApiConfig, AppState};
use pingan_storage::Store;

use crate::config::Settings;

mod web {
    include!(concat!(env!("OUT_DIR"), "/web.rs"));
}

pub async fn serve(settings: &Settings, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    run_server(settings, store, listen.unwrap_or(settings.listen), false).await
}

/// Loads the grid index, then binds and serves until Ctrl-C or SIGTERM,
/// letting requests in flight finish.
pub async fn run_server(
    settings: &Settings,
    store: Arc<dyn Store>,
    listen: SocketAddr,
    demo: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let index = pingan_api::imports::load_index(&*store)
        .await
        .context("cannot load the grid index")?;
    tracing::info!(
        grids = index.len(),
        ms = started.elapsed().as_millis() as u64,
        backend = store.backend(),
        "grid index loaded"
    );
    let state = app_state(settings, store, index, demo).await?;
    let refresher = pingan_api::spawn_index_refresher(state.clone(), Duration::from_secs(10));
    let scheduler = pingan_api::scheduler::spawn(state.clone(), Duration::from_secs(30));
    let notifier = pingan_api::notify::spawn_notifier(state.clone());
    let reports = pingan_api::reports::spawn(state.clone(), Duration::from_secs(300));
    let app = pingan_api::router_with_web(state, web::WEB);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        ms = started.elapsed().as_millis() as u64,
        "serving; API docs at /api/docs"
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    refresher.abort();
    scheduler.abort();
    notifier.abort();
    reports.abort();
    tracing::info!("stopped");
    Ok(())
}

/// The server's state: settings applied, the category catalogue loaded. A
/// demo answers the citizen portal's codes itself, having no SMS gateway.
pub async fn app_state(
    settings: &Settings,
    store: Arc<dyn Store>,
    index: pingan_geo::LocateIndex,
    demo: bool,
) -> anyhow::Result<AppState> {
    let config = ApiConfig {
        secure_cookies: settings.secure_cookies,
        photo_dir: settings.data.join("photos"),
        demo_codes: demo,
        tenant_retention_days: settings.tenant_retention_days,
        public_url: settings.public_url.clone(),
        report_schedule: settings.report_schedule,
        ..ApiConfig::default()
    };
    let state = AppState::new(store, index, config);
    state
        .load_catalogue()
        .await
        .context("cannot load the category catalogue")?;
    Ok(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
