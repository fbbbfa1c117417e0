//! The command line: `jmb serve [--config FILE]`, `jmb check-config FILE`, `jmb migrate [--config FILE]`,
//! `jmb outbox [--config FILE] [list [--all] | retry ID|--all]`, `jmb import-legacy PATH [--dry-run]`,
//! `jmb backup FILE`, `jmb purge --older-than DAYS`.
//!
//! `check-config` and `serve` run the same checks ([`preflight`]): a file that passes one passes the
//! other, except for what only running can tell (the port or socket being taken by another process).

use std::path::{Path, PathBuf};
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
    /// Check a configuration file as `serve` would, changing nothing, and say which key is wrong.
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
    /// Import an original JMB database (meetings, invitations, answers, feeds, private rooms,
    /// pending reminders), keeping every old link working. Safe to run twice.
    ImportLegacy {
        /// The original's SQLite file (/var/www/jitsi-jmb/data/jitsi-jmb.db).
        path: PathBuf,
        /// Print the report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Owners' uids: one `uid address` pair per line (see docs/migration.md).
        #[arg(long, value_name = "FILE")]
        uids: Option<PathBuf>,
        #[arg(long, short, env = "JMB_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Copy the database into a new file (0600) with SQLite's online backup, safe while jmb runs.
    Backup {
        file: PathBuf,
        #[arg(long, short, env = "JMB_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Remove meetings that ended more than DAYS days ago, with their attendees, answers, join
    /// tracking and mails.
    Purge {
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
        #[arg(long, short, env = "JMB_CONFIG")]
        config: Option<PathBuf>,
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
        None => Config::load_embedded().map_err(|e| format!("embedded configuration: {e}")),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    match cli.command {
        Command::CheckConfig { file } => {
            let checked = Config::load(Some(&file)).map_err(anyhow::Error::from).and_then(|c| preflight(&c));
            match checked {
                Ok(warnings) => {
                    for w in warnings {
                        eprintln!("{}: warning: {w}", file.display());
                    }
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e:#}", file.display());
                    ExitCode::from(2)
                }
            }
        }
        Command::Outbox { config, action } => {
            outbox(config.as_ref(), action.unwrap_or(OutboxAction::List { all: false }))
        }
        Command::ImportLegacy { path, dry_run, uids, config } => {
            with_config(config.as_ref(), |c| import_legacy(c, &path, dry_run, uids.as_deref()))
        }
        Command::Backup { file, config } => with_config(config.as_ref(), |c| {
            let size = crate::backup::backup(
                &c.database.path,
                &file,
                std::time::Duration::from_millis(c.database.busy_timeout_ms),
            )?;
            println!("{}: {size} bytes, integrity checked", file.display());
            Ok(())
        }),
        Command::Purge { older_than, config } => with_config(config.as_ref(), |c| {
            let now = chrono::Utc::now();
            let before = crate::retention::cutoff(now, older_than);
            let mut conn = open_store(c)?;
            let mut purged = crate::retention::Purged::default();
            // One transaction per batch: a running jmb's bookings never wait for the whole purge.
            loop {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let (batch, done) = crate::retention::purge_batch(&tx, before, now)?;
                tx.commit()?;
                purged += batch;
                if done {
                    break;
                }
            }
            tracing::info!(
                meetings = purged.meetings,
                attendees = purged.attendees,
                mails = purged.mails,
                private_rooms = purged.private_rooms,
                days = older_than,
                "purge: removed what ended more than {older_than} days ago"
            );
            println!("removed {purged} (ended before {})", before.to_rfc3339());
            Ok(())
        }),
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

/// Runs `f` with the loaded configuration: exit 2 when it does not load, 1 when `f` fails.
fn with_config(config: Option<&PathBuf>, f: impl FnOnce(&Config) -> anyhow::Result<()>) -> ExitCode {
    let config = match load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match f(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jmb: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The store, migrated, as one synchronous connection (commands that run once, beside a server).
fn open_store(config: &Config) -> anyhow::Result<rusqlite::Connection> {
    let busy = std::time::Duration::from_millis(config.database.busy_timeout_ms);
    // Creates or migrates the schema, as `serve` would.
    drop(crate::db::Db::open(&config.database.path, busy, 1)?);
    let conn = rusqlite::Connection::open(&config.database.path)?;
    conn.busy_timeout(busy)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// `jmb import-legacy`: one transaction, rolled back with `--dry-run`; the report on stdout, a
/// progress bar on stderr when it is a terminal.
fn import_legacy(config: &Config, path: &Path, dry_run: bool, uids: Option<&Path>) -> anyhow::Result<()> {
    let source = crate::legacy::Source::open(path)?;
    let options = crate::legacy::Options {
        uid_host: config.public_host(),
        zone: config.display_tz(),
        default_subject: "Réunion sans objet".into(),
        uids: uids.map(crate::legacy::read_uid_map).transpose()?.unwrap_or_default(),
        now: chrono::Utc::now(),
        chat_warnings: config.xmpp.is_some(),
    };
    let bar = indicatif::ProgressBar::new(source.count()?);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(if dry_run { "checking" } else { "importing" });
    let mut conn = open_store(config)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let report = crate::legacy::import(&tx, &source, &options, &mut |n| bar.inc(n))?;
    bar.finish_and_clear();
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    print!("{}", report.render(dry_run));
    tracing::info!(
        meetings = report.meetings_imported,
        attendees = report.attendees_imported,
        feeds = report.feeds_imported,
        skipped = report.skipped.len(),
        dry_run,
        "import-legacy: {}",
        path.display()
    );
    Ok(())
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

/// Every check `serve` makes before it answers, changing nothing (a probe file may be created and
/// removed to learn whether a folder is writable). `check-config` runs exactly this and `serve` runs
/// it first, so they agree. Returns the warnings ([`Config::warnings`]).
pub fn preflight(config: &Config) -> anyhow::Result<Vec<String>> {
    // Where jmb listens: a socket path must not hold anything but a socket (which may be in use by
    // the running jmb when `check-config` runs before a restart).
    if let ListenAddr::Unix(path) = config.listen_addr()? {
        inspect_socket_path(&path)?;
    }
    // The store: a database jmb can write, or a folder where it can create one; not from a newer jmb.
    crate::db::Db::check(&config.database.path, std::time::Duration::from_millis(config.database.busy_timeout_ms))?;
    // The server secret: inline (checked with the configuration) or a file of at least 32 bytes.
    if config.server.secret.is_empty() {
        let path = config.server_secret_path();
        crate::secrets::check_secret_file(&path).map_err(|e| {
            let key = if config.server.secret_file.is_some() { "server.secret_file" } else { "server.secret" };
            anyhow::anyhow!("`{key}`: {}: {e}", path.display())
        })?;
    }
    // The Jitsi signer: reads `jitsi.app_secret_file`, refuses a secret shorter than 32 bytes.
    crate::jitsi::Jitsi::from_config(config)?;
    // The mail transport: the SMTP URL, the password and CA files (nothing is connected to).
    crate::mailer::from_config(config)?;
    // The metrics token file, when set: readable and long enough.
    crate::metrics::ScrapeAccess::from_config(config)?;
    // The event_sync bearer secret, when `[presence]` is on: readable and long enough.
    config.presence_secret()?;
    let mut warnings = config.warnings();
    warnings.extend(private_data_warnings(config));
    Ok(warnings)
}

/// The database and its folder hold every personal-link token and password hash: jmb creates them
/// 0600 and 0700, but one created otherwise (by hand, by an older jmb) is reported.
fn private_data_warnings(config: &Config) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let db = &config.database.path;
        let folder = db.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf);
        [Some(db.clone()), folder]
            .into_iter()
            .flatten()
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.permissions().mode() & 0o777)))
            .filter(|(_, mode)| mode & 0o077 != 0)
            .map(|(p, mode)| {
                let want = if p.is_dir() { "0700" } else { "0600" };
                format!(
                    "`database.path`: {} has mode {mode:04o}, so other accounts may read tokens and password hashes: chmod {want} it",
                    p.display()
                )
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = config;
        Vec::new()
    }
}

/// What is at the path of a unix socket jmb is to listen on.
#[derive(Debug, PartialEq, Eq)]
enum SocketPath {
    Free,
    /// A socket nobody listens on (left by a previous run): replaced.
    Stale,
    /// A socket another process (another jmb?) listens on.
    InUse,
}

/// Looks at a socket path without following links: anything but a socket (a database, a config
/// file, a link) is refused, never removed.
fn inspect_socket_path(path: &Path) -> anyhow::Result<SocketPath> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SocketPath::Free),
        Err(e) => anyhow::bail!("`server.listen`: cannot inspect {}: {e}", path.display()),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            return match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => Ok(SocketPath::InUse),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(SocketPath::Stale),
                Err(e) => anyhow::bail!("`server.listen`: cannot tell whether {} is in use: {e}", path.display()),
            };
        }
    }
    let kind = if meta.file_type().is_symlink() {
        "a symbolic link"
    } else if meta.is_dir() {
        "a folder"
    } else {
        "a file"
    };
    anyhow::bail!(
        "`server.listen`: {} is {kind}, not a socket; jmb only replaces a socket left by an earlier run",
        path.display()
    )
}

/// Binds a unix socket at `path`, replacing a stale socket and nothing else.
#[cfg(unix)]
fn bind_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    match inspect_socket_path(path)? {
        SocketPath::InUse => {
            anyhow::bail!("`server.listen`: another process is listening on {}", path.display())
        }
        SocketPath::Stale => std::fs::remove_file(path)?,
        SocketPath::Free => {}
    }
    Ok(tokio::net::UnixListener::bind(path)?)
}

/// The state, on the system clock; in debug builds (those the test suites run), on the test clock when
/// `JMB_TEST_CLOCK_FILE` is set. Release builds have no test clock at all.
#[cfg(debug_assertions)]
fn test_clock_state(config: Config, listen: &ListenAddr) -> anyhow::Result<crate::state::AppState> {
    match std::env::var_os(crate::clock::TEST_CLOCK_ENV) {
        None => Ok(app::build_default_state(config)?),
        Some(path) => {
            // Tests of a running server only: never where anyone but this machine could reach it.
            let loopback = matches!(listen, ListenAddr::Tcp(addr) if addr.ip().is_loopback());
            if !loopback {
                anyhow::bail!(
                    "{} is for tests: it needs server.listen on a loopback address",
                    crate::clock::TEST_CLOCK_ENV
                );
            }
            tracing::warn!(file = ?path, "TEST CLOCK: time is shifted by the offset in this file; never in production");
            Ok(app::build_state(config, crate::clock::FileOffsetClock::watch(path.into()))?)
        }
    }
}

#[cfg(not(debug_assertions))]
fn test_clock_state(config: Config, _listen: &ListenAddr) -> anyhow::Result<crate::state::AppState> {
    if std::env::var_os("JMB_TEST_CLOCK_FILE").is_some() {
        tracing::warn!("JMB_TEST_CLOCK_FILE is ignored: release builds have no test clock");
    }
    Ok(app::build_default_state(config)?)
}

async fn serve(config: Config, embedded: bool) -> anyhow::Result<()> {
    for warning in preflight(&config)? {
        tracing::warn!("{warning}");
    }
    if let Some(warning) = crate::open_files_warning(config.server.max_connections) {
        tracing::warn!("{warning}");
    }
    let listen = config.listen_addr()?;
    let public = config.public_base().to_string();
    let shutdown = crate::shutdown_signal();
    let state = test_clock_state(config, &listen)?;
    let listener = match &listen {
        ListenAddr::Tcp(addr) => Listener::Tcp(tokio::net::TcpListener::bind(addr).await?),
        #[cfg(unix)]
        ListenAddr::Unix(path) => Listener::Unix(bind_unix(path)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn socket_paths() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let sock = dir.path().join("jmb.sock");
        assert_eq!(inspect_socket_path(&sock).unwrap(), SocketPath::Free);
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(inspect_socket_path(&sock).unwrap(), SocketPath::InUse);
        drop(listener);
        assert_eq!(inspect_socket_path(&sock).unwrap(), SocketPath::Stale);
        let file = dir.path().join("jmb.sqlite3");
        std::fs::write(&file, b"precious").unwrap();
        let err = inspect_socket_path(&file).unwrap_err().to_string();
        assert!(err.contains("server.listen") && err.contains("is a file"), "{err}");
        std::os::unix::fs::symlink(&sock, dir.path().join("link")).unwrap();
        assert!(inspect_socket_path(&dir.path().join("link")).unwrap_err().to_string().contains("symbolic link"));
        assert!(inspect_socket_path(dir.path()).unwrap_err().to_string().contains("folder"));
    }
}
