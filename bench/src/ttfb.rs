//! Time to first byte of streamed speech: from writing the request to receiving the first
//! byte of the response body, on connections that are already open, so connection setup is
//! not part of the figure. Each response is read to its end before the connection sends the
//! next request, the way a player consumes a stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use http_body_util::BodyExt;
use tokio::sync::Mutex;

use crate::client::{Failures, Target, TargetOptions, emit};
use crate::stats::summary_ms;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    target: TargetOptions,
    /// Requests to measure, across all connections.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Connections, each sending one request at a time.
    #[arg(long, default_value_t = 10)]
    connections: usize,
    /// Seconds after which the run stops, with the samples taken so far.
    #[arg(long, default_value = "120", value_parser = crate::seconds)]
    max_time: Duration,
}

/// One measured response.
struct Sample {
    first_byte: Duration,
    complete: Duration,
    bytes: usize,
}

/// Takes the samples and prints one JSON summary line.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let target = Arc::new(Target::new(&options.target)?);
    let claimed = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(options.samples)));
    let failures = Arc::new(Failures::default());
    let started = Instant::now();
    let deadline = started + options.max_time;

    let mut workers = Vec::new();
    for _ in 0..options.connections.clamp(1, options.samples.max(1)) {
        let target = target.clone();
        let claimed = claimed.clone();
        let samples = samples.clone();
        let failures = failures.clone();
        let requested = options.samples;
        let request_timeout = options.target.request_timeout;
        workers.push(tokio::spawn(async move {
            let mut sender = None;
            while claimed.fetch_add(1, Ordering::Relaxed) < requested && Instant::now() < deadline {
                let limit = request_timeout.min(deadline.saturating_duration_since(Instant::now()));
                match tokio::time::timeout(limit, measure(&target, &mut sender)).await {
                    Ok(Ok(sample)) => samples.lock().await.push(sample),
                    Ok(Err(kind)) => {
                        failures.record(kind);
                        sender = None;
                    }
                    Err(_) => {
                        failures.record("timed out");
                        sender = None;
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }

    let samples = samples.lock().await;
    let first_bytes: Vec<Duration> = samples.iter().map(|sample| sample.first_byte).collect();
    let completes: Vec<Duration> = samples.iter().map(|sample| sample.complete).collect();
    emit(&serde_json::json!({
        "samples": samples.len(),
        "failed": failures.total(),
        "failures": failures.to_json(),
        "elapsed_s": started.elapsed().as_secs_f64(),
        "response_bytes": samples.first().map(|sample| sample.bytes),
        "ttfb_ms": summary_ms(&first_bytes),
        "complete_ms": summary_ms(&completes),
    }));
    Ok(())
}

/// Sends one request on the worker's connection, opening it first when there is none.
async fn measure(
    target: &Target,
    sender: &mut Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>>,
) -> Result<Sample, String> {
    if sender.as_ref().is_none_or(|open| open.is_closed()) {
        *sender = Some(target.connect().await.map_err(|error| format!("connect: {error}"))?);
    }
    let open = sender.as_mut().expect("opened above");
    open.ready().await.map_err(|error| format!("connection: {error}"))?;

    let request = target.speech_request();
    let sent = Instant::now();
    let response = open.send_request(request).await.map_err(|error| format!("request: {error}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }

    let mut body = response.into_body();
    let mut first_byte = None;
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| format!("body: {error}"))?;
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        first_byte.get_or_insert_with(|| sent.elapsed());
        bytes += data.len();
    }
    let complete = sent.elapsed();

    let first_byte = first_byte.ok_or_else(|| "empty body".to_string())?;
    Ok(Sample { first_byte, complete, bytes })
}
