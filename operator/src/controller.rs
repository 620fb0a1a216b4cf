//! The reconciler: observe (StatefulSet, pods, volumes, each node's `/status`), plan one step,
//! act, write status. Owned objects are server-side applied under the operator's own field
//! manager; membership changes go through the node admin API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, ObjectReference, PersistentVolumeClaim, Pod, Secret, Service,
};
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
    #[error("TLS Secret {secret}: {message}")]
    Tls { secret: String, message: String },
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub admin: AdminClient,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Consecutive failures per cluster, for the retry backoff.
    failures: Mutex<HashMap<ObjectRef<KiwiCluster>, u32>>,
    /// The admin tokens seen per cluster, to reach nodes that still hold a rotated one.
    admin_tokens: Mutex<HashMap<ObjectRef<KiwiCluster>, TokenHistory>>,
}

/// A cluster's admin token and the one it replaced. After the credentials Secret is rotated,
/// each node takes the new token only when kubelet refreshes its mounted copy (within a minute
/// or two); until then the operator reaches it with the old one. Kept in memory: an operator
/// restarted mid-rotation waits for the refresh instead (its calls fail and are retried).
#[derive(Debug, Default, PartialEq)]
struct TokenHistory {
    current: String,
    previous: Option<String>,
}

impl TokenHistory {
    /// Records `token` as the Secret's now; the tokens to try, in order.
    fn observe(&mut self, token: &str) -> Vec<String> {
        if self.current != token {
            let replaced = std::mem::replace(&mut self.current, token.to_string());
            self.previous = (!replaced.is_empty()).then_some(replaced);
        }
        std::iter::once(self.current.clone())
            .chain(self.previous.clone())
            .collect()
    }
}

impl Context {
    /// Forgets what is kept per cluster (admin tokens, failure counts) for clusters gone.
    fn retain_clusters(&self, exists: impl Fn(&ObjectRef<KiwiCluster>) -> bool) {
        if let Ok(mut tokens) = self.admin_tokens.lock() {
            tokens.retain(|cluster, _| exists(cluster));
        }
        if let Ok(mut failures) = self.failures.lock() {
            failures.retain(|cluster, _| exists(cluster));
        }
    }

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
            admin_tokens: Mutex::new(HashMap::new()),
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
    secrets_hash: Option<&'a str>,
}

impl Platform for KubePlatform<'_> {
    async fn scale(&self, replicas: u32) -> Result<(), ActError> {
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), self.namespace);
        apply(
            &api,
            &resources::stateful_set(self.kc, replicas as i32, self.secrets_hash),
        )
        .await?;
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

/// What the operator reads from the Secrets the pods use: the admin token, and the hash of
/// the Secrets the pods read at start only (with `spec.auth`, the password), which rolls the
/// pods when such a Secret is rotated. The credentials Secret is left out: the nodes reload
/// it in place (see `resources::CREDENTIALS_DIR`).
struct Credentials {
    token: Option<String>,
    secrets_hash: Option<String>,
}

/// Reads the cluster's credentials Secret (and the auth Secret, for its hash). A missing
/// credentials Secret is created (with fresh random values) when `create`; the operator never
/// rewrites it, since new values would lock the running nodes out of each other.
async fn credentials(
    kc: &KiwiCluster,
    client: &Client,
    namespace: &str,
    create: bool,
) -> Result<Credentials, Error> {
    let Some(secret) = credentials_secret(kc, client, namespace, create).await? else {
        return Ok(Credentials {
            token: None,
            secrets_hash: None,
        });
    };
    let token = secret
        .data
        .as_ref()
        .and_then(|d| d.get(resources::ADMIN_TOKEN_KEY))
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_string());
    let token = match token {
        Some(token) if !token.is_empty() => token,
        _ => {
            return Err(Error::Credentials {
                secret: secret.name_any(),
                message: format!("has no '{}' key", resources::ADMIN_TOKEN_KEY),
            })
        }
    };
    let mut secrets = Vec::new();
    if let Some(auth) = &kc.spec.auth {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        // Only its selected key counts; a missing Secret keeps the pods from starting anyway
        // (and shows in their events).
        if let Some(mut password) = api.get_opt(&auth.secret_name).await? {
            password.data = password.data.map(|mut d| {
                d.retain(|k, _| *k == auth.secret_key);
                d
            });
            secrets.push(password);
        }
    }
    Ok(Credentials {
        token: Some(token),
        secrets_hash: Some(resources::secrets_hash(&secrets)),
    })
}

async fn credentials_secret(
    kc: &KiwiCluster,
    client: &Client,
    namespace: &str,
    create: bool,
) -> Result<Option<Secret>, Error> {
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
    Ok(Some(secret))
}

/// The admin client over HTTPS: trusting the TLS Secret's `ca.crt`, and verifying each pod's
/// certificate against the DNS name in its raft address while dialing its IP.
async fn tls_admin(
    admin: &AdminClient,
    client: &Client,
    namespace: &str,
    secret_name: &str,
    pods: &[PodObs],
) -> Result<AdminClient, Error> {
    let fail = |message: String| Error::Tls {
        secret: secret_name.to_string(),
        message,
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(secret_name)
        .await?
        .ok_or_else(|| fail("not found".into()))?;
    let ca = secret
        .data
        .as_ref()
        .and_then(|d| d.get(resources::TLS_CA_KEY))
        .ok_or_else(|| fail(format!("has no '{}' key", resources::TLS_CA_KEY)))?;
    let names = pods
        .iter()
        .filter(|p| !p.admin_addr.is_empty())
        .filter_map(|p| {
            let (host, _) = p.raft_addr.rsplit_once(':')?;
            Some((p.admin_addr.clone(), host.to_string()))
        })
        .collect();
    admin
        .with_tls(&ca.0, names)
        .map_err(|e| fail(e.to_string()))
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
                terminating: c.metadata.deletion_timestamp.is_some(),
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
                pending: status.and_then(|s| s.phase.as_deref()) == Some("Pending"),
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

/// The wait before retry `attempts` of a failed reconcile: 1 s doubling to 30 s. Most failures
/// are the API server or a pod being briefly away; with a 5-minute ceiling an API-server
/// restart of half a minute left clusters unreconciled for up to two minutes after it came
/// back (the failed attempts had pushed the next one out), and a cluster costs little to look
/// at twice a minute while an error lasts.
pub fn retry_delay(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(1, 6).saturating_sub(1)).min(MAX_RETRY_DELAY)
}

const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Retries a failed reconcile with exponential backoff ([`retry_delay`]).
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
    let delay = retry_delay(attempts);
    tracing::warn!(cluster = %kc.name_any(), %error, attempts, ?delay, "reconcile failed");
    Requeue::requeue(delay)
}

/// An event about the cluster. `action` names what was done to what (see
/// [`act::event_action`]) and `pod`, when given, becomes the related object: the recorder folds
/// events only when both match, so different nodes' events stay apart.
fn event(
    type_: EventType,
    reason: &str,
    action: String,
    note: String,
    pod: Option<(&str, &str)>,
) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action,
        secondary: pod.map(|(namespace, name)| ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        }),
    }
}

/// The event of a planned step (its outcome given by `type_`, `reason` and `note`).
fn step_event(
    kc: &KiwiCluster,
    action: &Action,
    type_: EventType,
    reason: &str,
    note: String,
) -> Event {
    let namespace = kc.namespace().unwrap_or_default();
    event(
        type_,
        reason,
        act::event_action(action),
        note,
        act::subject_pod(action).map(|pod| (namespace.as_str(), pod)),
    )
}

async fn publish(ctx: &Context, kc: &KiwiCluster, event: Event) {
    if let Err(e) = ctx.recorder.publish(&event, &kc.object_ref(&())).await {
        tracing::debug!(error = %e, "could not publish event");
    }
}

/// An event about the cluster as a whole (no pod), its action the reason.
fn cluster_event(type_: EventType, reason: &str, note: String) -> Event {
    event(type_, reason, reason.to_string(), note, None)
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
        Action::Unreachable { .. } => "OperatorCannotReachPods",
        Action::Halt { .. } => "Halted",
        Action::Idle | Action::Wait { .. } => "Waiting",
    }
}

/// Writes the status (a server-side apply of the status subresource). With `resource_version`
/// the write is conditional: the API server refuses it (409 Conflict) if the KiwiCluster
/// changed since that version, so a reconcile working from a stale cache can never overwrite a
/// newer status (its retired ids, its pending operation). Returns the new resourceVersion.
async fn write_status(
    api: &Api<KiwiCluster>,
    name: &str,
    resource_version: Option<&str>,
    status: &KiwiClusterStatus,
) -> Result<Option<String>, kube::Error> {
    let mut body = json!({
        "apiVersion": "kiwi.io/v1alpha1",
        "kind": "KiwiCluster",
        "status": status,
    });
    if let Some(rv) = resource_version {
        body["metadata"] = json!({ "resourceVersion": rv });
    }
    let written = api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await?;
    Ok(written.metadata.resource_version)
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

/// Names the object an error is about.
fn named(kind: &str, object: &str) -> impl FnOnce(kube::Error) -> (String, kube::Error) {
    let object = format!("{kind} {object}");
    move |e| (object, e)
}

/// Applies every object the cluster owns except the StatefulSet's replica count. On failure,
/// names the object the API server refused.
async fn apply_owned(
    kc: &KiwiCluster,
    client: &Client,
    namespace: &str,
    sts_replicas: Option<u32>,
    secrets_hash: Option<&str>,
) -> Result<(), (String, kube::Error)> {
    let name = kc.name_any();
    let (config_map, services, pdb) = resources::fixed_objects(kc);
    apply(
        &Api::<ConfigMap>::namespaced(client.clone(), namespace),
        &config_map,
    )
    .await
    .map_err(named("ConfigMap", &config_map.name_any()))?;
    let services_api: Api<Service> = Api::namespaced(client.clone(), namespace);
    for service in &services {
        apply(&services_api, service)
            .await
            .map_err(named("Service", &service.name_any()))?;
    }
    let pdb_api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), namespace);
    match pdb {
        Some(pdb) => {
            apply(&pdb_api, &pdb)
                .await
                .map_err(named("PodDisruptionBudget", &name))?;
        }
        None => match pdb_api.delete(&name, &DeleteParams::default()).await {
            Err(kube::Error::Api(e)) if e.code != 404 => {
                return Err(named("PodDisruptionBudget", &name)(kube::Error::Api(e)));
            }
            _ => {}
        },
    }
    // Template changes land at once; with OnDelete, pods move only when the roll deletes them.
    if let Some(replicas) = sts_replicas {
        let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
        apply(
            &api,
            &resources::stateful_set(kc, replicas as i32, secrets_hash),
        )
        .await
        .map_err(named("StatefulSet", &name))?;
    }
    Ok(())
}

/// Reports a reconcile that could not go on: a Warning event and the Progressing condition
/// (False, with `reason` and `message`), the rest of the status as it was.
async fn report_failure(
    ctx: &Context,
    kc: &KiwiCluster,
    clusters: &Api<KiwiCluster>,
    previous: &KiwiClusterStatus,
    reason: &str,
    message: String,
) -> Result<(), kube::Error> {
    tracing::warn!(cluster = %kc.name_any(), reason, "{message}");
    publish(
        ctx,
        kc,
        cluster_event(EventType::Warning, reason, message.clone()),
    )
    .await;
    let status = status::with_failure(
        previous,
        kc.metadata.generation,
        reason,
        message,
        Timestamp::now(),
    );
    if &status != previous {
        let rv = kc.metadata.resource_version.as_deref();
        write_status(clusters, &kc.name_any(), rv, &status).await?;
    }
    Ok(())
}

async fn reconcile_cluster(kc: &KiwiCluster, ctx: &Context) -> Result<Requeue, Error> {
    let namespace = resources::namespace_of(kc)?;
    let name = kc.name_any();
    let client = &ctx.client;
    let clusters: Api<KiwiCluster> = Api::namespaced(client.clone(), &namespace);
    let mut previous = kc.status.clone().unwrap_or_default();
    let mut resource_version = kc.metadata.resource_version.clone();

    if kc.metadata.deletion_timestamp.is_some() {
        // Being deleted (the garbage collector removes what it owns, in the foreground or
        // after it): applying now would recreate the StatefulSet the collector just deleted,
        // and membership changes would only slow the pods' exit. Nothing more to do or report.
        tracing::info!(cluster = %name, "being deleted: not acting");
        ctx.metrics.forget(&namespace, &name);
        return Ok(Requeue::await_change());
    }

    if let Err(e) = resources::validate(kc) {
        // Nothing to retry: the spec must change first.
        report_failure(ctx, kc, &clusters, &previous, "InvalidSpec", e.to_string()).await?;
        return Ok(Requeue::await_change());
    }

    // Membership calls need the cluster's admin token; a paused cluster is only observed, and
    // probes need none.
    let credentials = match credentials(kc, client, &namespace, !kc.spec.paused).await {
        Ok(credentials) => credentials,
        Err(e) => {
            let _ = report_failure(
                ctx,
                kc,
                &clusters,
                &previous,
                "CredentialsFailed",
                e.to_string(),
            )
            .await;
            return Err(e);
        }
    };
    let admin = match &credentials.token {
        Some(token) => {
            let mut tokens = ctx.admin_tokens.lock().unwrap_or_else(|e| e.into_inner());
            let history = tokens.entry(ObjectRef::from(kc)).or_default();
            ctx.admin.with_tokens(&history.observe(token))
        }
        None => ctx.admin.clone(),
    };
    let secrets_hash = credentials.secrets_hash.as_deref();
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let sts_replicas = sts_api
        .get_opt(&name)
        .await?
        .and_then(|s| s.spec.replicas)
        .map(|r| r.max(0) as u32);

    if !kc.spec.paused {
        if let Err((object, e)) =
            apply_owned(kc, client, &namespace, sts_replicas, secrets_hash).await
        {
            // The API server refused an object (for example an immutable field changed): the
            // user sees which and why, not only the operator's log.
            let message = format!("applying {object}: {e}");
            let _ = report_failure(ctx, kc, &clusters, &previous, "ApplyFailed", message).await;
            return Err(e.into());
        }
    }

    let selector = resources::selector_string(&name);
    let lp = ListParams::default().labels(&selector);
    let pods = pods_api.list(&lp).await?.items;
    let pvcs = pvc_api.list(&lp).await?.items;
    let (mut pod_obs, pvc_obs) = pod_observations(kc, &namespace, &pods, &pvcs);
    let admin = match &kc.spec.tls {
        Some(tls) => {
            match tls_admin(&admin, client, &namespace, &tls.secret_name, &pod_obs).await {
                Ok(admin) => admin,
                Err(e) => {
                    let _ = report_failure(
                        ctx,
                        kc,
                        &clusters,
                        &previous,
                        "TLSSecretInvalid",
                        e.to_string(),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
        None => admin,
    };
    let progress = observe::probe_nodes(&admin, &mut pod_obs).await;
    let now = Timestamp::now();
    let observed = Observed {
        desired_replicas: kc.spec.replicas.max(1) as u32,
        sts_replicas,
        pods: pod_obs,
        pvcs: pvc_obs,
        progress,
        memory: status::memory_of(&previous),
        revision: resources::revision(kc, secrets_hash),
        max_learner_lag: kc.spec.membership.max_learner_lag,
        catch_up_timeout: Duration::from_secs(kc.spec.membership.catch_up_timeout_seconds),
        reclaim_on_scale_down: kc.spec.storage.reclaim_on_scale_down,
        now,
    };
    let step = plan::plan(&observed);
    let mut memory = observed.memory.clone();
    let mut failure = None;
    let outcome = if kc.spec.paused {
        tracing::info!(cluster = %name, action = ?step.action, "paused: not acting");
        status::Outcome::Paused
    } else {
        let platform = KubePlatform {
            kc,
            client,
            namespace: &namespace,
            secrets_hash,
        };
        let kind = act::kind(&step.action);
        // Intent first: what a step starts or retires is in the status before the step runs.
        let mut intended = memory.clone();
        act::intend(&mut intended, &step);
        if intended != memory {
            let mut status = previous.clone();
            status.pending_operation = intended.pending.clone();
            status.retired_node_ids = intended.retired_node_ids.iter().copied().collect();
            // A conflict means our view is stale: nothing is done, the next reconcile re-plans.
            resource_version =
                write_status(&clusters, &name, resource_version.as_deref(), &status).await?;
            previous = status;
            memory = intended;
        }
        let outcome = match act::execute(&step.action, &admin, &platform).await {
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
                        step_event(
                            kc,
                            &step.action,
                            EventType::Normal,
                            event_reason(&step.action),
                            act::describe(&step.action),
                        ),
                    )
                    .await;
                } else if matches!(
                    step.action,
                    Action::QuorumLost { .. } | Action::Halt { .. } | Action::Unreachable { .. }
                ) {
                    tracing::warn!(cluster = %name, action = kind, "{}", act::describe(&step.action));
                    publish(
                        ctx,
                        kc,
                        step_event(
                            kc,
                            &step.action,
                            EventType::Warning,
                            event_reason(&step.action),
                            act::describe(&step.action),
                        ),
                    )
                    .await;
                }
                status::Outcome::Done
            }
            Err(e) => {
                ctx.metrics
                    .membership_ops
                    .with_label_values(&[kind, "error"])
                    .inc();
                let message = format!("{kind} failed: {e}");
                publish(
                    ctx,
                    kc,
                    step_event(
                        kc,
                        &step.action,
                        EventType::Warning,
                        "OperationFailed",
                        message.clone(),
                    ),
                )
                .await;
                failure = Some(e);
                status::Outcome::Failed {
                    reason: "OperationFailed".into(),
                    message,
                }
            }
        };
        let leader_pod = plan::current_leader(&observed.pods).map(|(p, _)| p.name.as_str());
        label_leader(&pods_api, &pods, leader_pod).await?;
        outcome
    };

    let new_status = status::build(
        kc.metadata.generation,
        selector,
        &observed,
        &step,
        &outcome,
        &memory,
        &previous,
        now,
    );
    ctx.metrics
        .set_phase(&namespace, &name, new_status.phase.as_str());
    if new_status != previous {
        write_status(&clusters, &name, resource_version.as_deref(), &new_status).await?;
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(Requeue::requeue(requeue_after(
        kc.spec.paused,
        &step.action,
        &new_status,
    )))
}

/// When to look again. Acting and waiting steps soon; a cluster that is not yet what it should
/// be (no leader known, degraded, pods not ready) within seconds, so that the status and the
/// leader label follow it; a converged one every few seconds too, since nothing in the API
/// changes when leadership moves; a paused one rarely (it is only observed, and changes to it or
/// its pods wake it anyway).
pub fn requeue_after(paused: bool, action: &Action, status: &KiwiClusterStatus) -> Duration {
    if paused {
        return Duration::from_secs(60);
    }
    let settled = status.phase == crate::crd::Phase::Running
        && status.leader.is_some()
        && status.ready_replicas >= status.replicas;
    match action {
        Action::Idle if settled => Duration::from_secs(10),
        Action::Idle | Action::Wait { .. } => Duration::from_secs(2),
        // Each of these publishes a Warning event: not as often.
        Action::QuorumLost { .. } => Duration::from_secs(5),
        Action::Halt { .. } | Action::Unreachable { .. } => Duration::from_secs(10),
        _ => Duration::from_millis(500),
    }
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
    let pruned = ctx.clone();
    let pruner = tokio::spawn(async move {
        if store.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            pruned.metrics.retain_clusters(|namespace, name| {
                store.get(&ObjectRef::new(name).within(namespace)).is_some()
            });
            pruned.retain_clusters(|cluster| store.get(cluster).is_some());
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
        // The operator adds the hash of the Secrets it reads (SECRETS_ANNOTATION); render
        // reads none.
        serde_json::to_value(resources::stateful_set(kc, kc.spec.replicas, None))
            .unwrap_or_default(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests;
