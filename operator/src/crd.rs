//! The `KiwiCluster` custom resource: what a user asks for (spec) and what the operator
//! observed and did (status). The CRD's schema is generated from these types (`kiwi-operator
//! crd`), never written by hand.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group and version of every Kiwi resource.
pub const GROUP: &str = "kiwi.io";

/// A replicated, Redis-compatible Kiwi store: `replicas` Raft voters on a StatefulSet.
// kube-derive takes one `printcolumn(...)` per column, which clippy reads as repeated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kiwi.io",
    version = "v1alpha1",
    kind = "KiwiCluster",
    namespaced,
    status = "KiwiClusterStatus",
    derive = "PartialEq",
    shortname = "kiwi",
    category = "all",
    doc = "A Redis-compatible Kiwi store replicated with Raft",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Leader", type_ = "string", json_path = ".status.leader.pod"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct KiwiClusterSpec {
    /// Raft voters (one pod each). Odd numbers tolerate the most failures per node.
    #[serde(default = "default_replicas")]
    #[x_kube(validation = Rule::new("self >= 1").message("replicas must be at least 1"))]
    #[x_kube(validation = Rule::new("self <= 99").message("replicas must be at most 99"))]
    pub replicas: i32,

    /// The kiwi image.
    #[serde(default = "default_image")]
    #[x_kube(validation = Rule::new("self != ''").message("image must not be empty"))]
    pub image: String,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    #[serde(default)]
    pub storage: StorageSpec,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Replaces the anti-affinity the operator would otherwise set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Spreading pods over nodes: `Preferred` (default), `Required` or `None`.
    #[serde(default)]
    pub anti_affinity: AntiAffinity,

    #[serde(default)]
    pub pod_disruption_budget: PdbSpec,

    /// Extra `kiwi.conf` keys (for example `memory: 2gb`). Keys the operator sets itself
    /// (addresses, paths, node id) are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,

    /// Clients must AUTH with the password from this Secret (`requirepass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,

    /// TLS on the Raft and admin port (8001): peers, the operator and probes speak HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,

    /// While true the operator observes and reports but changes nothing.
    #[serde(default)]
    pub paused: bool,

    #[serde(default)]
    pub membership: MembershipSpec,
}

fn default_replicas() -> i32 {
    3
}

fn default_image() -> String {
    format!("kiwi:{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// Everything here but the reclaim policies lands in the StatefulSet's volumeClaimTemplates,
/// which the API server refuses to change: the schema refuses the change first, so a spec
/// can never leave the StatefulSet unappliable.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)").message("storage.storageClassName is immutable (it is part of the StatefulSet's volumeClaimTemplates)"))]
pub struct StorageSpec {
    /// Size of each pod's volume, a positive quantity of bytes such as `1Gi` or `500M`.
    /// Immutable: a StatefulSet cannot resize its claims.
    // The bound keeps the CEL cost estimate of the regular expressions small.
    #[serde(default = "default_storage_size")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new(STORAGE_SIZE_RULE).message("storage.size must be a positive quantity of bytes such as 1Gi, 500Mi or 10G"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storage.size is immutable (it is part of the StatefulSet's volumeClaimTemplates)"))]
    pub size: String,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,

    /// Delete a removed pod's volume on scale-down (default). When false the volume is kept
    /// for inspection, but it never rejoins under its old node id.
    #[serde(default = "default_true")]
    pub reclaim_on_scale_down: bool,

    /// Delete the volumes when the KiwiCluster is deleted. Default false: data outlives an
    /// accidental `kubectl delete`.
    #[serde(default)]
    pub reclaim_on_delete: bool,
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec {
            size: default_storage_size(),
            storage_class_name: None,
            reclaim_on_scale_down: true,
            reclaim_on_delete: false,
        }
    }
}

/// A Kubernetes quantity (decimal digits with an optional binary or decimal SI suffix; no
/// sign, exponent or milli-bytes) that is not zero. `[.]` rather than an escaped dot keeps the
/// rule free of escapes in both Rust and CEL.
pub const STORAGE_SIZE_RULE: &str =
    "self.matches('^([0-9]+([.][0-9]*)?|[.][0-9]+)([KMGTPE]i|[kMGTPE])?$') && self.matches('^[^KMGTPEik]*[1-9]')";

fn default_storage_size() -> String {
    "1Gi".into()
}

fn default_true() -> bool {
    true
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AntiAffinity {
    #[default]
    Preferred,
    Required,
    None,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Default: as many as keep a majority of voters up ((replicas - 1) / 2; 0 for one or two
    /// replicas, whose every voter is needed for a majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0").message("podDisruptionBudget.maxUnavailable must not be negative"))]
    pub max_unavailable: Option<i32>,
}

impl Default for PdbSpec {
    fn default() -> Self {
        PdbSpec {
            enabled: true,
            max_unavailable: None,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Secret in the cluster's namespace holding the password.
    #[x_kube(validation = Rule::new("self != ''").message("auth.secretName must not be empty"))]
    pub secret_name: String,
    /// Key in the Secret (default `password`).
    #[serde(default = "default_password_key")]
    pub secret_key: String,
}

/// Certificates for the cluster port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// A `kubernetes.io/tls` Secret in the cluster's namespace with `tls.crt`, `tls.key` and
    /// `ca.crt` (as cert-manager writes it). The certificate must name every pod's stable DNS
    /// name, `<pod>.<cluster>-headless.<namespace>.svc` (a wildcard
    /// `*.<cluster>-headless.<namespace>.svc` does): peers and the operator verify it against
    /// `ca.crt`. Nodes reload rotated files without a restart.
    #[x_kube(validation = Rule::new("self != ''").message("tls.secretName must not be empty"))]
    pub secret_name: String,
    /// Also serve RESP over TLS (the node's `tls-port`) on this container port, published as
    /// `resp-tls` on port 6380 of the client and leader Services (`redis-cli --tls`). Unset:
    /// RESP stays plain only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 65535 && self != 7379 && self != 8001").message("tls.respPort must be a port number other than 7379 and 8001"))]
    pub resp_port: Option<i32>,
    /// Whether RESP clients over TLS must present a certificate signed by `ca.crt`
    /// (`tls-auth-clients`): `yes`, `optional` or `no` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_clients: Option<TlsClientAuth>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsClientAuth {
    Yes,
    Optional,
    No,
}

impl TlsClientAuth {
    /// The value of the node's `tls-auth-clients` key.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsClientAuth::Yes => "yes",
            TlsClientAuth::Optional => "optional",
            TlsClientAuth::No => "no",
        }
    }
}

fn default_password_key() -> String {
    "password".into()
}

/// Bounds on membership changes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipSpec {
    /// A learner is promoted to voter once it is at most this many log entries behind.
    #[serde(default = "default_max_learner_lag")]
    pub max_learner_lag: u64,
    /// A learner that has not caught up after this long is removed again (and retried).
    #[serde(default = "default_catch_up_timeout")]
    #[x_kube(validation = Rule::new("self >= 1").message("membership.catchUpTimeoutSeconds must be at least 1"))]
    pub catch_up_timeout_seconds: u64,
}

impl Default for MembershipSpec {
    fn default() -> Self {
        MembershipSpec {
            max_learner_lag: default_max_learner_lag(),
            catch_up_timeout_seconds: default_catch_up_timeout(),
        }
    }
}

fn default_max_learner_lag() -> u64 {
    1000
}

fn default_catch_up_timeout() -> u64 {
    600
}

/// What the operator observed and did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KiwiClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub phase: Phase,
    /// Pods the StatefulSet runs.
    #[serde(default)]
    pub replicas: i32,
    /// Pods ready and voting.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Label selector of the pods (for the scale subresource).
    #[serde(default)]
    pub selector: String,
    /// Set once the cluster was initialized; never cleared, so the operator never initializes
    /// twice whatever the pods report.
    #[serde(default)]
    pub bootstrapped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderStatus>,
    #[serde(default)]
    pub term: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberStatus>,
    /// Node ids removed from the cluster; a volume reporting one of them never rejoins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_node_ids: Vec<u64>,
    /// The multi-step operation in progress, so a restarted operator finishes it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_operation: Option<PendingOperation>,
    /// Hash of the pod template every pod runs once a roll is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Objects created, no cluster initialized yet.
    #[default]
    Pending,
    /// Initializing or adding the first members.
    Initializing,
    /// Members being added or removed.
    Scaling,
    /// Pods being restarted onto a new template.
    Rolling,
    /// Every member voting, healthy and on the current template.
    Running,
    /// Serving, but some member is unhealthy.
    Degraded,
    /// Fewer than a majority of voters reachable: no membership change is made.
    QuorumLost,
    /// The operator stopped acting (for example pods from two different clusters).
    Halted,
    /// `spec.paused`: the operator observes and reports but changes nothing.
    Paused,
    /// Pods are ready but none answers the operator: it cannot reach pod IPs.
    Unreachable,
}

pub const ALL_PHASES: [Phase; 10] = [
    Phase::Pending,
    Phase::Initializing,
    Phase::Scaling,
    Phase::Rolling,
    Phase::Running,
    Phase::Degraded,
    Phase::QuorumLost,
    Phase::Halted,
    Phase::Paused,
    Phase::Unreachable,
];

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Initializing => "Initializing",
            Phase::Scaling => "Scaling",
            Phase::Rolling => "Rolling",
            Phase::Running => "Running",
            Phase::Degraded => "Degraded",
            Phase::QuorumLost => "QuorumLost",
            Phase::Halted => "Halted",
            Phase::Paused => "Paused",
            Phase::Unreachable => "Unreachable",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaderStatus {
    pub node_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    pub node_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_uid: Option<String>,
    pub role: MemberRole,
    pub healthy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_index: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MemberRole {
    Voter,
    Learner,
    /// Being removed: still in the membership, on its way out.
    Leaving,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    pub kind: OperationKind,
    /// The pod the operation is about.
    pub pod: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u64>,
    /// RFC 3339 time the operation started, for its deadline.
    pub started_at: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OperationKind {
    /// A learner was added and is catching up.
    Grow,
    /// A voter is being removed before its pod goes away.
    Shrink,
    /// A pod was deleted to restart it on the new template.
    Roll,
}

/// The CustomResourceDefinition, as `kiwi-operator crd` prints it: the derived one, with the
/// integer formats schemars gives unsigned fields (`uint64`, ...) replaced by the ones the API
/// server knows (`int64`, `int32`; the `minimum: 0` schemars adds keeps them unsigned), since it
/// warns on every apply about an unrecognized format.
pub fn crd(
) -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    let mut value = serde_json::to_value(KiwiCluster::crd()).expect("the CRD serializes");
    fix_integer_formats(&mut value);
    serde_json::from_value(value).expect("the CRD deserializes")
}

fn fix_integer_formats(node: &mut serde_json::Value) {
    match node {
        serde_json::Value::Object(map) => {
            let known = match map.get("format").and_then(|f| f.as_str()) {
                Some("uint64" | "uint" | "int" | "uint32") => Some("int64"),
                Some("uint16" | "uint8" | "int16" | "int8") => Some("int32"),
                _ => None,
            };
            if let Some(format) = known {
                map.insert("format".into(), format.into());
            }
            map.values_mut().for_each(fix_integer_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fix_integer_formats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema node of `spec.<path>`.
    fn spec_schema(crd: &serde_json::Value, path: &[&str]) -> serde_json::Value {
        let mut node =
            &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        for field in path {
            node = &node["properties"][field];
        }
        node.clone()
    }

    fn rules(node: &serde_json::Value) -> Vec<String> {
        node["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["rule"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn storage_size_must_be_a_positive_quantity() {
        let crd = serde_json::to_value(crd()).unwrap();
        let size = spec_schema(&crd, &["storage", "size"]);
        assert!(
            rules(&size).contains(&STORAGE_SIZE_RULE.to_string()),
            "{size}"
        );
        // The rule is two RE2 matches; the regex crate reads these patterns the same way.
        let patterns: Vec<regex::Regex> = STORAGE_SIZE_RULE
            .split("matches('")
            .skip(1)
            .map(|p| regex::Regex::new(&p[..p.find("')").unwrap()]).unwrap())
            .collect();
        assert_eq!(patterns.len(), 2);
        let accepted = |size: &str| patterns.iter().all(|p| p.is_match(size));
        for good in ["1Gi", "500Mi", "10G", "0.5Gi", "1", "2Ti", "100k"] {
            assert!(accepted(good), "{good} refused");
        }
        for bad in [
            "lots", "-1Gi", "0", "0Gi", "0.0Mi", "", "1e3", "1 Gi", "1gi", "+1Gi",
        ] {
            assert!(!accepted(bad), "{bad} accepted");
        }
    }

    #[test]
    fn fields_of_the_volume_claim_template_are_immutable_and_ranges_enforced() {
        let crd = serde_json::to_value(crd()).unwrap();
        let storage = spec_schema(&crd, &["storage"]);
        assert!(
            rules(&storage)
                .iter()
                .any(|r| r.contains("self.storageClassName == oldSelf.storageClassName")),
            "{storage}"
        );
        assert!(rules(&spec_schema(&crd, &["storage", "size"]))
            .contains(&"self == oldSelf".to_string()));
        let max_unavailable = spec_schema(&crd, &["podDisruptionBudget", "maxUnavailable"]);
        assert_eq!(rules(&max_unavailable), ["self >= 0"], "{max_unavailable}");
        assert!(rules(&spec_schema(&crd, &["replicas"])).contains(&"self >= 1".to_string()));
        assert!(
            rules(&spec_schema(&crd, &["membership", "catchUpTimeoutSeconds"]))
                .contains(&"self >= 1".to_string())
        );
    }

    #[test]
    fn the_crd_uses_only_integer_formats_the_api_server_knows() {
        let text = serde_json::to_string(&crd()).unwrap();
        assert!(!text.contains("\"uint"), "unrecognized format in {text}");
        let crd = serde_json::to_value(crd()).unwrap();
        let lag = spec_schema(&crd, &["membership", "maxLearnerLag"]);
        assert_eq!(lag["format"], "int64");
        assert_eq!(lag["minimum"].as_f64(), Some(0.0), "still unsigned: {lag}");
    }

    #[test]
    fn crd_has_subresources_columns_and_validation() {
        let crd = serde_json::to_value(crd()).unwrap();
        let version = &crd["spec"]["versions"][0];
        assert_eq!(crd["spec"]["group"], "kiwi.io");
        assert_eq!(version["name"], "v1alpha1");
        assert!(version["subresources"]["status"].is_object());
        assert_eq!(
            version["subresources"]["scale"]["specReplicasPath"],
            ".spec.replicas"
        );
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, ["Replicas", "Ready", "Leader", "Phase", "Age"]);
        let text = crd.to_string();
        assert!(text.contains("self >= 1"), "replicas rule missing");
        assert!(
            text.contains("self == oldSelf"),
            "immutable size rule missing"
        );
    }

    /// The apiserver's rules for a structural schema (apiextensions "Specifying a structural
    /// schema"): every node typed unless int-or-string or preserve-unknown-fields, no `$ref`,
    /// and no type, description, default, additionalProperties or nullable inside a junctor.
    fn structural_violations(
        node: &serde_json::Value,
        path: &str,
        in_junctor: bool,
        out: &mut Vec<String>,
    ) {
        let Some(obj) = node.as_object() else { return };
        if obj.contains_key("$ref") {
            out.push(format!("{path}: $ref"));
        }
        let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&serde_json::json!(true));
        let preserve =
            obj.get("x-kubernetes-preserve-unknown-fields") == Some(&serde_json::json!(true));
        if in_junctor {
            for key in [
                "type",
                "description",
                "default",
                "additionalProperties",
                "nullable",
            ] {
                if obj.contains_key(key) && !int_or_string {
                    out.push(format!("{path}: '{key}' inside a junctor"));
                }
            }
        } else if !obj.contains_key("type") && !int_or_string && !preserve {
            out.push(format!("{path}: no type"));
        }
        if let Some(props) = obj.get("properties").and_then(|p| p.as_object()) {
            for (name, child) in props {
                structural_violations(child, &format!("{path}.{name}"), in_junctor, out);
            }
        }
        if let Some(items) = obj.get("items") {
            structural_violations(items, &format!("{path}[]"), in_junctor, out);
        }
        if let Some(extra) = obj.get("additionalProperties").filter(|a| a.is_object()) {
            structural_violations(extra, &format!("{path}{{}}"), in_junctor, out);
        }
        for junctor in ["allOf", "anyOf", "oneOf"] {
            for (i, child) in obj
                .get(junctor)
                .and_then(|j| j.as_array())
                .into_iter()
                .flatten()
                .enumerate()
            {
                structural_violations(child, &format!("{path}/{junctor}[{i}]"), true, out);
            }
        }
        if let Some(not) = obj.get("not") {
            structural_violations(not, &format!("{path}/not"), true, out);
        }
    }

    #[test]
    fn crd_schema_is_structural() {
        let crd = serde_json::to_value(crd()).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let mut violations = Vec::new();
        structural_violations(schema, "", false, &mut violations);
        assert!(violations.is_empty(), "{violations:#?}");
        // And the checker does catch a non-structural schema.
        let mut caught = Vec::new();
        structural_violations(
            &serde_json::json!({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}}),
            "",
            false,
            &mut caught,
        );
        assert_eq!(caught.len(), 2, "{caught:?}");
    }

    #[test]
    fn a_minimal_spec_gets_the_defaults() {
        let spec: KiwiClusterSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(spec.replicas, 3);
        assert_eq!(spec.storage.size, "1Gi");
        assert!(spec.storage.reclaim_on_scale_down);
        assert_eq!(spec.anti_affinity, AntiAffinity::Preferred);
        assert!(spec.pod_disruption_budget.enabled);
        assert!(!spec.paused);
    }
}
