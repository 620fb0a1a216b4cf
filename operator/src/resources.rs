//! The Kubernetes objects a KiwiCluster owns, built as pure functions of the resource: a
//! StatefulSet, the headless, client and leader Services, the ConfigMap with `kiwi.conf` and
//! the PodDisruptionBudget. The reconciler server-side-applies them as they come out of here.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, Lifecycle,
    LifecycleHandler, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    SeccompProfile, Secret, SecretKeySelector, SecretVolumeSource, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use crate::crd::{AntiAffinity, KiwiCluster, MemberRole};

pub const RESP_PORT: i32 = 7379;
pub const RAFT_PORT: i32 = 8001;
/// The port the client Services expose: Redis clients' default.
pub const SERVICE_RESP_PORT: i32 = 6379;
/// The Services' port for RESP over TLS (`spec.tls.respPort`), as Redis deployments use it.
pub const SERVICE_RESP_TLS_PORT: i32 = 6380;
pub const DATA_DIR: &str = "/data";
/// Where the ConfigMap is mounted. Not `/etc/kiwi` itself: a ConfigMap volume is read-only,
/// and the TLS Secret could not be mounted inside it.
pub const CONFIG_DIR: &str = "/etc/kiwi/config";
/// Where `spec.tls.secretName` is mounted (read-only).
pub const TLS_DIR: &str = "/etc/kiwi/tls";
/// Where the credentials Secret is mounted (read-only). Files, not environment variables: a
/// mounted Secret changes in place when it is rotated, and the node takes the new values
/// while it runs (accepting the old ones for `secret-rotation-grace`), so a rotation needs
/// no restart and no two pods ever hold secrets that do not overlap.
pub const CREDENTIALS_DIR: &str = "/etc/kiwi/credentials";
/// The keys of a `kubernetes.io/tls` Secret with a CA (cert-manager's layout).
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_KEY_KEY: &str = "tls.key";
pub const TLS_CA_KEY: &str = "ca.crt";

/// The label the operator puts on the leader's pod; the `-leader` Service selects it.
pub const ROLE_LABEL: &str = "kiwi.io/role";
pub const ROLE_LEADER: &str = "leader";
/// Pod template annotation: the hash of the template, compared to roll pods.
pub const REVISION_ANNOTATION: &str = "kiwi.io/revision";
/// Pod template annotation: the hash of the Secrets the pods read into their environment at
/// start (the password of `spec.auth`). A rotated Secret changes the template, which rolls
/// the pods onto the new values. The credentials Secret is not among them: it is mounted as
/// files the nodes reload (see [`CREDENTIALS_DIR`]).
pub const SECRETS_ANNOTATION: &str = "kiwi.io/secrets-hash";

/// The hash of Secrets' data, for [`SECRETS_ANNOTATION`]: keys and values, in order.
pub fn secrets_hash<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> String {
    let mut hasher = Sha256::new();
    for secret in secrets {
        hasher.update(secret.name_any().as_bytes());
        for (key, value) in secret.data.iter().flatten() {
            hasher.update((key.len() as u64).to_be_bytes());
            hasher.update(key.as_bytes());
            hasher.update((value.0.len() as u64).to_be_bytes());
            hasher.update(&value.0);
        }
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `kiwi.conf` keys the operator sets itself; a spec that sets them is invalid.
pub const RESERVED_CONFIG_KEYS: &[&str] = &[
    "port",
    "binding",
    "bind",
    "db-path",
    "raft-data-dir",
    "raft-node-id",
    "raft-addr",
    "raft-bind",
    "raft-resp-addr",
    "raft-bootstrap",
    "raft-join",
    "raft-fault-injection",
    "requirepass",
    "admin-token",
    "admin-token-file",
    "cluster-secret",
    "cluster-secret-file",
    "log-dir",
    "tls-cluster",
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-port",
    "tls-auth-clients",
];

/// The per-cluster Secret's keys: the admin API's bearer token, and the secret peers prove.
pub const ADMIN_TOKEN_KEY: &str = "admin-token";
pub const CLUSTER_SECRET_KEY: &str = "cluster-secret";

/// The Secret holding a cluster's admin token and peer secret, created once by the operator.
pub fn credentials_secret_name(cluster: &str) -> String {
    format!("{cluster}-credentials")
}

/// A new credentials Secret with fresh random values. Created only when missing: replacing
/// the values of a running cluster would lock its nodes out of each other.
pub fn credentials_secret(kc: &KiwiCluster) -> Secret {
    let random = || -> String {
        rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    Secret {
        metadata: metadata(kc, credentials_secret_name(&kc.name_any())),
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([
            (ADMIN_TOKEN_KEY.to_string(), random()),
            (CLUSTER_SECRET_KEY.to_string(), random()),
        ])),
        ..Default::default()
    }
}

/// An environment variable read from a Secret's key.
fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A spec the operator refuses to act on, with the reason shown to the user.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("config key '{0}' is set by the operator and cannot be overridden")]
    ReservedKey(String),
    #[error("config key '{0}' is not a kiwi.conf key name (lowercase letters, digits, '-')")]
    BadKeyName(String),
    #[error("config value of '{0}' must be one line")]
    MultilineValue(String),
    #[error("the KiwiCluster has no namespace")]
    NoNamespace,
}

pub fn headless_service_name(cluster: &str) -> String {
    format!("{cluster}-headless")
}

pub fn leader_service_name(cluster: &str) -> String {
    format!("{cluster}-leader")
}

pub fn config_map_name(cluster: &str) -> String {
    format!("{cluster}-config")
}

pub fn pod_name(cluster: &str, ordinal: u32) -> String {
    format!("{cluster}-{ordinal}")
}

/// The claim of pod `ordinal`, as the StatefulSet names it (`<template>-<pod>`).
pub fn pvc_name(cluster: &str, ordinal: u32) -> String {
    format!("data-{}", pod_name(cluster, ordinal))
}

/// The stable DNS name of a pod through the headless Service.
pub fn pod_host(cluster: &str, namespace: &str, pod: &str) -> String {
    format!("{pod}.{}.{namespace}.svc", headless_service_name(cluster))
}

/// Labels selecting every pod of a cluster.
pub fn selector_labels(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "kiwi".to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            cluster.to_string(),
        ),
    ])
}

/// The label selector as a string, for the scale subresource and list calls.
pub fn selector_string(cluster: &str) -> String {
    selector_labels(cluster)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn labels(cluster: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(cluster);
    labels.insert(
        "app.kubernetes.io/managed-by".into(),
        "kiwi-operator".into(),
    );
    labels.insert("app.kubernetes.io/component".into(), "store".into());
    labels
}

fn metadata(kc: &KiwiCluster, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: kc.namespace(),
        labels: Some(labels(&kc.name_any())),
        owner_references: kc.controller_owner_ref(&()).map(|r| vec![r]),
        ..Default::default()
    }
}

/// Checks what the schema cannot: the extra config keys.
pub fn validate(kc: &KiwiCluster) -> Result<(), SpecError> {
    if kc.namespace().is_none() {
        return Err(SpecError::NoNamespace);
    }
    for (key, value) in &kc.spec.config {
        if RESERVED_CONFIG_KEYS.contains(&key.as_str()) {
            return Err(SpecError::ReservedKey(key.clone()));
        }
        let well_formed = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            return Err(SpecError::BadKeyName(key.clone()));
        }
        if value.contains('\n') || value.contains('\r') {
            return Err(SpecError::MultilineValue(key.clone()));
        }
    }
    Ok(())
}

/// The `kiwi.conf` every pod reads. Per-pod addresses come as flags (they need the pod name).
pub fn kiwi_conf(kc: &KiwiCluster) -> String {
    let mut conf = String::from("# Written by kiwi-operator; edit spec.config instead.\n");
    let fixed = [
        ("binding", "0.0.0.0".to_string()),
        ("port", RESP_PORT.to_string()),
        ("raft-bind", format!("0.0.0.0:{RAFT_PORT}")),
        ("raft-node-id", "auto".to_string()),
        ("db-path", format!("{DATA_DIR}/kiwi")),
        // The operator initializes the cluster and adds members; a pod never does on its own.
        ("raft-bootstrap", "no".to_string()),
        (
            "admin-token-file",
            format!("{CREDENTIALS_DIR}/{ADMIN_TOKEN_KEY}"),
        ),
        (
            "cluster-secret-file",
            format!("{CREDENTIALS_DIR}/{CLUSTER_SECRET_KEY}"),
        ),
    ];
    for (key, value) in fixed {
        conf.push_str(&format!("{key} {value}\n"));
    }
    if kc.spec.tls.is_some() {
        // The Raft/admin port serves TLS only; the node reloads rotated files by itself.
        conf.push_str("tls-cluster yes\n");
        for (key, file) in [
            ("tls-cert-file", TLS_CERT_KEY),
            ("tls-key-file", TLS_KEY_KEY),
            ("tls-ca-cert-file", TLS_CA_KEY),
        ] {
            conf.push_str(&format!("{key} {TLS_DIR}/{file}\n"));
        }
    }
    if let Some(tls) = &kc.spec.tls {
        if let Some(port) = tls.resp_port {
            conf.push_str(&format!("tls-port {port}\n"));
            let auth = tls.auth_clients.unwrap_or(crate::crd::TlsClientAuth::No);
            conf.push_str(&format!("tls-auth-clients {}\n", auth.as_str()));
        }
    }
    for (key, value) in &kc.spec.config {
        conf.push_str(&format!("{key} {value}\n"));
    }
    conf
}

pub fn config_map(kc: &KiwiCluster) -> ConfigMap {
    ConfigMap {
        metadata: metadata(kc, config_map_name(&kc.name_any())),
        data: Some(BTreeMap::from([("kiwi.conf".to_string(), kiwi_conf(kc))])),
        ..Default::default()
    }
}

/// A Service port named `name`, sent to the container port of the same name.
fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

/// The RESP-over-TLS port of the client and leader Services, when `spec.tls.respPort` is set.
fn resp_tls_port(kc: &KiwiCluster) -> Option<ServicePort> {
    kc.spec
        .tls
        .as_ref()
        .and_then(|t| t.resp_port)
        .map(|_| port("resp-tls", SERVICE_RESP_TLS_PORT))
}

/// Gives every pod a stable DNS name, published before the pod is ready: nodes must reach a
/// learner that is still catching up.
pub fn headless_service(kc: &KiwiCluster) -> Service {
    let name = kc.name_any();
    Service {
        metadata: metadata(kc, headless_service_name(&name)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(&name)),
            ports: Some(vec![port("resp", RESP_PORT), port("raft", RAFT_PORT)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The address clients use: any ready pod (followers forward to the leader).
pub fn client_service(kc: &KiwiCluster) -> Service {
    let name = kc.name_any();
    Service {
        metadata: metadata(kc, name.clone()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(&name)),
            ports: Some(
                std::iter::once(port("resp", SERVICE_RESP_PORT))
                    .chain(resp_tls_port(kc))
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Always points at the current leader: the pod the operator labels `kiwi.io/role=leader`.
pub fn leader_service(kc: &KiwiCluster) -> Service {
    let name = kc.name_any();
    let mut selector = selector_labels(&name);
    selector.insert(ROLE_LABEL.into(), ROLE_LEADER.into());
    Service {
        metadata: metadata(kc, leader_service_name(&name)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector),
            ports: Some(
                [port("resp", SERVICE_RESP_PORT), port("raft", RAFT_PORT)]
                    .into_iter()
                    .chain(resp_tls_port(kc))
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The voters a disruption budget must protect: the fewer of what the spec asks for and the
/// voters the status last recorded (while growing, the new pods are not voters yet; while
/// shrinking, the leaving ones still are until removed, and the spec already asks for fewer).
pub fn protected_voters(kc: &KiwiCluster) -> i32 {
    let recorded = kc.status.as_ref().map(|s| {
        s.members
            .iter()
            .filter(|m| m.role != MemberRole::Learner)
            .count() as i32
    });
    match recorded {
        Some(voters) if voters > 0 => voters.min(kc.spec.replicas.max(1)),
        _ => kc.spec.replicas.max(1),
    }
}

/// Lets voluntary disruptions (drains) take down no more pods than leave a majority of the
/// voters up: at most `(voters - 1) / 2`, so 0 for one or two voters (each is needed for a
/// majority). A larger `maxUnavailable` in the spec is capped; a user who accepts losing the
/// majority during drains disables the budget instead.
pub fn pod_disruption_budget(kc: &KiwiCluster) -> PodDisruptionBudget {
    let name = kc.name_any();
    let safe = (protected_voters(kc) - 1) / 2;
    let max_unavailable = kc
        .spec
        .pod_disruption_budget
        .max_unavailable
        .map_or(safe, |wanted| wanted.clamp(0, safe));
    PodDisruptionBudget {
        metadata: metadata(kc, name.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(max_unavailable)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&name)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn env_from_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Startup probe failures allowed, every 5 s: an hour.
pub const STARTUP_PROBE_FAILURES: i32 = 720;

/// A probe of the admin port; HTTPS when the port serves TLS (the kubelet does not verify
/// the certificate, and presents none: the node does not require one).
fn http_probe(path: &str, period: i32, failures: i32, tls: bool) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("raft".into()),
            scheme: tls.then(|| "HTTPS".into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Default::default()
    }
}

fn affinity(kc: &KiwiCluster) -> Option<Affinity> {
    if kc.spec.affinity.is_some() {
        return kc.spec.affinity.clone();
    }
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some(selector_labels(&kc.name_any())),
            ..Default::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..Default::default()
    };
    let anti = match kc.spec.anti_affinity {
        AntiAffinity::None => return None,
        AntiAffinity::Preferred => PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term,
                },
            ]),
            ..Default::default()
        },
        AntiAffinity::Required => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term]),
            ..Default::default()
        },
    };
    Some(Affinity {
        pod_anti_affinity: Some(anti),
        ..Default::default()
    })
}

/// The pod template; `secrets_hash` (see [`secrets_hash`]) when the operator read the Secrets.
fn pod_template(kc: &KiwiCluster, secrets_hash: Option<&str>) -> PodTemplateSpec {
    let name = kc.name_any();
    let tls = kc.spec.tls.is_some();
    let headless = headless_service_name(&name);
    // Kubernetes expands $(VAR) in args from the container's env.
    let host = format!("$(POD_NAME).{headless}.$(POD_NAMESPACE).svc");
    let args = vec![
        "--config".to_string(),
        format!("{CONFIG_DIR}/kiwi.conf"),
        "--raft-addr".into(),
        format!("{host}:{RAFT_PORT}"),
        "--raft-resp-addr".into(),
        format!("{host}:{RESP_PORT}"),
    ];
    // Secrets reach the node through files and its environment, never its arguments (which
    // `ps` and the pod spec show).
    let mut env = vec![
        env_from_field("POD_NAME", "metadata.name"),
        env_from_field("POD_NAMESPACE", "metadata.namespace"),
    ];
    if let Some(auth) = &kc.spec.auth {
        env.push(env_from_secret(
            "KIWI_REQUIREPASS",
            &auth.secret_name,
            &auth.secret_key,
        ));
    }
    let container = Container {
        name: "kiwi".into(),
        image: Some(kc.spec.image.clone()),
        image_pull_policy: kc.spec.image_pull_policy.map(|p| p.as_str().to_string()),
        args: Some(args),
        env: Some(env),
        ports: Some(
            vec![
                ContainerPort {
                    name: Some("resp".into()),
                    container_port: RESP_PORT,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                ContainerPort {
                    name: Some("raft".into()),
                    container_port: RAFT_PORT,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
            ]
            .into_iter()
            .chain(
                kc.spec
                    .tls
                    .as_ref()
                    .and_then(|t| t.resp_port)
                    .map(|p| ContainerPort {
                        name: Some("resp-tls".into()),
                        container_port: p,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }),
            )
            .collect(),
        ),
        // Until the startup probe passes the liveness probe is off: a node replaying a long
        // log (or a large snapshot) gets up to an hour to come up instead of being killed and
        // starting the replay over.
        startup_probe: Some(http_probe("/healthz", 5, STARTUP_PROBE_FAILURES, tls)),
        readiness_probe: Some(http_probe("/readyz", 5, 3, tls)),
        liveness_probe: Some(http_probe("/healthz", 10, 6, tls)),
        // Pod Security Standards "restricted" (and a read-only root: the node writes only its
        // volume, and logs to stderr).
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        lifecycle: Some(Lifecycle {
            // Hand leadership to a caught-up voter before the process gets SIGTERM, so a
            // rolling restart costs no election timeout.
            // `kiwi step-down` calls the node's own admin API with the token from its
            // environment: an httpGet hook would have to carry the token in the pod spec.
            // With TLS it needs the config file, which says how to reach its own port.
            pre_stop: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(if tls {
                        vec![
                            "kiwi".into(),
                            "step-down".into(),
                            "--config".into(),
                            format!("{CONFIG_DIR}/kiwi.conf"),
                        ]
                    } else {
                        vec!["kiwi".into(), "step-down".into()]
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        resources: kc.spec.resources.clone(),
        volume_mounts: Some(
            vec![
                VolumeMount {
                    name: "data".into(),
                    mount_path: DATA_DIR.into(),
                    ..Default::default()
                },
                VolumeMount {
                    name: "config".into(),
                    mount_path: CONFIG_DIR.into(),
                    read_only: Some(true),
                    ..Default::default()
                },
                VolumeMount {
                    name: "credentials".into(),
                    mount_path: CREDENTIALS_DIR.into(),
                    read_only: Some(true),
                    ..Default::default()
                },
                // The root is read-only; libraries that want a scratch file get one here.
                VolumeMount {
                    name: "tmp".into(),
                    mount_path: "/tmp".into(),
                    ..Default::default()
                },
            ]
            .into_iter()
            .chain(tls.then(|| VolumeMount {
                name: "tls".into(),
                mount_path: TLS_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            }))
            .collect(),
        ),
        ..Default::default()
    };
    let spec = PodSpec {
        containers: vec![container],
        volumes: Some(
            vec![
                Volume {
                    name: "config".into(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: config_map_name(&name),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                Volume {
                    name: "credentials".into(),
                    // The whole Secret, never a subPath: only then are rotations seen in place.
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(credentials_secret_name(&name)),
                        default_mode: Some(0o440),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                Volume {
                    name: "tmp".into(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        size_limit: Some(Quantity("64Mi".into())),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]
            .into_iter()
            .chain(kc.spec.tls.as_ref().map(|t| Volume {
                name: "tls".into(),
                // A Secret volume: files change in place when the Secret is rotated.
                secret: Some(SecretVolumeSource {
                    secret_name: Some(t.secret_name.clone()),
                    default_mode: Some(0o440),
                    ..Default::default()
                }),
                ..Default::default()
            }))
            .collect(),
        ),
        affinity: affinity(kc),
        node_selector: (!kc.spec.node_selector.is_empty()).then(|| kc.spec.node_selector.clone()),
        tolerations: (!kc.spec.tolerations.is_empty()).then(|| kc.spec.tolerations.clone()),
        termination_grace_period_seconds: Some(30),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(10001),
            run_as_group: Some(10001),
            fs_group: Some(10001),
            // Chown the volume only when its root is not ours yet: a large volume is not
            // walked file by file at every start.
            fs_group_change_policy: Some("OnRootMismatch".into()),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&name)),
            annotations: secrets_hash
                .map(|h| BTreeMap::from([(SECRETS_ANNOTATION.to_string(), h.to_string())])),
            ..Default::default()
        }),
        spec: Some(spec),
    }
}

/// The hash of what a pod runs: its template plus the config file it reads. A pod whose
/// revision annotation differs is restarted by the roll.
pub fn revision(kc: &KiwiCluster, secrets_hash: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&pod_template(kc, secrets_hash)).unwrap_or_default());
    hasher.update(kiwi_conf(kc).as_bytes());
    let digest = hasher.finalize();
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

/// The StatefulSet, running `replicas` pods (the operator decides that number: it only lowers
/// it once the pods beyond it have left the Raft membership). Updates are `OnDelete`: the
/// operator restarts pods itself, followers first, leader last.
pub fn stateful_set(kc: &KiwiCluster, replicas: i32, secrets_hash: Option<&str>) -> StatefulSet {
    let name = kc.name_any();
    let mut template = pod_template(kc, secrets_hash);
    if let Some(meta) = template.metadata.as_mut() {
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(REVISION_ANNOTATION.to_string(), revision(kc, secrets_hash));
    }
    let storage = &kc.spec.storage;
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            labels: Some(selector_labels(&name)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(storage.size.clone()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    StatefulSet {
        metadata: metadata(kc, name.clone()),
        spec: StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(headless_service_name(&name)),
            pod_management_policy: Some("Parallel".into()),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&name)),
                ..Default::default()
            },
            template,
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                ..Default::default()
            }),
            volume_claim_templates: Some(vec![claim]),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(
                        if storage.reclaim_on_delete {
                            "Delete"
                        } else {
                            "Retain"
                        }
                        .into(),
                    ),
                    // Scale-down volumes are the operator's: it deletes them only after the
                    // node left the membership.
                    when_scaled: Some("Retain".into()),
                },
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Every object the cluster owns except the StatefulSet, whose replica count the plan sets.
pub fn fixed_objects(kc: &KiwiCluster) -> (ConfigMap, [Service; 3], Option<PodDisruptionBudget>) {
    let pdb = kc
        .spec
        .pod_disruption_budget
        .enabled
        .then(|| pod_disruption_budget(kc));
    (
        config_map(kc),
        [headless_service(kc), client_service(kc), leader_service(kc)],
        pdb,
    )
}

/// The namespace and name of the resource, for objects that need both.
pub fn namespace_of(kc: &KiwiCluster) -> Result<String, SpecError> {
    kc.meta().namespace.clone().ok_or(SpecError::NoNamespace)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crd::KiwiClusterSpec;

    pub(crate) fn cluster(spec: serde_json::Value) -> KiwiCluster {
        let spec: KiwiClusterSpec = serde_json::from_value(spec).unwrap();
        let mut kc = KiwiCluster::new("demo", spec);
        kc.metadata.namespace = Some("prod".into());
        kc.metadata.uid = Some("0b7e6c1a-1111-2222-3333-444455556666".into());
        kc
    }

    #[test]
    fn pods_advertise_their_stable_dns_names() {
        let sts = stateful_set(&cluster(serde_json::json!({})), 3, None);
        let spec = sts.spec;
        assert_eq!(spec.service_name.as_deref(), Some("demo-headless"));
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        let args = spec.template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap();
        let raft = args.iter().position(|a| a == "--raft-addr").unwrap();
        assert_eq!(
            args[raft + 1],
            "$(POD_NAME).demo-headless.$(POD_NAMESPACE).svc:8001"
        );
    }

    /// Pod Security Standards, "restricted" profile (kubernetes.io/docs/concepts/security/
    /// pod-security-standards): what it requires of every container and of the pod.
    #[test]
    fn data_pods_meet_the_restricted_pod_security_standard() {
        let sts = stateful_set(&cluster(serde_json::json!({})), 3, None);
        let pod = sts.spec.template.spec.unwrap();
        let pod_sc = pod.security_context.as_ref().unwrap();
        assert_eq!(pod_sc.run_as_non_root, Some(true));
        assert_ne!(pod_sc.run_as_user, Some(0));
        assert_eq!(
            pod_sc.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
            Some("RuntimeDefault")
        );
        assert_eq!(
            pod_sc.fs_group_change_policy.as_deref(),
            Some("OnRootMismatch")
        );
        for c in &pod.containers {
            let sc = c
                .security_context
                .as_ref()
                .expect("container securityContext");
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
            assert_eq!(sc.run_as_non_root, Some(true));
            assert_eq!(
                sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
                Some(vec!["ALL".to_string()])
            );
            assert!(sc.capabilities.as_ref().unwrap().add.is_none());
            assert_eq!(sc.privileged, None);
            assert_eq!(sc.read_only_root_filesystem, Some(true));
            // Writable places are volumes: the data, and a scratch /tmp.
            let mounts: Vec<&str> = c
                .volume_mounts
                .iter()
                .flatten()
                .filter(|m| m.read_only != Some(true))
                .map(|m| m.mount_path.as_str())
                .collect();
            assert_eq!(mounts, [DATA_DIR, "/tmp"]);
        }
        // Only volume types the profile allows (no hostPath).
        assert!(pod.volumes.iter().flatten().all(|v| v.host_path.is_none()));
    }

    #[test]
    fn a_node_replaying_a_long_log_is_not_killed_by_its_liveness_probe() {
        let sts = stateful_set(&cluster(serde_json::json!({})), 3, None);
        let container = &sts.spec.template.spec.unwrap().containers[0];
        let startup = container.startup_probe.as_ref().expect("a startup probe");
        let budget = startup.period_seconds.unwrap() * startup.failure_threshold.unwrap();
        assert!(budget >= 30 * 60, "{budget} s to start");
        let liveness = container.liveness_probe.as_ref().unwrap();
        assert_eq!(
            startup.http_get.as_ref().unwrap().path,
            liveness.http_get.as_ref().unwrap().path
        );
    }

    #[test]
    fn tls_mounts_the_secret_configures_the_node_and_probes_over_https() {
        let kc = cluster(serde_json::json!({"tls": {"secretName": "demo-tls"}}));
        let conf = kiwi_conf(&kc);
        for line in [
            "tls-cluster yes",
            "tls-cert-file /etc/kiwi/tls/tls.crt",
            "tls-key-file /etc/kiwi/tls/tls.key",
            "tls-ca-cert-file /etc/kiwi/tls/ca.crt",
        ] {
            assert!(conf.contains(&format!("\n{line}\n")), "{line} in {conf}");
        }
        let pod = stateful_set(&kc, 3, None).spec.template.spec.unwrap();
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "tls")
            .unwrap();
        assert_eq!(
            volume.secret.as_ref().unwrap().secret_name.as_deref(),
            Some("demo-tls")
        );
        let c = &pod.containers[0];
        let mount = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "tls")
            .unwrap();
        assert_eq!(
            (mount.mount_path.as_str(), mount.read_only),
            (TLS_DIR, Some(true))
        );
        // Not nested in the (read-only) ConfigMap volume.
        let config = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "config")
            .unwrap();
        assert!(!TLS_DIR.starts_with(&format!("{}/", config.mount_path)));
        for probe in [&c.startup_probe, &c.readiness_probe, &c.liveness_probe] {
            let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
            assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
        }
        // The keys are the operator's.
        let clash = cluster(serde_json::json!({"config": {"tls-cluster": "no"}}));
        assert_eq!(
            validate(&clash),
            Err(SpecError::ReservedKey("tls-cluster".into()))
        );
        // Without tls: plain HTTP, no TLS volume, no TLS keys.
        let plain = cluster(serde_json::json!({}));
        assert!(!kiwi_conf(&plain).contains("tls-"));
        let pod = stateful_set(&plain, 3, None).spec.template.spec.unwrap();
        assert!(pod.volumes.iter().flatten().all(|v| v.name != "tls"));
        let get = pod.containers[0]
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .clone()
            .unwrap();
        assert_eq!(get.scheme, None);
    }

    #[test]
    fn a_tls_resp_port_is_configured_exposed_and_published_on_6380() {
        let kc = cluster(serde_json::json!({
            "tls": {"secretName": "demo-tls", "respPort": 7380, "authClients": "optional"}
        }));
        let conf = kiwi_conf(&kc);
        assert!(conf.contains("\ntls-port 7380\n"), "{conf}");
        assert!(conf.contains("\ntls-auth-clients optional\n"), "{conf}");
        let pod = stateful_set(&kc, 3, None).spec.template.spec.unwrap();
        let ports = pod.containers[0].ports.clone().unwrap();
        assert!(ports
            .iter()
            .any(|p| p.name.as_deref() == Some("resp-tls") && p.container_port == 7380));
        for svc in [client_service(&kc), leader_service(&kc)] {
            let tls_port = svc
                .spec
                .unwrap()
                .ports
                .unwrap()
                .into_iter()
                .find(|p| p.name.as_deref() == Some("resp-tls"))
                .expect("a resp-tls Service port");
            assert_eq!(tls_port.port, SERVICE_RESP_TLS_PORT);
            assert_eq!(
                tls_port.target_port,
                Some(IntOrString::String("resp-tls".into()))
            );
        }
        // Clients must present a certificate only when asked; the default is no.
        let default = cluster(serde_json::json!({"tls": {"secretName": "t", "respPort": 7380}}));
        assert!(kiwi_conf(&default).contains("\ntls-auth-clients no\n"));
        // Without respPort: no RESP TLS port anywhere, and the keys stay the operator's.
        let cluster_only = cluster(serde_json::json!({"tls": {"secretName": "t"}}));
        assert!(!kiwi_conf(&cluster_only).contains("tls-port"));
        let svc = client_service(&cluster_only).spec.unwrap().ports.unwrap();
        assert_eq!(svc.len(), 1);
        let clash = cluster(serde_json::json!({"config": {"tls-port": "7380"}}));
        assert_eq!(
            validate(&clash),
            Err(SpecError::ReservedKey("tls-port".into()))
        );
    }

    #[test]
    fn config_refuses_reserved_and_malformed_keys() {
        let ok = cluster(serde_json::json!({"config": {"memory": "2gb"}}));
        assert_eq!(validate(&ok), Ok(()));
        assert!(kiwi_conf(&ok).contains("\nmemory 2gb\n"));
        let reserved = cluster(serde_json::json!({"config": {"raft-node-id": "1"}}));
        assert_eq!(
            validate(&reserved),
            Err(SpecError::ReservedKey("raft-node-id".into()))
        );
        let bad = cluster(serde_json::json!({"config": {"Memory Size": "1"}}));
        assert!(matches!(validate(&bad), Err(SpecError::BadKeyName(_))));
        let multi = cluster(serde_json::json!({"config": {"memory": "1gb\nport 1"}}));
        assert!(matches!(
            validate(&multi),
            Err(SpecError::MultilineValue(_))
        ));
    }

    #[test]
    fn rotating_a_secret_changes_the_revision_so_the_pods_roll() {
        let kc = cluster(serde_json::json!({}));
        let mut secret = credentials_secret(&kc);
        secret.data = Some(BTreeMap::from([(
            ADMIN_TOKEN_KEY.to_string(),
            k8s_openapi::ByteString(b"old-token".to_vec()),
        )]));
        let before = secrets_hash([&secret]);
        assert_eq!(before, secrets_hash([&secret]), "stable");
        secret.data.as_mut().unwrap().insert(
            ADMIN_TOKEN_KEY.to_string(),
            k8s_openapi::ByteString(b"new-token".to_vec()),
        );
        let after = secrets_hash([&secret]);
        assert_ne!(before, after);
        assert_ne!(revision(&kc, Some(&before)), revision(&kc, Some(&after)));
        let sts = stateful_set(&kc, 3, Some(&after));
        let annotations = sts.spec.template.metadata.unwrap().annotations.unwrap();
        assert_eq!(annotations[SECRETS_ANNOTATION], after);
        assert_eq!(
            annotations[REVISION_ANNOTATION],
            revision(&kc, Some(&after))
        );
    }

    #[test]
    fn revision_follows_image_and_config_but_not_replicas() {
        let base = cluster(serde_json::json!({}));
        let scaled = cluster(serde_json::json!({"replicas": 5}));
        let image = cluster(serde_json::json!({"image": "kiwi:next"}));
        let config = cluster(serde_json::json!({"config": {"memory": "2gb"}}));
        assert_eq!(revision(&base, None), revision(&scaled, None));
        assert_ne!(revision(&base, None), revision(&image, None));
        assert_ne!(revision(&base, None), revision(&config, None));
    }

    fn max_unavailable(kc: &KiwiCluster) -> IntOrString {
        pod_disruption_budget(kc)
            .spec
            .unwrap()
            .max_unavailable
            .unwrap()
    }

    #[test]
    fn pdb_never_lets_a_majority_of_voters_go() {
        for (replicas, expected) in [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (7, 3)] {
            let kc = cluster(serde_json::json!({"replicas": replicas}));
            assert_eq!(
                max_unavailable(&kc),
                IntOrString::Int(expected),
                "{replicas} replicas"
            );
            // Whatever the spec allows, never more.
            let kc = cluster(serde_json::json!({
                "replicas": replicas, "podDisruptionBudget": {"maxUnavailable": replicas}
            }));
            assert_eq!(max_unavailable(&kc), IntOrString::Int(expected));
        }
        // Less is allowed.
        let kc = cluster(
            serde_json::json!({"replicas": 5, "podDisruptionBudget": {"maxUnavailable": 1}}),
        );
        assert_eq!(max_unavailable(&kc), IntOrString::Int(1));
    }

    #[test]
    fn pdb_follows_the_current_voters_not_the_spec() {
        let with_voters = |replicas: i32, voters: u64| {
            let mut kc = cluster(serde_json::json!({"replicas": replicas}));
            kc.status = Some(
                serde_json::from_value(serde_json::json!({
                    "members": (1..=voters).map(|id| serde_json::json!({
                        "nodeId": id, "role": "Voter", "healthy": true
                    })).collect::<Vec<_>>()
                }))
                .unwrap(),
            );
            max_unavailable(&kc)
        };
        // Growing 3 -> 5: five pods but three voters, of which only one may go.
        assert_eq!(with_voters(5, 3), IntOrString::Int(1));
        // Growing 1 -> 3: the single voter must stay.
        assert_eq!(with_voters(3, 1), IntOrString::Int(0));
        // Shrinking 5 -> 3 with five voters left: the spec's three bound it.
        assert_eq!(with_voters(3, 5), IntOrString::Int(1));
    }

    fn secret_ref<'a>(container: &'a Container, var: &str) -> &'a SecretKeySelector {
        container
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == var)
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.secret_key_ref.as_ref())
            .unwrap_or_else(|| panic!("{var} from a Secret"))
    }

    #[test]
    fn auth_reads_the_password_from_the_secret_into_the_environment() {
        let kc = cluster(serde_json::json!({"auth": {"secretName": "kiwi-auth"}}));
        let sts = stateful_set(&kc, 3, None);
        let container = &sts.spec.template.spec.unwrap().containers[0];
        let secret = secret_ref(container, "KIWI_REQUIREPASS");
        assert_eq!(secret.name, "kiwi-auth");
        assert_eq!(secret.key, "password");
    }

    #[test]
    fn credentials_come_from_the_clusters_secret_and_never_from_arguments() {
        let kc = cluster(serde_json::json!({"auth": {"secretName": "kiwi-auth"}}));
        let sts = stateful_set(&kc, 3, None);
        let pod = sts.spec.template.spec.unwrap();
        let container = &pod.containers[0];
        // Mounted as a whole (no subPath), so a rotated Secret reaches the running node.
        let volume = pod
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == "credentials")
            .unwrap();
        let source = volume.secret.as_ref().unwrap();
        assert_eq!(source.secret_name.as_deref(), Some("demo-credentials"));
        assert!(source.items.is_none());
        let mount = container
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.name == "credentials")
            .unwrap();
        assert_eq!(mount.mount_path, CREDENTIALS_DIR);
        assert_eq!(mount.sub_path, None);
        assert_eq!(mount.read_only, Some(true));
        let conf = kiwi_conf(&kc);
        assert!(conf.contains("\nadmin-token-file /etc/kiwi/credentials/admin-token\n"));
        assert!(conf.contains("\ncluster-secret-file /etc/kiwi/credentials/cluster-secret\n"));
        // Not in the environment: that would need a restart to change.
        let env = container.env.as_ref().unwrap();
        assert!(!env.iter().any(|e| e.name == "KIWI_ADMIN_TOKEN"));
        assert!(!env.iter().any(|e| e.name == "KIWI_CLUSTER_SECRET"));
        let args = container.args.as_ref().unwrap().join(" ");
        for word in ["pass", "token", "secret", "KIWI_"] {
            assert!(!args.contains(word), "no secret in the arguments: {args}");
        }
        let pre_stop = container
            .lifecycle
            .as_ref()
            .unwrap()
            .pre_stop
            .as_ref()
            .unwrap();
        assert_eq!(
            pre_stop.exec.as_ref().unwrap().command.as_ref().unwrap(),
            &vec!["kiwi".to_string(), "step-down".to_string()]
        );
    }

    #[test]
    fn a_credentials_secret_holds_fresh_random_values() {
        let kc = cluster(serde_json::json!({}));
        let (a, b) = (credentials_secret(&kc), credentials_secret(&kc));
        assert_eq!(a.metadata.name.as_deref(), Some("demo-credentials"));
        assert!(a.metadata.owner_references.is_some());
        let (da, db) = (a.string_data.unwrap(), b.string_data.unwrap());
        assert_eq!(da[ADMIN_TOKEN_KEY].len(), 64);
        assert_ne!(da[ADMIN_TOKEN_KEY], da[CLUSTER_SECRET_KEY]);
        assert_ne!(da[ADMIN_TOKEN_KEY], db[ADMIN_TOKEN_KEY]);
    }
}
