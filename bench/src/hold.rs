//! Many streamed speech responses open at once. Every connection sends one request. Once
//! each stream has received its first body byte or failed, the command prints a `ready` line,
//! the driver's signal to read the server's memory. Then it reads every stream to its end and
//! prints a `done` line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use http_body_util::BodyExt;

use crate::client::{Failures, Target, TargetOptions, emit};

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    target: TargetOptions,
    /// Streams to hold open at once, each on its own connection.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Seconds to wait for every stream's first byte before reporting `ready` anyway.
    #[arg(long, default_value = "30", value_parser = crate::seconds)]
    ramp_timeout: Duration,
    /// Seconds after which streams still open are dropped and the command ends.
    #[arg(long, default_value = "60", value_parser = crate::seconds)]
    max_time: Duration,
}

/// How far the streams have got.
#[derive(Default)]
struct Progress {
    streaming: AtomicUsize,
    completed: AtomicUsize,
    failures: Failures,
}

impl Progress {
    fn settled(&self) -> usize {
        let failed = usize::try_from(self.failures.total()).unwrap_or(usize::MAX);
        self.streaming.load(Ordering::Relaxed) + failed
    }
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let target = Arc::new(Target::new(&options.target)?);
    let progress = Arc::new(Progress::default());
    let started = Instant::now();

    let mut streams = tokio::task::JoinSet::new();
    for _ in 0..options.connections {
        let target = target.clone();
        let progress = progress.clone();
        streams.spawn(async move {
            if let Err(kind) = hold_one(&target, &progress).await {
                progress.failures.record(kind);
            }
        });
    }

    // Ramp: wait until every stream has started or failed.
    let ramp_deadline = started + options.ramp_timeout;
    while progress.settled() < options.connections && Instant::now() < ramp_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emit(&serde_json::json!({
        "event": "ready",
        "connections": options.connections,
        "streaming": progress.streaming.load(Ordering::Relaxed),
        "failed": progress.failures.total(),
        "ramp_ms": started.elapsed().as_millis() as u64,
    }));

    // Drain: let the streams finish, up to the overall limit.
    let drain = async { while streams.join_next().await.is_some() {} };
    let timed_out = tokio::time::timeout(options.max_time.saturating_sub(started.elapsed()), drain).await.is_err();
    let dropped = streams.len();
    streams.abort_all();

    emit(&serde_json::json!({
        "event": "done",
        "connections": options.connections,
        "completed": progress.completed.load(Ordering::Relaxed),
        "failed": progress.failures.total(),
        "failures": progress.failures.to_json(),
        "dropped_at_max_time": if timed_out { dropped } else { 0 },
        "elapsed_s": started.elapsed().as_secs_f64(),
    }));
    Ok(())
}

/// Opens one connection, sends the request and reads the stream to its end.
async fn hold_one(target: &Target, progress: &Progress) -> Result<(), String> {
    let mut sender = target.connect().await.map_err(|error| format!("connect: {error}"))?;
    let response = sender
        .send_request(target.speech_request())
        .await
        .map_err(|error| format!("request: {error}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }

    let mut body = response.into_body();
    let mut started = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| format!("body: {error}"))?;
        let has_data = frame.data_ref().is_some_and(|data| !data.is_empty());
        if has_data && !started {
            started = true;
            progress.streaming.fetch_add(1, Ordering::Relaxed);
        }
    }
    if !started {
        return Err("empty body".to_string());
    }
    progress.completed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
