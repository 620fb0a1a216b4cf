//! `kiwi-operator`: runs the controller, or prints the CRD / the objects of a KiwiCluster.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use clap::{Parser, Subcommand};
use kiwi_operator::admin::AdminClient;
use kiwi_operator::controller::{self, Context};
use kiwi_operator::crd::KiwiCluster;
use kiwi_operator::election;
use kiwi_operator::metrics::Metrics;

#[derive(Parser)]
#[command(
    name = "kiwi-operator",
    version,
    about = "Kubernetes operator for Kiwi clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(RunArgs),
    /// Print the KiwiCluster CustomResourceDefinition as YAML.
    Crd,
    /// Print the objects the operator would create for a KiwiCluster manifest, as YAML.
    Render {
        /// The KiwiCluster manifest (YAML).
        #[arg(short, long)]
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "KIWI_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Address of the /metrics and /healthz endpoint.
    #[arg(long, env = "KIWI_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Take a Lease before reconciling, so only one of several replicas acts.
    #[arg(long, env = "KIWI_LEADER_ELECTION", default_value_t = false)]
    leader_election: bool,
    /// Namespace of the leader-election Lease (default: the operator pod's namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Log filter, for example `info` or `kiwi_operator=debug`.
    #[arg(long, env = "KIWI_LOG", default_value = "info")]
    log_level: String,
    /// Emit logs as JSON.
    #[arg(long, env = "KIWI_LOG_JSON", default_value_t = false)]
    log_json: bool,
    /// Timeout of each call to a node's admin API, in seconds.
    #[arg(long, env = "KIWI_ADMIN_TIMEOUT", default_value_t = 5)]
    admin_timeout: u64,
}

fn read_cluster(file: &PathBuf) -> anyhow::Result<KiwiCluster> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut kc: KiwiCluster =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    if kc.metadata.namespace.is_none() {
        kc.metadata.namespace = Some("default".into());
    }
    Ok(kc)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", serde_yaml::to_string(&kiwi_operator::crd::crd())?);
            Ok(())
        }
        Command::Render { file } => {
            let kc = read_cluster(&file)?;
            for object in controller::render(&kc)? {
                println!("---");
                print!("{}", serde_yaml::to_string(&object)?);
            }
            Ok(())
        }
        Command::Run(args) => run(args).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid log level '{}'", args.log_level))?;
    // Colour only for a person at a terminal: escape codes are noise in `kubectl logs`, log
    // files and collectors. NO_COLOR (no-color.org) turns it off there too.
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    if args.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "kiwi-operator starting"
    );

    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Metrics::new();
    let served = metrics.clone();
    let app = axum::Router::new()
        .route("/metrics", get(move || async move { served.render() }))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding {}", args.metrics_addr))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });

    if args.leader_election {
        let identity = std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("kiwi-operator-{}", std::process::id()));
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), "kiwi-operator")
            .with_namespace(&args.lease_namespace)
            .with_identity(identity.clone())
            .with_duration(15)
            .with_grace(5)
            .build()
            .await
            .context("creating the leader-election lease manager")?;
        let (leading, task) = manager.watch().await;
        tracing::info!(%identity, "waiting for the leader lease");
        let ctx = Arc::new(Context::new(
            client,
            AdminClient::new(Duration::from_secs(args.admin_timeout)),
            metrics,
        ));
        election::run_while_leading(leading, task, controller::run(ctx, args.namespace)).await?;
        Ok(())
    } else {
        let ctx = Arc::new(Context::new(
            client,
            AdminClient::new(Duration::from_secs(args.admin_timeout)),
            metrics,
        ));
        controller::run(ctx, args.namespace).await;
        Ok(())
    }
}
