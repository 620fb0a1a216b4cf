//! `kiwi`: parse the configuration, start the node, run until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use kiwi::config::{flag_refused, Config, KEYS, TUNABLES};
use kiwi::node::Node;

// A request allocates a few small buffers at every step (arguments, the log entry, the write
// batch, the reply); glibc's malloc was an eighth of a write's CPU, mimalloc takes half that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cli() -> Command {
    let mut cmd = Command::new("kiwi")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Kiwi: a Redis-compatible key-value store on RocksDB.\n\nWith no options, starts a single node on 127.0.0.1:7379 with data under ./kiwi-data.\nEvery config-file key is also a flag; flags override the file. Secrets (admin-token,\ncluster-secret) come from the config file, KIWI_ADMIN_TOKEN / KIWI_CLUSTER_SECRET /\nKIWI_REQUIREPASS, or --*-file, never from flags; without them a node serves admin and peer\ncalls from its own host only (protected mode).\n\n`kiwi step-down [same flags]` asks the local node to hand its leadership to another voter;\n`kiwi health [same flags]` exits 0 when the local node answers its health check.")
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
    // Redis's own parameters are flags too, as redis-server takes them, but kept out of --help:
    // they change nothing in how Kiwi stores data (see config::tunables).
    for name in tunable_names() {
        cmd = cmd.arg(
            Arg::new(name)
                .long(name)
                .value_name("VALUE")
                .action(ArgAction::Set)
                .overrides_with(name)
                .hide(true),
        );
    }
    cmd
}

fn tunable_names() -> impl Iterator<Item = &'static str> {
    TUNABLES
        .iter()
        .flat_map(|t| std::iter::once(t.name).chain(t.alias))
}

fn load_config(args: Vec<String>) -> Result<Config, String> {
    let matches = cli().get_matches_from(args);
    let mut config = Config::default();
    let file = matches
        .get_one::<String>("config")
        .or_else(|| matches.get_one::<String>("config-file"));
    if let Some(path) = file {
        config
            .apply_file(std::path::Path::new(path))
            .map_err(|e| e.to_string())?;
    }
    config
        .apply_env(|var| std::env::var(var).ok())
        .map_err(|e| e.to_string())?;
    let mut requirepass_from_outside = std::env::var_os("KIWI_REQUIREPASS").is_some();
    for name in tunable_names() {
        if let Some(value) = matches.get_one::<String>(name) {
            config.set_flag(name, value).map_err(|e| e.to_string())?;
        }
    }
    for key in KEYS {
        if let Some(value) = matches.get_one::<String>(key.name) {
            if let Some(var) = flag_refused(key.name) {
                return Err(format!(
                    "--{0} would show the secret to every user of this machine (ps) and in \
                     Kubernetes pod specs: put it in the config file, in {var}, or in a file \
                     named by --{0}-file",
                    key.name
                ));
            }
            if key.name == "requirepass" {
                requirepass_from_outside = true;
                eprintln!(
                    "kiwi: warning: --requirepass shows the password in `ps`; prefer the \
                     config file or KIWI_REQUIREPASS"
                );
            }
            config
                .set_flag(key.name, value)
                .map_err(|e| e.to_string())?;
        }
    }
    if requirepass_from_outside {
        // CONFIG REWRITE must not copy it into the file (see config::rewrite).
        config.requirepass_from_outside = Some(config.requirepass.clone());
    }
    if let Some(path) = file {
        // Absolute, as Redis keeps it: CONFIG REWRITE writes the file the node started with.
        config.config_file = Some(
            std::path::absolute(path)
                .map_err(|e| format!("cannot resolve config file {path}: {e}"))?,
        );
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
        // Colour only for a person at a terminal: `docker logs`, kubectl logs and files
        // captured from stderr must not carry escape codes.
        None => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init(),
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

/// The subcommands that call the node running on this host (same config and flags as the
/// server) through its admin API, with the admin token from the configuration or the
/// environment (none: protected mode takes local callers).
#[derive(Clone, Copy, PartialEq, Eq)]
enum LocalCall {
    /// `kiwi step-down`: hand leadership to a healthy voter. For Kubernetes' preStop hook,
    /// which cannot send a token without writing it into the pod spec.
    StepDown,
    /// `kiwi health`: exit 0 when the node answers /healthz. For Docker's HEALTHCHECK (the
    /// image holds no HTTP client).
    Health,
}

impl LocalCall {
    fn parse(word: &str) -> Option<LocalCall> {
        match word {
            "step-down" => Some(LocalCall::StepDown),
            "health" => Some(LocalCall::Health),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LocalCall::StepDown => "step-down",
            LocalCall::Health => "health",
        }
    }
}

fn call_local_node(call: LocalCall, config: Config) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("kiwi {}: {e}", call.name());
        ExitCode::FAILURE
    };
    // The node listens on raft-bind (0.0.0.0 in a pod): reach it on loopback.
    let listen = config.raft_listen_addr();
    let addr = match listen.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]" | "::", port)) => format!("127.0.0.1:{port}"),
        _ => listen,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    let transport = match kiwi::node::cluster_transport(&config) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    // Dialed on loopback, the node's certificate names its advertised address.
    let target = kiwi::http::client::Target {
        addr: addr.clone(),
        name: Some(kiwi::transport::host_of(&config.raft_addr).to_string()),
    };
    let token = config.admin_token.clone();
    let response = runtime.block_on(async {
        match call {
            LocalCall::StepDown => {
                let body = serde_json::json!({});
                kiwi::http::client::post_json(
                    &transport,
                    &target,
                    "/raft/step_down",
                    &body,
                    token.as_deref(),
                    std::time::Duration::from_secs(15),
                )
                .await
            }
            LocalCall::Health => {
                kiwi::http::client::get_json(
                    &transport,
                    &target,
                    "/healthz",
                    std::time::Duration::from_secs(3),
                )
                .await
            }
        }
    });
    match response {
        Ok(resp) if resp.status == 200 => {
            println!("{}", resp.body);
            ExitCode::SUCCESS
        }
        Ok(resp) => fail(&format!("HTTP {}: {}", resp.status, resp.body)),
        Err(e) => fail(&format!("{addr}: {e}")),
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let local_call = args.get(1).and_then(|a| LocalCall::parse(a));
    if local_call.is_some() {
        args.remove(1);
    }
    let config = match load_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiwi: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(call) = local_call {
        return call_local_node(call, config);
    }
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
