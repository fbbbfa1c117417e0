//! The command line: `jmb serve [--config FILE]`, `jmb check-config FILE`, `jmb migrate [--config FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ListenAddr};
use crate::{Listener, app};

#[derive(Parser)]
#[command(name = "jmb", version, about = "Meeting booking for Jitsi Meet")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. Without --config, runs the embedded demo (SQLite under ./data, demo sign-in).
    Serve {
        #[arg(long, short, env = "JMB_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a configuration file and say which key is wrong.
    CheckConfig { file: PathBuf },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long, short, env = "JMB_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn load(config: Option<&PathBuf>) -> Result<Config, String> {
    match config {
        Some(path) => Config::load(Some(path)).map_err(|e| format!("{}: {e}", path.display())),
        None => Config::load_embedded().map_err(|e| format!("embedded configuration: {e}")),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(Some(&file)) {
            Ok(c) => match c.jitsi_secret() {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    ExitCode::from(2)
                }
            },
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Command::Migrate { config } => {
            let config = match load(config.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            match crate::db::Db::open(
                &config.database.path,
                std::time::Duration::from_millis(config.database.busy_timeout_ms),
                1,
            ) {
                Ok(_) => {
                    println!(
                        "{}: schema at version {}",
                        config.database.path.display(),
                        crate::db::migrate::latest_version()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { config } => {
            let embedded = config.is_none();
            let config = match load(config.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let runtime = match crate::runtime(&config) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(config, embedded)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("jmb: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(config: Config, embedded: bool) -> anyhow::Result<()> {
    let listen = config.listen_addr()?;
    if config.auth.mode == crate::config::AuthMode::TrustedHeader
        && let ListenAddr::Tcp(addr) = &listen
        && !addr.ip().is_loopback()
    {
        tracing::warn!(%addr, "trusted-header sign-in on a non-loopback address: make sure only the proxy can reach it");
    }
    let public = config.public_base().to_string();
    let shutdown = crate::shutdown_signal();
    let state = app::build_default_state(config)?;
    let listener = match &listen {
        ListenAddr::Tcp(addr) => Listener::Tcp(tokio::net::TcpListener::bind(addr).await?),
        #[cfg(unix)]
        ListenAddr::Unix(path) => {
            // A stale socket from a previous run would make bind fail.
            let _ = std::fs::remove_file(path);
            Listener::Unix(tokio::net::UnixListener::bind(path)?)
        }
        #[cfg(not(unix))]
        ListenAddr::Unix(_) => anyhow::bail!("unix sockets are not supported on this platform"),
    };
    tracing::info!(listen = ?listen, "jmb listening");
    if embedded {
        println!(
            "jmb demo is running: open {public}/ in your browser (demo sign-in, data under ./data). Ctrl-C stops it."
        );
    }
    crate::run(state, listener, shutdown).await
}
