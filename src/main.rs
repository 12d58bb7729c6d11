//! The `ringbridge` command: `serve` (the default), `check-config`, `--version`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ringbridge::config::{self, LoadOptions, ProviderKind};

#[derive(Parser)]
#[command(
    name = "ringbridge",
    version,
    about = "A fast OpenAI-compatible gateway in front of many LLM providers"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(ServeArgs),
    /// Validate a config file (with the current environment) and exit.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, env = "RINGBRIDGE_LISTEN")]
    listen: Option<String>,
    /// TOML config file.
    #[arg(long, env = "RINGBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// Worker threads (default: one per available core).
    #[arg(long, env = "RINGBRIDGE_WORKERS")]
    workers: Option<usize>,
    /// Allow a non-loopback listen address without inbound API keys.
    #[arg(long)]
    allow_unauthenticated: bool,
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let env = |k: &str| std::env::var(k).ok();
    match cli.command {
        Some(Command::CheckConfig { file }) => match config::check_file(&file, &env) {
            Ok(settings) => {
                let names: Vec<&str> = settings.providers.iter().map(|p| p.name.as_str()).collect();
                println!(
                    "{}: ok ({} providers: {})",
                    file.display(),
                    names.len(),
                    names.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Serve(args)) => serve(args, &env),
        None => serve(cli.serve, &env),
    }
}

fn serve(args: ServeArgs, env: &dyn Fn(&str) -> Option<String>) -> ExitCode {
    let opts = LoadOptions {
        config_path: args.config,
        listen: args.listen,
        workers: args.workers,
        allow_unauthenticated: args.allow_unauthenticated,
    };
    let settings = match config::load(&opts, env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let providers: Vec<String> = settings
        .providers
        .iter()
        .map(|p| {
            if p.kind == ProviderKind::Mock {
                p.name.clone()
            } else {
                format!("{} ({})", p.name, p.kind.name())
            }
        })
        .collect();
    let auth = if settings.auth_keys.is_empty() {
        "off"
    } else {
        "on"
    };
    tracing::info!(
        driver = ringbridge::runtime::driver_name(),
        workers = settings.workers,
        inbound_auth = auth,
        providers = %providers.join(", "),
        "starting"
    );
    match ringbridge::runtime::run(settings, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringbridge: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RINGBRIDGE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
