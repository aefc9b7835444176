//! Admin routes, behind the admin key: plugin reload and usage.

use http::{Method, Response, StatusCode};

use super::{Api, Body, error_response, json_response};
use crate::api::errors::{ApiError, Blame};
use crate::gateway::Gateway;
use crate::reload::reload;
use crate::usage::UsageFilter;

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

/// `GET /v1/usage?client_key=&provider=&model=&from=&to=`: totals per client key, provider
/// and model. `from` and `to` are Unix seconds.
pub async fn usage(gateway: &Gateway, query: Option<&str>) -> Response<Body> {
    let mut filter = UsageFilter::default();
    for pair in query.unwrap_or_default().split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.to_string();
        let number = || value.parse::<u64>().ok();
        match name {
            "client_key" => filter.client_key = Some(value),
            "provider" => filter.provider = Some(value),
            "model" => filter.model = Some(value),
            "from" => filter.from_unix = number(),
            "to" => filter.to_unix = number(),
            _ => {
                let message = format!("unknown usage filter `{name}`; use client_key, provider, model, from or to");
                return error_response(Api::OpenAi, &ApiError::new(400, Blame::Client, "invalid_value", message));
            }
        }
    }
    // Records are written in batches in the background. Flushing first makes the response
    // include every response finished before this request.
    gateway.flush_usage().await;
    match gateway.usage().query(&filter).await {
        Ok(rows) => {
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    serde_json::json!({
                        "client_key": row.client_key,
                        "provider": row.provider,
                        "model": row.model,
                        "requests": row.requests,
                        "characters": row.characters,
                        "audio_seconds": row.audio_ms as f64 / 1000.0,
                        "cache_hits": row.cache_hits,
                        "cost_usd": row.cost_micro_usd as f64 / 1_000_000.0,
                        "cost_micro_usd": row.cost_micro_usd,
                    })
                })
                .collect();
            json_response(StatusCode::OK, serde_json::json!({ "usage": rows }))
        }
        Err(error) => {
            tracing::error!(error = %error, "usage query failed");
            error_response(Api::OpenAi, &ApiError::new(503, Blame::Gateway, "usage_unavailable", format!("usage query failed: {error}")))
        }
    }
}
