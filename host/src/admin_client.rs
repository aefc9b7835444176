//! The command line's client for a running gateway's admin routes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Sends `POST {url}/admin/plugins/reload` and returns the response body.
pub async fn reload_plugins(url: &str, admin_key: Option<&str>) -> anyhow::Result<String> {
    let uri: http::Uri = format!("{}/admin/plugins/reload", url.trim_end_matches('/'))
        .parse()
        .map_err(|error| anyhow::anyhow!("gateway URL `{url}` is invalid: {error}"))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!("gateway URL `{url}` must start with http:// (the admin client speaks plain HTTP to a local gateway)");
    }
    let mut request = http::Request::post(uri);
    if let Some(key) = admin_key {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let request = request.body(Full::new(Bytes::new()))?;

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(request)
        .await
        .map_err(|error| anyhow::anyhow!("cannot reach the gateway at {url}: {error}"))?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        anyhow::bail!("the gateway answered {status}: {text}");
    }
    Ok(text)
}
