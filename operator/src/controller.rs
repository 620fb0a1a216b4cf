//! The reconciler: observe (StatefulSet, pods, volumes, each node's `/status`), plan one step,
//! act, write status. Owned objects are server-side applied under the operator's own field
//! manager; membership changes go through the node admin API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::act::{self, ActError, Platform};
use crate::admin::AdminClient;
use crate::crd::{KiwiCluster, KiwiClusterStatus};
use crate::metrics::Metrics;
use crate::observe;
use crate::plan::{self, Action, Observed, PodObs, PvcObs};
use crate::resources::{self, SpecError};
use crate::status;

pub const FIELD_MANAGER: &str = "kiwi-operator";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid spec: {0}")]
    Spec(#[from] SpecError),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Act(#[from] ActError),
    #[error("credentials Secret {secret}: {message}")]
    Credentials { secret: String, message: String },
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub admin: AdminClient,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Consecutive failures per cluster, for the retry backoff.
    failures: Mutex<HashMap<ObjectRef<KiwiCluster>, u32>>,
}

impl Context {
    pub fn new(client: Client, admin: AdminClient, metrics: Metrics) -> Context {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            admin,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }
}

/// Server-side applies `obj` under the operator's field manager.
async fn apply<K>(api: &Api<K>, obj: &K) -> Result<K, kube::Error>
where
    K: Resource + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
}

/// Pods and volumes through the Kubernetes API.
struct KubePlatform<'a> {
    kc: &'a KiwiCluster,
    client: &'a Client,
    namespace: &'a str,
}

impl Platform for KubePlatform<'_> {
    async fn scale(&self, replicas: u32) -> Result<(), ActError> {
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), self.namespace);
        apply(&api, &resources::stateful_set(self.kc, replicas as i32)).await?;
        Ok(())
    }

    async fn delete_pod(&self, pod: &str) -> Result<(), ActError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace);
        api.delete(pod, &DeleteParams::default()).await?;
        Ok(())
    }

    async fn delete_pvc(&self, pvc: &str) -> Result<(), ActError> {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), self.namespace);
        match api.delete(pvc, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The cluster's admin token, from its credentials Secret. A missing Secret is created (with
/// fresh random values) when `create`; it is never rewritten, since new values would lock the
/// running nodes out of each other.
async fn admin_token(
    kc: &KiwiCluster,
    client: &Client,
    namespace: &str,
    create: bool,
) -> Result<Option<String>, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = resources::credentials_secret_name(&kc.name_any());
    let secret = match api.get_opt(&name).await? {
        Some(secret) => secret,
        None if create => {
            match api
                .create(&PostParams::default(), &resources::credentials_secret(kc))
                .await
            {
                Ok(secret) => secret,
                // Created in between (another operator replica): use theirs.
                Err(kube::Error::Api(e)) if e.code == 409 => api.get(&name).await?,
                Err(e) => return Err(e.into()),
            }
        }
        None => return Ok(None),
    };
    // The API server keeps the stringData the Secret was created with as data.
    let token = secret
        .data
        .as_ref()
        .and_then(|d| d.get(resources::ADMIN_TOKEN_KEY))
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_string());
    match token {
        Some(token) if !token.is_empty() => Ok(Some(token)),
        _ => Err(Error::Credentials {
            secret: name,
            message: format!("has no '{}' key", resources::ADMIN_TOKEN_KEY),
        }),
    }
}

fn ordinal_of(cluster: &str, name: &str) -> Option<u32> {
    name.strip_prefix(cluster)?.strip_prefix('-')?.parse().ok()
}

/// Observes the cluster's pods and volumes (not yet the nodes).
fn pod_observations(
    kc: &KiwiCluster,
    namespace: &str,
    pods: &[Pod],
    pvcs: &[PersistentVolumeClaim],
) -> (Vec<PodObs>, Vec<PvcObs>) {
    let name = kc.name_any();
    let pvc_obs: Vec<PvcObs> = pvcs
        .iter()
        .filter_map(|c| {
            let claim = c.name_any();
            let pod = claim.strip_prefix("data-")?;
            Some(PvcObs {
                ordinal: ordinal_of(&name, pod)?,
                name: claim,
            })
        })
        .collect();
    let mut pod_obs: Vec<PodObs> = pods
        .iter()
        .filter_map(|p| {
            let pod = p.name_any();
            let ordinal = ordinal_of(&name, &pod)?;
            let claim = resources::pvc_name(&name, ordinal);
            let status = p.status.as_ref();
            let ready = status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let ip = status.and_then(|s| s.pod_ip.clone());
            let host = resources::pod_host(&name, namespace, &pod);
            Some(PodObs {
                ordinal,
                pvc_uid: pvcs
                    .iter()
                    .find(|c| c.name_any() == claim)
                    .and_then(|c| c.metadata.uid.clone()),
                ready,
                terminating: p.metadata.deletion_timestamp.is_some(),
                revision: p.annotations().get(resources::REVISION_ANNOTATION).cloned(),
                admin_addr: ip
                    .map(|ip| format!("{ip}:{}", resources::RAFT_PORT))
                    .unwrap_or_default(),
                raft_addr: format!("{host}:{}", resources::RAFT_PORT),
                resp_addr: format!("{host}:{}", resources::RESP_PORT),
                node: None,
                name: pod,
            })
        })
        .collect();
    pod_obs.sort_by_key(|p| p.ordinal);
    (pod_obs, pvc_obs)
}

/// Reconciles one KiwiCluster, recording metrics.
pub async fn reconcile(kc: Arc<KiwiCluster>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let started = Instant::now();
    let result = reconcile_cluster(&kc, &ctx).await;
    let label = if result.is_ok() { "ok" } else { "error" };
    ctx.metrics.reconciles.with_label_values(&[label]).inc();
    ctx.metrics
        .reconcile_seconds
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        if let Ok(mut failures) = ctx.failures.lock() {
            failures.remove(&ObjectRef::from(kc.as_ref()));
        }
    }
    result
}

/// Retries a failed reconcile with exponential backoff (1 s doubling to 5 minutes).
pub fn error_policy(kc: Arc<KiwiCluster>, error: &Error, ctx: Arc<Context>) -> Requeue {
    let attempts = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(ObjectRef::from(kc.as_ref())).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    let delay = Duration::from_secs(1u64 << attempts.min(9).saturating_sub(1))
        .min(Duration::from_secs(300));
    tracing::warn!(cluster = %kc.name_any(), %error, attempts, ?delay, "reconcile failed");
    Requeue::requeue(delay)
}

async fn publish(ctx: &Context, kc: &KiwiCluster, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &kc.object_ref(&())).await {
        tracing::debug!(error = %e, "could not publish event");
    }
}

fn event_reason(action: &Action) -> &'static str {
    match action {
        Action::ScaleStatefulSet { .. } => "Scaled",
        Action::Init { .. } => "Initialized",
        Action::Adopt { .. } => "Adopted",
        Action::AddLearner { .. } => "LearnerAdded",
        Action::Promote { .. } => "Promoted",
        Action::TransferLeader { .. } => "LeaderTransferred",
        Action::RemoveMember { .. } => "MemberRemoved",
        Action::DeletePod { .. } => "PodRestarted",
        Action::DeletePodAndPvc { .. } => "StaleVolumeReplaced",
        Action::DeletePvc { .. } => "VolumeReclaimed",
        Action::QuorumLost { .. } => "QuorumLost",
        Action::Halt { .. } => "Halted",
        Action::Idle | Action::Wait { .. } => "Waiting",
    }
}

async fn write_status(
    api: &Api<KiwiCluster>,
    name: &str,
    status: &KiwiClusterStatus,
) -> Result<(), kube::Error> {
    let body = json!({
        "apiVersion": "kiwi.io/v1alpha1",
        "kind": "KiwiCluster",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Labels the leader's pod (the `-leader` Service selects it) and unlabels the others.
async fn label_leader(
    pods_api: &Api<Pod>,
    pods: &[Pod],
    leader_pod: Option<&str>,
) -> Result<(), kube::Error> {
    for pod in pods {
        let name = pod.name_any();
        let is_leader = leader_pod == Some(name.as_str());
        let labelled = pod.labels().get(resources::ROLE_LABEL).map(String::as_str)
            == Some(resources::ROLE_LEADER);
        if is_leader != labelled {
            let value = if is_leader {
                json!(resources::ROLE_LEADER)
            } else {
                serde_json::Value::Null
            };
            let patch = json!({ "metadata": { "labels": { resources::ROLE_LABEL: value } } });
            pods_api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}

async fn reconcile_cluster(kc: &KiwiCluster, ctx: &Context) -> Result<Requeue, Error> {
    let namespace = resources::namespace_of(kc)?;
    let name = kc.name_any();
    let client = &ctx.client;
    let clusters: Api<KiwiCluster> = Api::namespaced(client.clone(), &namespace);
    let previous = kc.status.clone().unwrap_or_default();

    if let Err(e) = resources::validate(kc) {
        // Nothing to retry: the spec must change first.
        publish(ctx, kc, EventType::Warning, "InvalidSpec", e.to_string()).await;
        let mut status = previous.clone();
        status.observed_generation = kc.metadata.generation;
        status.conditions.retain(|c| c.type_ != "Progressing");
        status
            .conditions
            .push(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "Progressing".into(),
                status: "False".into(),
                reason: "InvalidSpec".into(),
                message: e.to_string(),
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    Timestamp::now(),
                ),
                observed_generation: kc.metadata.generation,
            });
        write_status(&clusters, &name, &status).await?;
        return Ok(Requeue::await_change());
    }

    // Membership calls need the cluster's admin token; a paused cluster is only observed, and
    // probes need none.
    let admin = match admin_token(kc, client, &namespace, !kc.spec.paused).await? {
        Some(token) => ctx.admin.with_token(&token),
        None => ctx.admin.clone(),
    };
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let sts_replicas = sts_api
        .get_opt(&name)
        .await?
        .and_then(|s| s.spec.replicas)
        .map(|r| r.max(0) as u32);

    if !kc.spec.paused {
        let (config_map, services, pdb) = resources::fixed_objects(kc);
        apply(
            &Api::<ConfigMap>::namespaced(client.clone(), &namespace),
            &config_map,
        )
        .await?;
        let services_api: Api<Service> = Api::namespaced(client.clone(), &namespace);
        for service in &services {
            apply(&services_api, service).await?;
        }
        let pdb_api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &namespace);
        match pdb {
            Some(pdb) => {
                apply(&pdb_api, &pdb).await?;
            }
            None => {
                if let Err(kube::Error::Api(e)) =
                    pdb_api.delete(&name, &DeleteParams::default()).await
                {
                    if e.code != 404 {
                        return Err(kube::Error::Api(e).into());
                    }
                }
            }
        }
        // Template changes land at once; with OnDelete, pods move only when the roll deletes them.
        if let Some(replicas) = sts_replicas {
            apply(&sts_api, &resources::stateful_set(kc, replicas as i32)).await?;
        }
    }

    let selector = resources::selector_string(&name);
    let lp = ListParams::default().labels(&selector);
    let pods = pods_api.list(&lp).await?.items;
    let pvcs = pvc_api.list(&lp).await?.items;
    let (mut pod_obs, pvc_obs) = pod_observations(kc, &namespace, &pods, &pvcs);
    let progress = observe::probe_nodes(&admin, &mut pod_obs).await;
    let now = Timestamp::now();
    let observed = Observed {
        desired_replicas: kc.spec.replicas.max(1) as u32,
        sts_replicas,
        pods: pod_obs,
        pvcs: pvc_obs,
        progress,
        memory: status::memory_of(&previous),
        revision: resources::revision(kc),
        max_learner_lag: kc.spec.membership.max_learner_lag,
        catch_up_timeout: Duration::from_secs(kc.spec.membership.catch_up_timeout_seconds),
        reclaim_on_scale_down: kc.spec.storage.reclaim_on_scale_down,
        now,
    };
    let step = plan::plan(&observed);
    let mut memory = observed.memory.clone();
    let mut failure = None;
    if kc.spec.paused {
        tracing::info!(cluster = %name, action = ?step.action, "paused: not acting");
    } else {
        let platform = KubePlatform {
            kc,
            client,
            namespace: &namespace,
        };
        let kind = act::kind(&step.action);
        match act::execute(&step.action, &admin, &platform).await {
            Ok(()) => {
                act::remember(&mut memory, &step);
                if act::changes_something(&step.action) {
                    ctx.metrics
                        .membership_ops
                        .with_label_values(&[kind, "ok"])
                        .inc();
                    tracing::info!(cluster = %name, action = kind, "{}", act::describe(&step.action));
                    publish(
                        ctx,
                        kc,
                        EventType::Normal,
                        event_reason(&step.action),
                        act::describe(&step.action),
                    )
                    .await;
                } else if matches!(step.action, Action::QuorumLost { .. } | Action::Halt { .. }) {
                    tracing::warn!(cluster = %name, action = kind, "{}", act::describe(&step.action));
                    publish(
                        ctx,
                        kc,
                        EventType::Warning,
                        event_reason(&step.action),
                        act::describe(&step.action),
                    )
                    .await;
                }
            }
            Err(e) => {
                ctx.metrics
                    .membership_ops
                    .with_label_values(&[kind, "error"])
                    .inc();
                publish(
                    ctx,
                    kc,
                    EventType::Warning,
                    "OperationFailed",
                    format!("{}: {e}", act::describe(&step.action)),
                )
                .await;
                failure = Some(e);
            }
        }
        let leader_pod = plan::current_leader(&observed.pods).map(|(p, _)| p.name.as_str());
        label_leader(&pods_api, &pods, leader_pod).await?;
    }

    let new_status = status::build(
        kc.metadata.generation,
        selector,
        &observed,
        &step,
        &memory,
        &previous,
        now,
    );
    ctx.metrics
        .set_phase(&namespace, &name, new_status.phase.as_str());
    if new_status != previous {
        write_status(&clusters, &name, &new_status).await?;
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(match step.action {
        Action::Idle => Requeue::requeue(Duration::from_secs(30)),
        Action::QuorumLost { .. } | Action::Halt { .. } => {
            Requeue::requeue(Duration::from_secs(10))
        }
        Action::Wait { .. } => Requeue::requeue(Duration::from_secs(2)),
        _ => Requeue::requeue(Duration::from_millis(500)),
    })
}

/// Runs the controller until a shutdown signal: KiwiClusters in `namespace` (all when `None`),
/// woken by changes to them, their StatefulSets and their pods.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>) {
    let client = ctx.client.clone();
    let (clusters, sets, pods) = match &namespace {
        Some(ns) => (
            Api::<KiwiCluster>::namespaced(client.clone(), ns),
            Api::<StatefulSet>::namespaced(client.clone(), ns),
            Api::<Pod>::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    };
    let kiwi_pods = watcher::Config::default().labels("app.kubernetes.io/name=kiwi");
    let controller = Controller::new(clusters, watcher::Config::default());
    // A deleted KiwiCluster is never reconciled again: its gauges go when it leaves the cache.
    let store = controller.store();
    let metrics = ctx.metrics.clone();
    let pruner = tokio::spawn(async move {
        if store.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            metrics.retain_clusters(|namespace, name| {
                store.get(&ObjectRef::new(name).within(namespace)).is_some()
            });
        }
    });
    controller
        .owns(sets, watcher::Config::default())
        .watches(pods, kiwi_pods, |pod: Pod| {
            let cluster = pod.labels().get("app.kubernetes.io/instance")?.clone();
            let namespace = pod.namespace()?;
            Some(ObjectRef::<KiwiCluster>::new(&cluster).within(&namespace))
        })
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile outcome");
            }
        })
        .await;
    pruner.abort();
}

/// Kubernetes objects a reconcile would apply for `kc`, in order (for `kiwi-operator render`).
pub fn render(kc: &KiwiCluster) -> Result<Vec<serde_json::Value>, Error> {
    resources::validate(kc)?;
    let (config_map, services, pdb) = resources::fixed_objects(kc);
    let mut out = vec![serde_json::to_value(config_map).unwrap_or_default()];
    out.extend(
        services
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default()),
    );
    if let Some(pdb) = pdb {
        out.push(serde_json::to_value(pdb).unwrap_or_default());
    }
    out.push(
        serde_json::to_value(resources::stateful_set(kc, kc.spec.replicas)).unwrap_or_default(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests;
