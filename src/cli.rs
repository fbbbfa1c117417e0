//! The command line: `jmb serve [--config FILE]`, `jmb check-config FILE`, `jmb migrate [--config FILE]`,
//! `jmb outbox [--config FILE] [list [--all] | retry ID|--all]`.

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
    /// The mail outbox: list pending and failed mails, or requeue them.
    Outbox {
        #[arg(long, short, env = "JMB_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Pending and failed mails (the default); with --all, sent ones too.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Puts a failed mail (or every failed mail) back in the queue, due now.
    Retry {
        /// The mail's id, as `list` shows it.
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

fn load(config: Option<&PathBuf>) -> Result<Config, String> {
    match config {
        Some(path) => Config::load(Some(path)).map_err(|e| format!("{}: {e}", path.display())),
        None => Ok(Config::embedded_default()),
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
        Command::Outbox { config, action } => {
            outbox(config.as_ref(), action.unwrap_or(OutboxAction::List { all: false }))
        }
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

/// `jmb outbox list|retry`: works on the store directly, beside a running server.
fn outbox(config: Option<&PathBuf>, action: OutboxAction) -> ExitCode {
    let config = match load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let db = crate::db::Db::open(
            &config.database.path,
            std::time::Duration::from_millis(config.database.busy_timeout_ms),
            1,
        )?;
        match action {
            OutboxAction::List { all } => {
                let entries =
                    db.read(move |c| Ok::<_, crate::db::DbError>(crate::outbox::list(c, !all, 10_000)?)).await?;
                if entries.is_empty() {
                    println!("{}", if all { "the outbox is empty" } else { "nothing pending or failed" });
                }
                for e in entries {
                    let next = if e.status == "pending" {
                        format!(" next {}", e.next_attempt_at.to_rfc3339())
                    } else {
                        String::new()
                    };
                    println!(
                        "{:>6}  {:<8} {:<13} attempts {}{next}  to {}  \"{}\"{}",
                        e.id,
                        e.status,
                        e.kind,
                        e.attempts,
                        e.recipients.join(", "),
                        e.subject,
                        e.last_error.map(|m| format!("\n        last error: {m}")).unwrap_or_default()
                    );
                }
                Ok::<_, anyhow::Error>(())
            }
            OutboxAction::Retry { id, all } => {
                if id.is_none() && !all {
                    anyhow::bail!("say which mail to requeue (its id) or --all");
                }
                let now = chrono::Utc::now();
                let n = db.write(move |tx| Ok::<_, crate::db::DbError>(crate::outbox::retry(tx, id, now)?)).await?;
                match (id, n) {
                    (Some(id), 0) => anyhow::bail!("no failed or pending mail {id}"),
                    _ => println!("{n} mail(s) requeued; a running jmb sends them within a minute"),
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jmb outbox: {e:#}");
            ExitCode::FAILURE
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
