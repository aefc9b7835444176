//! voxgate: a text-to-speech gateway whose provider adapters are WebAssembly components.

mod admin_client;
mod allowed_hosts;
mod api;
mod audio;
mod auth;
mod cache;
mod config;
mod delivery;
mod conformance;
mod engine;
mod gateway;
mod metrics;
mod routing;
mod plugin;
mod reload;
mod secrets;
mod server;
mod speech;
mod synthesis;
mod text;
mod upstream;
mod usage;

#[cfg(test)]
mod test_servers;
#[cfg(test)]
mod instantiation_bench;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::audio::parse_container;
use crate::config::Config;
use crate::text::escape_controls;
use crate::gateway::Gateway;
use crate::speech::SpeechRequest;
use crate::plugin::wit::AudioFormat;
use crate::synthesis::AudioBody;

/// A text-to-speech gateway: one HTTP API in front of many providers.
#[derive(Parser)]
#[command(name = "voxgate", version)]
struct Cli {
    /// Configuration file (TOML). Without it, `voxgate.toml` in the current folder is used
    /// when it exists, and built-in defaults otherwise.
    #[arg(long, global = true, env = "VOXGATE_CONFIG")]
    config: Option<PathBuf>,

    /// Log line format on stderr. The level comes from VOXGATE_LOG (default `info`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Compile one component from standard input into the compile cache. The gateway runs
    /// this as a child process; it is not meant to be run by hand.
    #[command(hide = true)]
    CompileComponent(engine::CompileArgs),
    /// Run the HTTP gateway.
    Serve {
        /// Address to listen on, overriding server.listen.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Plugin folder, overriding plugins.dir.
        #[arg(long)]
        plugin_dir: Option<PathBuf>,
    },
    /// Speak TEXT into a file, through the same path as the server.
    Say {
        /// The text to speak.
        text: String,
        /// Provider id, such as `openai`. Defaults to the provider of the model.
        #[arg(long)]
        provider: Option<String>,
        /// Model id. Defaults to the provider's default model.
        #[arg(long)]
        model: Option<String>,
        /// Voice id. Defaults to the provider's default voice.
        #[arg(long)]
        voice: Option<String>,
        /// Audio format (mp3, opus, aac, flac, wav, pcm, ulaw, alaw). Defaults to the output
        /// file's extension, or mp3.
        #[arg(long)]
        format: Option<String>,
        /// Speaking rate, 1.0 being normal.
        #[arg(long)]
        speed: Option<f32>,
        /// Output file, or `-` for stdout.
        #[arg(short, long)]
        output: PathBuf,
        /// Plugin folder, overriding plugins.dir.
        #[arg(long)]
        plugin_dir: Option<PathBuf>,
    },
    /// List the plugins that would load, and why the others would not.
    Plugins {
        #[command(subcommand)]
        action: Option<PluginsAction>,
        /// Plugin folder, overriding plugins.dir.
        #[arg(long)]
        plugin_dir: Option<PathBuf>,
    },
    /// Client keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Run the conformance kit against a plugin component, without network.
    Conformance(conformance::Args),
    /// Inspect or empty the audio cache configured under [cache].
    Cache {
        #[command(subcommand)]
        command: cache::cli::CacheCommand,
    },
}

#[derive(Subcommand)]
enum PluginsAction {
    /// Ask a running gateway to reload its plugin folder now.
    Reload {
        /// The gateway's address.
        #[arg(long, default_value = "http://127.0.0.1:8787")]
        url: String,
        /// Environment variable that holds the admin key.
        #[arg(long, default_value = "VOXGATE_ADMIN_KEY")]
        admin_key_env: String,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Print the SHA-256 digest of a key read from standard input, for `key_sha256` in the
    /// configuration.
    Hash,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The message and its causes, without the backtrace that anyhow's Debug output
            // adds when RUST_BACKTRACE is set: these are errors for the user, not crashes.
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if let Command::CompileComponent(args) = &cli.command {
        return engine::compile_command(args);
    }
    if let Ok(executable) = std::env::current_exe() {
        engine::compile_in_child_processes(executable);
    }
    let mut config = load_config(cli.config.as_deref())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("voxgate-worker")
        .build()
        .context("failed to start the async runtime")?;

    match cli.command {
        Command::Serve { listen, plugin_dir } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if let Some(dir) = plugin_dir {
                config.plugins.dir = dir;
            }
            runtime.block_on(async {
                let gateway = Arc::new(Gateway::start(&config)?);
                // A wrong Redis URL shows at start, not at the first response.
                if let Err(error) = gateway.usage().ping().await {
                    tracing::warn!(error = %error, "the usage store did not respond to a ping; usage is not recorded until it responds. Check usage.redis_url");
                }
                if config.plugins.watch_interval_ms > 0 {
                    reload::spawn_watcher(gateway.clone(), std::time::Duration::from_millis(config.plugins.watch_interval_ms));
                }
                server::serve(gateway, &config.server).await
            })
        }
        Command::Say { text, provider, model, voice, format, speed, output, plugin_dir } => {
            if let Some(dir) = plugin_dir {
                config.plugins.dir = dir;
            }
            let request = say_request(text, provider.clone(), model, voice, format.as_deref(), speed, &output)?;
            runtime.block_on(say(&config, request, provider.as_deref(), &output))
        }
        Command::Plugins { action: Some(PluginsAction::Reload { url, admin_key_env }), .. } => {
            let admin_key = std::env::var(&admin_key_env).ok();
            let report = runtime.block_on(admin_client::reload_plugins(&url, admin_key.as_deref()))?;
            println!("{report}");
            Ok(())
        }
        Command::Plugins { action: None, plugin_dir } => {
            if let Some(dir) = plugin_dir {
                config.plugins.dir = dir;
            }
            list_plugins(&config)
        }
        Command::Keys { action: KeysAction::Hash } => {
            let mut key = String::new();
            std::io::stdin().read_line(&mut key).context("failed to read the key from standard input")?;
            if key.trim().is_empty() {
                bail!("no key on standard input; pipe the key in, for example `printf %s \"$KEY\" | voxgate keys hash`");
            }
            println!("{}", auth::digest_key(&key));
            Ok(())
        }
        Command::Conformance(args) => conformance::run(&config, &args),
        Command::Cache { command } => runtime.block_on(cache::cli::run(&config.cache, command)),
        Command::CompileComponent(_) => unreachable!("handled before the configuration is read"),
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("VOXGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    if let Some(path) = path {
        return Config::load(path);
    }
    let default = Path::new("voxgate.toml");
    if default.is_file() {
        return Config::load(default);
    }
    Ok(Config::default())
}

fn say_request(
    text: String,
    provider: Option<String>,
    model: Option<String>,
    voice: Option<String>,
    format: Option<&str>,
    speed: Option<f32>,
    output: &Path,
) -> anyhow::Result<SpeechRequest> {
    let format_name = match format {
        Some(name) => name.to_string(),
        None => output
            .extension()
            .and_then(|ext| ext.to_str())
            .filter(|ext| parse_container(ext).is_some())
            .unwrap_or("mp3")
            .to_string(),
    };
    let Some(container) = parse_container(&format_name) else {
        bail!("format `{format_name}` is not one of mp3, opus, aac, flac, wav, pcm, ulaw, alaw");
    };
    let model = match (provider, model) {
        (Some(provider), Some(model)) => Some(format!("{provider}:{model}")),
        (Some(provider), None) => Some(format!("{provider}:")),
        (None, model) => model,
    };
    Ok(SpeechRequest {
        model,
        voice,
        text,
        format: AudioFormat { container, sample_rate: None, bitrate: None },
        speed,
        language: None,
        instructions: None,
        timestamps: false,
        options: None,
        options_provider: None,
        cache: Default::default(),
    })
}

async fn say(config: &Config, request: SpeechRequest, provider: Option<&str>, output: &Path) -> anyhow::Result<()> {
    let gateway = Gateway::start(config)?;
    if let Some(provider) = provider {
        let set = gateway.plugins();
        if !set.plugins.contains_key(provider) {
            let loaded: Vec<&str> = set.plugins.keys().map(String::as_str).collect();
            bail!(
                "provider `{provider}` is not loaded from {}; loaded providers: {}",
                config.plugins.dir.display(),
                if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") }
            );
        }
    }
    let synthesized = gateway.speak(request, &auth::Client::Open).await.map_err(|error| anyhow::anyhow!("{error}"))?;
    let audio = match synthesized.body {
        AudioBody::Complete(bytes) => bytes,
        AudioBody::Stream(stream) => stream.collect().await?,
    };
    if output == Path::new("-") {
        use std::io::Write;
        std::io::stdout().write_all(&audio)?;
    } else {
        std::fs::write(output, &audio).with_context(|| format!("failed to write {}", output.display()))?;
        eprintln!(
            "wrote {} bytes of {} from {}:{} to {}",
            audio.len(),
            audio::container_name(synthesized.format.container),
            synthesized.provider,
            synthesized.model,
            output.display()
        );
    }
    Ok(())
}

fn list_plugins(config: &Config) -> anyhow::Result<()> {
    let engine = engine::PluginEngine::new(&config.engine, config.largest_memory_limit_mib())?;
    let report = plugin::load_dir(&engine, config)?;
    println!("plugin folder: {}", config.plugins.dir.display());
    for plugin in &report.loaded {
        let models: Vec<&str> = plugin.info.models.iter().map(|model| model.id.as_str()).collect();
        let missing: Vec<String> =
            plugin.secrets.missing().map(|(name, why)| format!("{name} ({why})")).collect();
        println!(
            "loaded   {:<24} {} v{} models: {}{}",
            escape_controls(&plugin.file.file_name().unwrap_or_default().to_string_lossy()),
            plugin.id(),
            plugin.info.version,
            models.join(", "),
            if missing.is_empty() { String::new() } else { format!("; missing secrets: {}", missing.join(", ")) }
        );
    }
    for id in &report.disabled {
        println!("disabled {id}");
    }
    for rejection in &report.rejected {
        println!(
            "rejected {:<24} {}",
            escape_controls(&rejection.file.file_name().unwrap_or_default().to_string_lossy()),
            rejection.reason
        );
    }
    Ok(())
}
