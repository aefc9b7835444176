//! Compiling a component in a child process.
//!
//! Cranelift needs hundreds of megabytes to compile a large component (the local voice).
//! glibc keeps part of that resident after it is freed, so a gateway that compiled its plugins
//! at start would stay tens of megabytes larger while idle. So `voxgate compile-component`,
//! run as a child, compiles one component into the compile cache and exits, taking that
//! memory with it. The gateway then maps the result from the cache like any cached entry.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use wasmtime::Engine;

use super::{PluginEngine, compatibility_hash, engine_config, write_atomically};
use crate::config::EngineConfig;
use crate::text::excerpt;

/// The executable that compiles components, when `main` has enabled it.
static COMPILER: OnceLock<PathBuf> = OnceLock::new();

/// Makes the compile cache compile missing entries by running `executable compile-component`.
/// Only `main` calls this, with the running binary: unit tests run in a test harness that has
/// no such command, so they compile in-process.
pub fn compile_in_child_processes(executable: PathBuf) {
    let _ = COMPILER.set(executable);
}

pub(super) fn compiler() -> Option<&'static Path> {
    COMPILER.get().map(PathBuf::as_path)
}

/// Arguments of the hidden `compile-component` command. The component's bytes arrive on
/// standard input. Every option that shapes the engine is passed, so the child's engine
/// produces code the parent's engine accepts; `--compatibility` double-checks it.
#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    #[arg(long)]
    memory_limit_mib: u64,
    #[arg(long)]
    max_instances: u32,
    #[arg(long)]
    largest_memory_mib: u64,
    #[arg(long)]
    pooling: bool,
    /// The parent engine's compatibility hash, as in cache entry names.
    #[arg(long)]
    compatibility: String,
    /// The cache entry to write.
    #[arg(long)]
    output: PathBuf,
}

/// Runs `compile-component` in the child.
pub fn compile_command(args: &CompileArgs) -> anyhow::Result<()> {
    let limits = EngineConfig {
        memory_limit_mib: args.memory_limit_mib,
        max_instances: args.max_instances,
        ..EngineConfig::default()
    };
    let engine = Engine::new(&engine_config(&limits, args.largest_memory_mib, args.pooling))
        .map_err(|error| anyhow::anyhow!("failed to create the WebAssembly engine: {error:#}"))?;
    let own = compatibility_hash(&engine);
    if own != args.compatibility {
        bail!("this engine's compatibility hash is {own}, not {}", args.compatibility);
    }
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).context("failed to read the component from standard input")?;
    let compiled = engine.precompile_component(&bytes)?;
    let dir = args.output.parent().context("the output path has no folder")?;
    write_atomically(dir, &args.output, &compiled)
}

/// Compiles `bytes` into the cache entry `entry` in a child process running `executable`.
pub(super) fn compile(executable: &Path, engine: &PluginEngine, bytes: &[u8], entry: &Path) -> anyhow::Result<()> {
    let limits = &engine.limits;
    let mut child = Command::new(executable)
        .arg("compile-component")
        .arg("--memory-limit-mib")
        .arg(limits.memory_limit_mib.to_string())
        .arg("--max-instances")
        .arg(limits.max_instances.to_string())
        .arg("--largest-memory-mib")
        .arg(engine.largest_memory_mib.to_string())
        .args(engine.pooling.then_some("--pooling"))
        .arg("--compatibility")
        .arg(compatibility_hash(&engine.engine))
        .arg("--output")
        .arg(entry)
        // The child needs nothing from the environment, and so is given none of its secrets.
        .env_clear()
        .env("VOXGATE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to start {}", executable.display()))?;

    // Before it has read all of standard input, `compile_command` can write only the one-line
    // error of a failed engine start, so writing first and reading the output afterwards
    // cannot leave both processes waiting on a full pipe.
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(bytes));
    let output = child.wait_with_output().context("failed to wait for the compiling process")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("the compiling process exited with {}: {}", output.status, excerpt(stderr.trim(), 500));
    }
    if let Some(Err(error)) = written {
        bail!("failed to send the component to the compiling process: {error}");
    }
    Ok(())
}
