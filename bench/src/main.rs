//! `voxgate-bench`: the programs that `bench/run.py` starts around the gateway.
//!
//! - `upstream` is a benchmark-mode OpenAI speech API: `POST /v1/audio/speech` returns a
//!   fixed MP3-framed clip, whole or in timed chunks, after checking the Bearer key. It does no
//!   synthesis, so that the gateway and not the provider is what a benchmark measures.
//! - `proxy` forwards requests to the upstream and nothing else, the floor under the
//!   gateway's pass-through figures.
//! - `ttfb` measures the time to the first audio byte of streamed responses.
//! - `hold` opens many streamed responses at once and keeps them open, so that the driver can
//!   read the server's memory while they run.
//!
//! Every client command talks HTTP/1.1 to one loopback URL, stops after a bounded number of
//! requests or seconds, and prints one JSON object per line on stdout.

mod client;
mod hold;
mod mp3;
mod proxy;
mod stats;
mod ttfb;
mod upstream;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "voxgate-bench", about = "Benchmark upstream and load clients for voxgate")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve `POST /v1/audio/speech` with a fixed clip; prints `listening on http://ADDR`.
    Upstream(upstream::Options),
    /// Forward requests to an upstream and its responses back, and nothing else: the floor
    /// for the gateway's pass-through figures.
    Proxy(proxy::Options),
    /// Measure the time to first byte of streamed speech responses, one request at a time per
    /// connection.
    Ttfb(ttfb::Options),
    /// Hold many streamed speech responses open at once.
    Hold(hold::Options),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Upstream(options) => runtime(options.threads)?.block_on(upstream::serve(options)),
        Command::Proxy(options) => runtime(options.threads)?.block_on(proxy::serve(options)),
        // One worker thread is enough for the clients, and leaves the cores to the servers.
        Command::Ttfb(options) => runtime(1)?.block_on(ttfb::run(options)),
        Command::Hold(options) => runtime(1)?.block_on(hold::run(options)),
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    Ok(runtime)
}

/// Checks that a client targets a loopback address: load from this tool goes nowhere else.
fn require_loopback(address: SocketAddr) -> anyhow::Result<()> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    anyhow::bail!("{address} is not a loopback address; voxgate-bench sends load to 127.0.0.0/8 or [::1] only")
}

/// Parses a duration given in whole seconds on the command line.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: u64 = text.parse().map_err(|_| format!("`{text}` is not a whole number of seconds"))?;
    Ok(Duration::from_secs(value))
}
