//! Admin routes, behind the admin key: plugin reload.

use http::{Method, Response, StatusCode};

use super::{Api, Body, error_response, json_response};
use crate::api::errors::{ApiError, Blame};
use crate::gateway::Gateway;
use crate::reload::reload;

/// Routes `/admin/{path}`.
pub async fn route(gateway: &Gateway, method: &Method, path: &str) -> Response<Body> {
    match (method, path) {
        (&Method::POST, "plugins/reload") => reload_plugins(gateway).await,
        _ => error_response(
            Api::OpenAi,
            &ApiError::new(404, Blame::Client, "not_found", format!("no admin route for {method} /admin/{path}")),
        ),
    }
}

/// `POST /admin/plugins/reload`: reloads the plugin folder now and reports what changed.
async fn reload_plugins(gateway: &Gateway) -> Response<Body> {
    // Compiling components is CPU work; `block_in_place` keeps it off the other tasks of
    // this worker without requiring the gateway to be 'static.
    let report = tokio::task::block_in_place(|| reload(gateway));
    match report {
        Ok(report) => json_response(StatusCode::OK, serde_json::to_value(report).unwrap_or_default()),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "plugin reload failed");
            error_response(Api::OpenAi, &ApiError::new(500, Blame::Gateway, "reload_failed", format!("plugin reload failed: {error:#}")))
        }
    }
}
