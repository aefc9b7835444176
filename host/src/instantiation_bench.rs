//! Plugin instantiation time, measured through the gateway's own engine, loader and instance
//! code on a real component. `make bench` runs it from a release build:
//!
//! ```text
//! cargo test --release -p voxgate instantiation_bench -- --ignored --nocapture
//! ```
//!
//! It is ignored by a plain `cargo test`, because it measures time and needs the built
//! plugin. It prints one line, `voxgate-bench instantiation {JSON}`, with figures in
//! microseconds: creating an instance (`Store` and `instantiate`), and the parts of one
//! synthesis's plugin cost (a fresh instance, its `synthesize` call, and dropping it, which
//! returns the instance's memory to the pool).
//!
//! Environment: `VOXGATE_BENCH_PLUGIN` (default `target/plugins/openai.wasm`) and
//! `VOXGATE_BENCH_ITERATIONS` (default 2000).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::engine::PluginEngine;
use crate::plugin::wit::{AudioContainer, AudioFormat, Step, SynthesisRequest};
use crate::plugin::{PluginInstance, load_file_checked};

const DEFAULT_PLUGIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins/openai.wasm");
const DEFAULT_ITERATIONS: usize = 2000;
/// Instances created before measuring, so the pooling allocator's slots and the page cache
/// are in their steady state.
const WARM_UP: usize = 200;

#[test]
#[ignore = "a benchmark: `make bench` runs it against the built openai.wasm"]
fn plugin_instantiation_time() {
    let plugin_file = std::env::var_os("VOXGATE_BENCH_PLUGIN").map_or_else(|| PathBuf::from(DEFAULT_PLUGIN), PathBuf::from);
    let iterations = std::env::var("VOXGATE_BENCH_ITERATIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS);

    let compiled = tempfile::tempdir().expect("failed to create a folder for compiled components");
    let mut config = Config::default();
    config.plugins.cache_dir = Some(compiled.path().to_path_buf());
    let engine = PluginEngine::new(&config.engine, config.largest_memory_limit_mib()).expect("failed to create the engine");
    let plugin = load_file_checked(&engine, &config, &plugin_file)
        .unwrap_or_else(|reason| panic!("{} was not loaded: {reason}; run `make build` first", plugin_file.display()));
    let new_instance = || PluginInstance::new(&engine, &plugin.limits, &plugin.pre).expect("instantiation failed");

    for _ in 0..WARM_UP {
        drop(new_instance());
    }

    let mut instantiate = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let instance = new_instance();
        instantiate.push(started.elapsed());
        drop(instance);
    }

    let request = speech_request();
    let mut calls = Vec::with_capacity(iterations);
    let mut drops = Vec::with_capacity(iterations);
    let mut per_synthesis = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let mut instance = new_instance();
        let created = Instant::now();
        let step = instance.synthesize(&request, &plugin.settings).expect("synthesize trapped");
        let called = Instant::now();
        drop(instance);
        let dropped = Instant::now();

        calls.push(called - created);
        drops.push(dropped - called);
        per_synthesis.push(dropped - started);
        assert!(matches!(step, Ok(Step::Stream(_))), "synthesize returned {step:?}, expected a stream step");
    }

    let report = serde_json::json!({
        "plugin": plugin_file.display().to_string(),
        "pooling": engine.pooling,
        "iterations": iterations,
        "instantiate_us": summary_us(&mut instantiate),
        "synthesize_us": summary_us(&mut calls),
        "drop_us": summary_us(&mut drops),
        "instance_synthesize_drop_us": summary_us(&mut per_synthesis),
    });
    println!("voxgate-bench instantiation {report}");
}

/// Builds a typical OpenAI request: 44 characters of text, tts-1, mp3.
fn speech_request() -> SynthesisRequest {
    SynthesisRequest {
        text: "The quick brown fox jumps over the lazy dog.".to_string(),
        model: "tts-1".to_string(),
        voice: "alloy".to_string(),
        format: AudioFormat { container: AudioContainer::Mp3, sample_rate: None, bitrate: None },
        speed: None,
        language: None,
        instructions: None,
        timestamps: false,
        options: "{}".to_string(),
    }
}

/// p50, p99, mean and max in microseconds, by nearest rank.
fn summary_us(samples: &mut [Duration]) -> serde_json::Value {
    samples.sort();
    let micros = |duration: Duration| (duration.as_nanos() as f64 / 100.0).round() / 10.0;
    let rank = |percent: usize| samples[(samples.len() * percent).div_ceil(100).clamp(1, samples.len()) - 1];
    let total: Duration = samples.iter().sum();
    serde_json::json!({
        "p50": micros(rank(50)),
        "p99": micros(rank(99)),
        "mean": micros(total / samples.len() as u32),
        "max": micros(samples[samples.len() - 1]),
    })
}
