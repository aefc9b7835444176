//! The conformance kit: `voxgate conformance PLUGIN.wasm`.
//!
//! The kit loads a provider component through the gateway's own checks (imports, linking,
//! `describe`), then runs data-driven cases against it without any network. Each case is a
//! file with a synthesis request, the upstream responses to play back in order, and the
//! expected outcome. The kit drives the plugin's steps as the gateway does, under the same
//! memory limit, call deadline and step budget, and checks every step against the host's
//! rules and the secret rules, whatever the case expects.
//!
//! Cases come from three places. The generic cases in `tests/conformance/generic/` apply to
//! every plugin and take models, voices and hosts from its `describe`. A first-party plugin
//! adds the folder `plugins/<id>/conformance/`, and anyone can add folders with `--cases DIR`. The format and
//! the rules are documented in `docs/plugins.md`.

mod case;
mod describe_check;
mod discover;
mod driver;
mod expect;
mod playback;
mod policy;
mod report;
mod request;
mod runner;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::config::Config;
use crate::engine::{CompileSource, PluginEngine};
use crate::plugin::load_file_checked;

use report::{CaseResult, PluginSummary, Report, ReportFormat, Status};

/// Command-line arguments of `voxgate conformance`.
#[derive(clap::Args)]
pub struct Args {
    /// The plugin component to test (`*.wasm`).
    plugin: PathBuf,
    /// A folder of provider-specific cases (`*.toml` or `*.json`, read recursively). Repeat
    /// for several folders.
    #[arg(long = "cases", value_name = "DIR")]
    cases: Vec<PathBuf>,
    /// Also writes the results as FORMAT (`junit` or `json`) to FILE.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"])]
    report: Vec<String>,
    /// The generic cases' folder. Defaults to `tests/conformance/generic` in the repository
    /// that contains the current folder or the voxgate binary.
    #[arg(long, value_name = "DIR")]
    generic: Option<PathBuf>,
    /// Runs only the cases whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
}

/// Runs the kit and prints the summary. Fails when any case failed or the plugin did not
/// load, after writing the report.
pub fn run(config: &Config, args: &Args) -> anyhow::Result<()> {
    let report_target = match args.report.as_slice() {
        [] => None,
        [format, file] => match ReportFormat::parse(format) {
            Some(format) => Some((format, PathBuf::from(file))),
            None => bail!("--report format `{format}` is not `junit` or `json`"),
        },
        _ => bail!("--report takes a format and a file, such as `--report junit conformance.xml`"),
    };
    if let Some(dir) = &args.generic
        && !dir.is_dir()
    {
        bail!("--generic {} is not a folder", dir.display());
    }
    for dir in &args.cases {
        if !dir.is_dir() {
            bail!("--cases {} is not a folder", dir.display());
        }
    }

    let engine = PluginEngine::new(&config.engine, config.largest_memory_limit_mib())?;
    let mut summary = PluginSummary {
        file: args.plugin.display().to_string(),
        bytes: std::fs::metadata(&args.plugin).map(|meta| meta.len()).unwrap_or(0),
        ..Default::default()
    };
    let mut stdout = std::io::stdout();

    let started = Instant::now();
    let loaded = load_file_checked(&engine, config, &args.plugin);
    let load_time = started.elapsed();
    let plugin = match loaded {
        Ok(plugin) => plugin,
        Err(reason) => {
            let result = load_result(&summary.file, Status::Failed, vec![format!("the gateway would reject it: {reason}")], load_time);
            return finish(Report::new(summary, vec![result]), report_target, &mut stdout);
        }
    };

    summary.id = plugin.id().to_string();
    summary.version = plugin.info.version.clone();
    summary.sha256 = plugin.digest.clone();
    summary.load_seconds = load_time.as_secs_f64();
    summary.load_source = match plugin.source {
        CompileSource::Compiled => "compiled".to_string(),
        CompileSource::Cached => "read from the compile cache".to_string(),
    };
    summary.imports = plugin
        .pre
        .instance_pre()
        .component()
        .component_type()
        .imports(&engine.engine)
        .map(|(name, _)| name.to_string())
        .collect();
    summary.memory_limit_mib = plugin.limits.memory_limit_mib;
    summary.call_timeout_ms = plugin.limits.call_timeout_ms;
    let _ = write!(stdout, "{}", report::header(&summary));

    let mut results = vec![load_result(&summary.file, Status::Passed, Vec::new(), load_time)];
    let folders = discover::case_folders(args.generic.clone(), &summary.id, &args.cases);
    if !folders.iter().any(|folder| folder.label == "generic" && folder.dir.is_dir()) {
        let failure = setup_failure(format!(
            "the generic cases were not found in {} above the current folder or the voxgate binary; pass --generic DIR",
            discover::GENERIC_DIR
        ));
        let _ = write!(stdout, "{}", report::case_lines(&failure));
        results.push(failure);
    }

    let subject = driver::Subject {
        engine,
        plugin,
        max_steps: config.engine.max_steps,
        max_response_bytes: config.upstream.max_response_bytes,
    };
    let mut runner = runner::Runner::new(&subject);
    for folder in folders.iter().filter(|folder| folder.dir.is_dir()) {
        let cases = match discover::load_cases(folder) {
            Ok(cases) => cases,
            Err(error) => {
                let failure = setup_failure(error.to_string());
                let _ = write!(stdout, "{}", report::case_lines(&failure));
                results.push(failure);
                continue;
            }
        };
        for case in &cases {
            if args.filter.as_deref().is_some_and(|filter| !case.name.contains(filter)) {
                continue;
            }
            for result in runner.run_case(case) {
                let _ = write!(stdout, "{}", report::case_lines(&result));
                let _ = stdout.flush();
                results.push(result);
            }
        }
    }

    let report = Report::new(summary, results);
    finish(report, report_target, &mut stdout)
}

fn finish(report: Report, target: Option<(ReportFormat, PathBuf)>, stdout: &mut std::io::Stdout) -> anyhow::Result<()> {
    if report.cases.len() == 1 && report.plugin.id.is_empty() {
        // The plugin did not load: nothing was printed yet.
        let _ = write!(stdout, "{}", report::header(&report.plugin));
        let _ = write!(stdout, "{}", report::case_lines(&report.cases[0]));
    }
    let _ = write!(stdout, "{}", report.footer());
    if let Some((format, file)) = target {
        report.write(format, &file)?;
    }
    if report.failed > 0 {
        bail!("{} of {} conformance cases failed", report.failed, report.cases.len());
    }
    Ok(())
}

fn load_result(file: &str, status: Status, reasons: Vec<String>, duration: Duration) -> CaseResult {
    CaseResult {
        name: "load".to_string(),
        source: "load".to_string(),
        file: file.to_string(),
        description: "the gateway's load checks: imports, linking, describe".to_string(),
        status,
        reasons,
        trace: Vec::new(),
        duration,
    }
}

fn setup_failure(reason: String) -> CaseResult {
    CaseResult {
        name: "cases".to_string(),
        source: "setup".to_string(),
        file: String::new(),
        description: "reading the case folders".to_string(),
        status: Status::Failed,
        reasons: vec![reason],
        trace: Vec::new(),
        duration: Duration::ZERO,
    }
}
