//! `kiwi`: parse the configuration, start the node, run until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use kiwi::config::{Config, KEYS};
use kiwi::node::Node;

// A request allocates a few small buffers at every step (arguments, the log entry, the write
// batch, the reply); glibc's malloc was an eighth of a write's CPU, mimalloc takes half that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cli() -> Command {
    let mut cmd = Command::new("kiwi")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Kiwi: a Redis-compatible key-value store on RocksDB.\n\nWith no options, starts a single node on 127.0.0.1:7379 with data under ./kiwi-data.\nEvery config-file key is also a flag; flags override the file.")
        .arg(Arg::new("config-file").value_name("CONFIG").help("config file (same as --config)"))
        .arg(Arg::new("config").long("config").short('c').value_name("FILE").help("Redis-style config file: `key value` lines, # comments"))
        .arg(Arg::new("bootstrap").long("bootstrap").action(ArgAction::SetTrue).help("initialize a one-node cluster if this node has no raft state (the default without a config file)"))
        .arg(Arg::new("join").long("join").value_name("ADDR").help("join a cluster through any member's raft/HTTP address (host:port) if this node has no raft state"));
    for key in KEYS {
        cmd = cmd.arg(
            Arg::new(key.name)
                .long(key.name)
                .value_name("VALUE")
                .help(key.help)
                .action(ArgAction::Set)
                // As in redis-server, a later setting of the same key wins.
                .overrides_with(key.name),
        );
    }
    cmd
}

fn load_config() -> Result<Config, String> {
    let matches = cli().get_matches();
    let mut config = Config::default();
    let file = matches
        .get_one::<String>("config")
        .or_else(|| matches.get_one::<String>("config-file"));
    if let Some(path) = file {
        config
            .apply_file(std::path::Path::new(path))
            .map_err(|e| e.to_string())?;
    }
    for key in KEYS {
        if let Some(value) = matches.get_one::<String>(key.name) {
            config
                .set_flag(key.name, value)
                .map_err(|e| e.to_string())?;
        }
    }
    if let Some(addr) = matches.get_one::<String>("join") {
        config
            .set_flag("raft-join", addr)
            .map_err(|e| e.to_string())?;
    }
    if matches.get_flag("bootstrap") {
        config.raft_bootstrap = Some(true);
    }
    if config.raft_bootstrap.is_none() {
        // With no config file a node is a working single-node store out of the box.
        config.raft_bootstrap = Some(file.is_none() && config.raft_join.is_none());
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn init_logging(config: &Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match &config.log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create log-dir {}: {e}", dir.display()))?;
            let path = dir.join("kiwi.log");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn main() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiwi: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("kiwi: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kiwi: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let node = match Node::start(config).await {
            Ok(node) => node,
            Err(e) => {
                eprintln!("kiwi: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        node.shutdown().await;
        ExitCode::SUCCESS
    })
}
