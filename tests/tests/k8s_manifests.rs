//! Every Kubernetes object Kiwi ships or builds is valid against the Kubernetes OpenAPI schema
//! (`kubernetes-validate --strict`, installed by scripts/setup.sh): the CRD the operator
//! generates, the objects it builds for the example KiwiClusters, and the operator's own
//! manifests. The examples are also checked against the CRD's own schema, and the CRD copy
//! under deploy/crds/ must be what `kiwi-operator crd` prints today.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiwi_tests::operator_bin;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

fn operator(args: &[&str]) -> String {
    let out = Command::new(operator_bin())
        .args(args)
        .output()
        .expect("run kiwi-operator");
    assert!(
        out.status.success(),
        "kiwi-operator {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs kubernetes-validate on files; panics with its output unless all are valid.
fn validate(files: &[PathBuf]) {
    // As a module: the console script may not be on PATH (pyenv shims, user installs).
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(files)
        .output()
        .expect("kubernetes-validate (pip install kubernetes-validate; scripts/setup.sh does)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    assert!(!text.contains("ERROR"), "{text}");
}

#[test]
fn the_generated_crd_is_valid_and_matches_the_checked_in_copy() {
    let crd = operator(&["crd"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crd.yaml");
    std::fs::write(&file, &crd).unwrap();
    validate(&[file]);
    let copy = repo().join("deploy/crds/kiwi.io_kiwiclusters.yaml");
    let checked_in = std::fs::read_to_string(&copy).expect("deploy/crds/kiwi.io_kiwiclusters.yaml");
    assert!(
        checked_in == crd,
        "{} is stale: regenerate it with `kiwi-operator crd > {}`",
        copy.display(),
        copy.display()
    );
    let chart_copy = repo().join("charts/kiwi-operator/crds/kiwi.io_kiwiclusters.yaml");
    assert_eq!(
        std::fs::read_to_string(&chart_copy).expect("the chart's CRD copy"),
        crd,
        "{} is stale",
        chart_copy.display()
    );
}

#[test]
fn objects_built_for_the_examples_are_schema_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for example in ["kiwicluster.yaml", "kiwicluster-full.yaml"] {
        let path = repo().join("deploy/examples").join(example);
        let objects = operator(&["render", "-f", path.to_str().unwrap()]);
        for kind in ["ConfigMap", "Service", "PodDisruptionBudget", "StatefulSet"] {
            assert!(
                objects.contains(&format!("kind: {kind}")),
                "{example}: no {kind}"
            );
        }
        let file = dir.path().join(format!("rendered-{example}"));
        std::fs::write(&file, objects).unwrap();
        files.push(file);
    }
    validate(&files);
}

#[test]
fn the_examples_satisfy_the_crd_schema() {
    let crd = operator(&["crd"]);
    let dir = tempfile::tempdir().unwrap();
    let crd_file = dir.path().join("crd.yaml");
    std::fs::write(&crd_file, crd).unwrap();
    // jsonschema comes with kubernetes-validate. OpenAPI v3 schemas are JSON Schema enough for
    // the keywords the CRD uses (types, enums, required, properties, items, formats).
    let script = r#"
import sys, yaml, jsonschema
crd = yaml.safe_load(open(sys.argv[1]))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if doc and doc.get("kind") == "KiwiCluster":
            jsonschema.validate(doc, schema)
            print("valid", path)
# And a bad one is refused.
try:
    jsonschema.validate({"apiVersion": "kiwi.io/v1alpha1", "kind": "KiwiCluster", "spec": {"replicas": "three"}}, schema)
    sys.exit("a string replica count passed the schema")
except jsonschema.ValidationError:
    pass
"#;
    let examples = repo().join("deploy/examples");
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&crd_file)
        .arg(examples.join("kiwicluster.yaml"))
        .arg(examples.join("kiwicluster-full.yaml"))
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("valid ").count(), 2, "{text}");
}

#[test]
fn the_operator_manifests_are_schema_valid() {
    let dir = repo().join("deploy/operator");
    let files: Vec<PathBuf> = [
        "namespace.yaml",
        "serviceaccount.yaml",
        "clusterrole.yaml",
        "clusterrolebinding.yaml",
        "deployment.yaml",
        "service.yaml",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    validate(&files);
}

#[test]
fn a_manifest_with_a_reserved_config_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: kiwi.io/v1alpha1\nkind: KiwiCluster\nmetadata:\n  name: bad\nspec:\n  config:\n    raft-node-id: \"7\"\n",
    )
    .unwrap();
    let out = Command::new(operator_bin())
        .args(["render", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("raft-node-id"), "{err}");
}

/// Pod Security Standards, "restricted" (kubernetes.io/docs/concepts/security/
/// pod-security-standards): the operator's Deployment and the StatefulSet it builds run in a
/// namespace labelled `pod-security.kubernetes.io/enforce: restricted`.
#[test]
fn pods_meet_the_restricted_pod_security_standard() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered.yaml");
    let example = repo().join("deploy/examples/kiwicluster-full.yaml");
    std::fs::write(
        &rendered,
        operator(&["render", "-f", example.to_str().unwrap()]),
    )
    .unwrap();
    let script = r#"
import sys, yaml
checked = 0
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        pod = doc["spec"]["template"]["spec"]
        psc = pod.get("securityContext") or {}
        name = doc["kind"] + "/" + doc["metadata"]["name"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c.get("securityContext") or {}
            where = name + " container " + c["name"]
            assert sc.get("allowPrivilegeEscalation") is False, where + ": allowPrivilegeEscalation"
            assert sc.get("privileged") in (None, False), where + ": privileged"
            caps = sc.get("capabilities") or {}
            assert "ALL" in (caps.get("drop") or []), where + ": capabilities.drop ALL"
            assert set(caps.get("add") or []) <= {"NET_BIND_SERVICE"}, where + ": capabilities.add"
            assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, where + ": runAsNonRoot"
            assert sc.get("runAsUser", psc.get("runAsUser")) != 0, where + ": runAsUser 0"
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            assert seccomp in ("RuntimeDefault", "Localhost"), where + ": seccompProfile"
            assert sc.get("readOnlyRootFilesystem") is True, where + ": readOnlyRootFilesystem"
        for v in pod.get("volumes", []):
            assert set(v) - {"name"} <= {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}, name + ": volume " + v["name"]
        checked += 1
print("checked", checked)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(repo().join("deploy/operator/deployment.yaml"))
        .arg(&rendered)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("checked 2"), "{text}");
}

/// The NetworkPolicy example is valid, selects the example cluster's pods, admits its peers
/// and the operator's pods to the Raft port, and clients to the RESP port.
#[test]
fn the_network_policy_example_fits_the_pods_and_the_operator() {
    let policy = repo().join("deploy/examples/networkpolicy.yaml");
    validate(std::slice::from_ref(&policy));
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered.yaml");
    let example = repo().join("deploy/examples/kiwicluster.yaml");
    std::fs::write(
        &rendered,
        operator(&["render", "-f", example.to_str().unwrap()]),
    )
    .unwrap();
    let script = r#"
import sys, yaml
policy = yaml.safe_load(open(sys.argv[1]))
sts = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d and d["kind"] == "StatefulSet"][0]
operator = yaml.safe_load(open(sys.argv[3]))
def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
pod_labels = sts["spec"]["template"]["metadata"]["labels"]
assert policy["metadata"]["namespace"] == sts["metadata"]["namespace"]
assert selects(policy["spec"]["podSelector"], pod_labels), "the policy does not select the pods"
ports = {p["name"]: p["containerPort"] for p in sts["spec"]["template"]["spec"]["containers"][0]["ports"]}
rules = {r["ports"][0]["port"]: r["from"] for r in policy["spec"]["ingress"]}
assert len(rules) == len(policy["spec"]["ingress"]), "one rule per port (a second would hide the first here)"
assert set(rules) == {ports["raft"], ports["resp"]}, rules
raft_from = rules[ports["raft"]]
assert any("namespaceSelector" not in f and selects(f["podSelector"], pod_labels) for f in raft_from), "peers"
op_labels = operator["spec"]["template"]["metadata"]["labels"]
assert any(f.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == operator["metadata"]["namespace"]
           and selects(f["podSelector"], op_labels) for f in raft_from), "operator"
print("ok")
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&policy)
        .arg(&rendered)
        .arg(repo().join("deploy/operator/deployment.yaml"))
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("ok"), "{text}");
}
