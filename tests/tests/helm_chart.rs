//! The Helm chart (charts/kiwi-operator), linted and rendered by a real Helm engine: Helm v4 as
//! a library, from PyPI's helm-python-sdk, driven by tests/helm/chart.py (both installed or
//! shipped by scripts/setup.sh). Every values combination below must lint clean under
//! `--strict`, render, and give objects that pass `kubernetes-validate --strict` (ServiceMonitor
//! and PodMonitor: the Prometheus Operator's schema). The chart's RBAC must grant exactly what
//! deploy/operator/clusterrole.yaml grants, its PodMonitor must select the pods the operator
//! builds, and its Grafana dashboard may query only metrics the code exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

fn chart() -> PathBuf {
    repo().join("charts/kiwi-operator")
}

const RELEASE: &str = "kiwi-operator";
const NAMESPACE: &str = "kiwi-system";

fn python(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("python3")
        .arg(repo().join("tests/helm/chart.py"))
        .args(args)
        .output()
        .expect("python3 (scripts/setup.sh)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion): CEL validation rules
/// in the CRD and the StatefulSet's PVC retention policy.
const MIN_KUBE: &str = "v1.27.0";

/// What Helm made of the chart with `values`: the rendered objects, or Helm's refusal.
fn helm(values: &Value) -> Result<Vec<Value>, String> {
    helm_for(values, MIN_KUBE)
}

/// The same, as `helm template --kube-version` for a cluster running `kube_version`.
fn helm_for(values: &Value, kube_version: &str) -> Result<Vec<Value>, String> {
    let chart = chart();
    let (ok, stdout, stderr) = python(&[
        "render",
        chart.to_str().unwrap(),
        &values.to_string(),
        RELEASE,
        NAMESPACE,
        kube_version,
    ]);
    let reply: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!("tests/helm/chart.py gave no answer (is helm-python-sdk installed? scripts/setup.sh installs it):\n{stdout}\n{stderr}")
    });
    // Lint findings: info is fine (Helm suggests an icon), warnings fail as with --strict.
    let findings: Vec<&Value> = reply["lint"]
        .as_array()
        .expect("lint messages")
        .iter()
        .filter(|m| m["severity"].as_i64().unwrap_or(3) >= 2)
        .collect();
    if !ok {
        return Err(reply["error"].as_str().unwrap_or(&stdout).to_string());
    }
    assert!(findings.is_empty(), "helm lint {values}: {findings:?}");
    Ok(parse_yaml(reply["manifest"].as_str().expect("a manifest")))
}

fn render(values: &Value) -> Vec<Value> {
    helm(values).unwrap_or_else(|e| panic!("helm refused {values}: {e}"))
}

fn parse_yaml(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objects, kind);
    assert_eq!(found.len(), 1, "one {kind} expected: {found:?}");
    found[0]
}

/// Every object valid against its schema: Kubernetes' own kinds with kubernetes-validate
/// --strict, the Prometheus Operator's with its CRD schema.
fn validate(objects: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let (monitors, core): (Vec<&Value>, Vec<&Value>) = objects
        .iter()
        .partition(|o| o["apiVersion"] == "monitoring.coreos.com/v1");
    let mut files = Vec::new();
    for (i, object) in core.iter().enumerate() {
        let file = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&file, serde_yaml::to_string(object).unwrap()).unwrap();
        files.push(file);
    }
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(&files)
        .output()
        .expect("kubernetes-validate (scripts/setup.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    // An unknown kind is only a warning there: every object must have been checked.
    assert!(!text.contains("ERROR") && !text.contains("WARN"), "{text}");
    assert_eq!(text.matches(" passed ").count(), core.len(), "{text}");
    if !monitors.is_empty() {
        let file = dir.path().join("monitors.yaml");
        let docs: Vec<String> = monitors
            .iter()
            .map(|m| serde_yaml::to_string(m).unwrap())
            .collect();
        std::fs::write(&file, docs.join("---\n")).unwrap();
        let (ok, stdout, stderr) = python(&["monitors", file.to_str().unwrap()]);
        assert!(ok, "monitor schema:\n{stdout}{stderr}");
        assert_eq!(stdout.matches("valid ").count(), monitors.len(), "{stdout}");
    }
}

/// Renders, lints and validates `values`; the rendered kinds must include `present` and none
/// of `absent`.
fn check(values: Value, present: &[&str], absent: &[&str]) -> Vec<Value> {
    let objects = render(&values);
    let kinds = kinds(&objects);
    for kind in present {
        assert!(kinds.contains(*kind), "{values}: no {kind} in {kinds:?}");
    }
    for kind in absent {
        assert!(!kinds.contains(*kind), "{values}: unexpected {kind}");
    }
    validate(&objects);
    objects
}

fn deployment_pod(objects: &[Value]) -> &Value {
    &one(objects, "Deployment")["spec"]["template"]["spec"]
}

#[test]
fn the_defaults_render_a_leader_elected_pair_with_cluster_rbac() {
    let objects = check(
        json!({}),
        &[
            "Deployment",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "PodDisruptionBudget",
        ],
        &[
            "Role",
            "RoleBinding",
            "ServiceMonitor",
            "PodMonitor",
            "ConfigMap",
        ],
    );
    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = &deployment_pod(&objects)["containers"][0]["args"];
    assert_eq!(args, &json!(["run", "--leader-election"]));
    // The default spread selects this release's operator pods.
    let spread = &deployment_pod(&objects)["topologySpreadConstraints"][0];
    assert_eq!(
        spread["labelSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        one(&objects, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        1
    );
}

#[test]
fn everything_on_renders_valid_objects() {
    let objects = check(
        json!({
            "replicaCount": 3,
            "image": {"repository": "registry.example/kiwi", "tag": "0.2.0", "pullPolicy": "Always"},
            "imagePullSecrets": [{"name": "regcred"}],
            "logLevel": "kiwi_operator=debug",
            "logJson": true,
            "extraArgs": ["--admin-timeout", "10"],
            "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
            "serviceAccount": {"annotations": {"example.com/role": "kiwi"}},
            "podAnnotations": {"example.com/a": "b"},
            "podLabels": {"team": "storage"},
            "priorityClassName": "system-cluster-critical",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "kiwi-operator"}}}
            ]}},
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
            ],
            "podDisruptionBudget": {"minAvailable": 2},
            "metrics": {"port": 9090, "service": {"annotations": {"example.com/scrape": "true"}},
                        "serviceMonitor": {"enabled": true, "interval": "15s", "labels": {"release": "prometheus"}}},
            "podMonitor": {"enabled": true, "interval": "15s", "labels": {"release": "prometheus"}},
            "grafanaDashboard": {"enabled": true, "namespace": "monitoring"},
        }),
        &[
            "Deployment",
            "ClusterRole",
            "ClusterRoleBinding",
            "PodDisruptionBudget",
            "ServiceMonitor",
            "PodMonitor",
            "ConfigMap",
        ],
        &["Role"],
    );
    let pod = deployment_pod(&objects);
    let container = &pod["containers"][0];
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(
        container["args"],
        json!(["run", "--leader-election", "--admin-timeout", "10"])
    );
    assert!(container["env"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "RUST_BACKTRACE", "value": "1"})));
    assert_eq!(container["image"], "registry.example/kiwi:0.2.0");
    assert_eq!(container["ports"][0]["containerPort"], 9090);
    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 2);
    assert!(pdb["spec"].get("maxUnavailable").is_none(), "{pdb}");
    assert_eq!(
        one(&objects, "ServiceMonitor")["metadata"]["labels"]["release"],
        "prometheus"
    );
    assert_eq!(
        one(&objects, "ConfigMap")["metadata"]["namespace"],
        "monitoring"
    );
}

#[test]
fn watch_namespace_gives_namespaced_roles() {
    let objects = check(
        json!({"watchNamespace": "apps", "podMonitor": {"enabled": true}}),
        &["Deployment", "Role", "RoleBinding", "PodMonitor"],
        &["ClusterRole", "ClusterRoleBinding"],
    );
    let args = &deployment_pod(&objects)["containers"][0]["args"];
    assert_eq!(
        args,
        &json!(["run", "--leader-election", "--namespace", "apps"])
    );
    // The operator's rules where it works, the Lease's where the Lease lives.
    let roles: BTreeMap<&str, &Value> = find(&objects, "Role")
        .into_iter()
        .map(|r| (r["metadata"]["namespace"].as_str().unwrap(), r))
        .collect();
    assert_eq!(
        roles.keys().copied().collect::<Vec<_>>(),
        ["apps", NAMESPACE]
    );
    assert_eq!(
        grants(&roles[NAMESPACE]["rules"]),
        grants(
            &json!([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                        "verbs": ["get", "list", "watch", "create", "patch", "update"]}])
        )
    );
    for binding in find(&objects, "RoleBinding") {
        let role = &roles[binding["metadata"]["namespace"].as_str().unwrap()];
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(binding["subjects"][0]["name"], RELEASE);
        assert_eq!(binding["subjects"][0]["namespace"], NAMESPACE);
    }
    let monitor = one(&objects, "PodMonitor");
    assert_eq!(
        monitor["spec"]["namespaceSelector"],
        json!({"matchNames": ["apps"]})
    );
}

#[test]
fn rbac_create_false_renders_no_rbac() {
    for values in [
        json!({"rbac": {"create": false}}),
        json!({"rbac": {"create": false}, "watchNamespace": "apps"}),
    ] {
        check(
            values,
            &["Deployment", "ServiceAccount"],
            &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
        );
    }
}

#[test]
fn one_replica_without_leader_election_and_without_a_service_account() {
    let objects = check(
        json!({"replicaCount": 1, "leaderElection": false,
               "serviceAccount": {"create": false, "name": "ops"}}),
        &["Deployment", "ClusterRole"],
        &["PodDisruptionBudget", "ServiceAccount"],
    );
    let pod = deployment_pod(&objects);
    assert_eq!(pod["serviceAccountName"], "ops");
    assert_eq!(pod["containers"][0]["args"], json!(["run"]));
    assert_eq!(
        one(&objects, "ClusterRoleBinding")["subjects"][0]["name"],
        "ops"
    );
    // Without leader election there is no Lease to grant.
    assert!(!grants(&one(&objects, "ClusterRole")["rules"])
        .iter()
        .any(|(_, resource, _)| resource == "leases"));
}

#[test]
fn helm_refuses_values_that_cannot_work() {
    for (values, expect) in [
        // Two operators without leader election would fight over every KiwiCluster.
        (
            json!({"replicaCount": 2, "leaderElection": false}),
            "needs leaderElection",
        ),
        (json!({"replicaCount": "two"}), "/replicaCount"),
        (json!({"replicaCunt": 1}), "replicaCunt"),
        (
            json!({"podMonitor": {"enabled": true, "interval": "soon"}}),
            "/podMonitor/interval",
        ),
        (
            json!({"watchNamespace": "Not_A_Namespace"}),
            "/watchNamespace",
        ),
        (
            json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}]}),
            "whenUnsatisfiable",
        ),
    ] {
        match helm(&values) {
            Ok(_) => panic!("helm rendered {values}"),
            Err(e) => assert!(e.contains(expect), "{values}: {e}"),
        }
    }
}

#[test]
fn the_chart_needs_kubernetes_1_27() {
    for old in ["v1.25.16", "v1.26.15"] {
        match helm_for(&json!({}), old) {
            Ok(_) => panic!("the chart installed on Kubernetes {old}"),
            Err(e) => assert!(e.contains("kubeVersion: >=1.27"), "{old}: {e}"),
        }
    }
    for new in [MIN_KUBE, "v1.36.0"] {
        helm_for(&json!({}), new).unwrap_or_else(|e| panic!("{new}: {e}"));
    }
}

/// A rule set as (apiGroup, resource, verb) triples, so that grouping and order don't matter.
fn grants(rules: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().expect("rules") {
        let strings = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .unwrap_or_else(|| panic!("{key} in {rule}"))
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        for group in strings("apiGroups") {
            for resource in strings("resources") {
                for verb in strings("verbs") {
                    out.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    out
}

#[test]
fn the_chart_grants_what_deploy_grants() {
    let text = std::fs::read_to_string(repo().join("deploy/operator/clusterrole.yaml")).unwrap();
    let deploy = grants(&parse_yaml(&text)[0]["rules"]);
    assert!(deploy.len() > 10, "{deploy:?}");
    let cluster_wide = render(&json!({}));
    assert_eq!(
        grants(&one(&cluster_wide, "ClusterRole")["rules"]),
        deploy,
        "the chart's ClusterRole and deploy/operator/clusterrole.yaml differ"
    );
    // Namespaced: the two Roles together grant the same.
    let namespaced = render(&json!({"watchNamespace": "apps"}));
    let roles: BTreeSet<_> = find(&namespaced, "Role")
        .iter()
        .flat_map(|r| grants(&r["rules"]))
        .collect();
    assert_eq!(
        roles, deploy,
        "the chart's Roles and deploy/operator/clusterrole.yaml differ"
    );
}

#[test]
fn the_operator_pod_meets_pod_security_restricted() {
    let objects = render(&json!({}));
    let pod = deployment_pod(&objects);
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    let seccomp = |ctx: &Value| ctx["seccompProfile"]["type"].clone();
    assert!(
        seccomp(sc) == "RuntimeDefault" || seccomp(&pod["securityContext"]) == "RuntimeDefault",
        "{pod}"
    );
    assert!(
        sc["runAsNonRoot"] == true || pod["securityContext"]["runAsNonRoot"] == true,
        "{pod}"
    );
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert!(pod.get("hostNetwork").is_none() && pod.get("volumes").is_none());
    // The same in deploy/'s plain manifest.
    let text = std::fs::read_to_string(repo().join("deploy/operator/deployment.yaml")).unwrap();
    let plain = &parse_yaml(&text)[0]["spec"]["template"]["spec"];
    assert_eq!(
        plain["containers"][0]["securityContext"]["allowPrivilegeEscalation"],
        false
    );
}

#[test]
fn the_pod_monitor_selects_the_pods_the_operator_creates() {
    let objects = render(&json!({"podMonitor": {"enabled": true}}));
    let monitor = &one(&objects, "PodMonitor")["spec"];
    assert_eq!(monitor["namespaceSelector"], json!({"any": true}));
    // The pods the operator builds for the example cluster.
    let text = std::fs::read_to_string(repo().join("deploy/examples/kiwicluster.yaml")).unwrap();
    let kc: kiwi_operator::crd::KiwiCluster = serde_yaml::from_str(&text).unwrap();
    let built = kiwi_operator::controller::render(&kc).expect("the example renders");
    let sts = built
        .iter()
        .find(|o| o["kind"] == "StatefulSet")
        .expect("a StatefulSet");
    let template = &sts["spec"]["template"];
    let pod_labels = template["metadata"]["labels"].as_object().unwrap();
    for (key, value) in monitor["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            pod_labels.get(key),
            Some(value),
            "pod labels {pod_labels:?}"
        );
    }
    // But not the operator's own pods.
    let operator_labels = &one(&objects, "Deployment")["spec"]["template"]["metadata"]["labels"];
    assert_ne!(
        operator_labels["app.kubernetes.io/name"],
        monitor["selector"]["matchLabels"]["app.kubernetes.io/name"]
    );
    // The scraped port is the one serving /metrics: the node's HTTP on the Raft port.
    let endpoint = &monitor["podMetricsEndpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let port = template["spec"]["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == endpoint["port"])
        .unwrap_or_else(|| panic!("no port {} on the kiwi container", endpoint["port"]));
    assert_eq!(port["containerPort"], kiwi_operator::resources::RAFT_PORT);
    // kiwi_cluster comes from the pod label holding the cluster's name, as Prometheus names it
    // in service discovery (every character outside [a-zA-Z0-9_] becomes `_`).
    let labels = kiwi_operator::resources::selector_labels("demo");
    let (key, _) = labels
        .iter()
        .find(|(_, value)| *value == "demo")
        .expect("a selector label naming the cluster");
    let sanitized: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    assert_eq!(
        endpoint["relabelings"][0]["sourceLabels"],
        json!([format!("__meta_kubernetes_pod_label_{sanitized}")])
    );
    assert_eq!(endpoint["relabelings"][0]["targetLabel"], "kiwi_cluster");
}

/// Metric names registered in a Rust source: string literals starting with `kiwi_`; a
/// histogram (`HistogramOpts::new(` before the name) also exports _bucket, _sum and _count.
fn exported_metrics(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in source.match_indices("\"kiwi_") {
        let rest = &source[at + 1..];
        let end = rest.find('"').unwrap();
        let name = &rest[..end];
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        names.insert(name.to_string());
        if source[..at].trim_end().ends_with("HistogramOpts::new(") {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }
    names
}

const PROMQL_WORDS: &[&str] = &[
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "group", "and", "or", "unless", "bool", "offset",
];

/// Metric names a PromQL expression (or a Grafana `label_values(...)` query) reads: every
/// identifier that is not a function, an aggregation keyword, or a label in `{...}`,
/// `by (...)`, `on (...)` and the like.
fn queried_metrics(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let skip_group = |mut i: usize, open: char, close: char| -> usize {
        while i < chars.len() && chars[i] != open {
            i += 1;
        }
        let mut depth = 0;
        while i < chars.len() {
            if chars[i] == open {
                depth += 1;
            } else if chars[i] == close {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            i = skip_group(i, '{', '}');
        } else if c == '[' {
            i = skip_group(i, '[', ']');
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next] == ' ' {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            match word.as_str() {
                // Label lists.
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right" => {
                    if call {
                        i = skip_group(next, '(', ')');
                    }
                }
                // label_values(metric, label): the label is no metric.
                "label_values" => {
                    let end = skip_group(next, '(', ')');
                    let inner: String = chars[next + 1..end - 1].iter().collect();
                    let metric_part = inner.rsplit_once(',').map_or(&inner[..], |(m, _)| m);
                    names.extend(queried_metrics(metric_part));
                    i = end;
                }
                w if call || PROMQL_WORDS.contains(&w) => {}
                _ => names.push(word),
            }
        } else {
            i += 1;
        }
    }
    names
}

fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut queries = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr", Value::String(s)) => out.push(s.clone()),
                        ("query", Value::String(s)) if s.contains('(') => out.push(s.clone()),
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(dashboard, &mut queries);
    queries
}

#[test]
fn the_dashboard_queries_only_metrics_the_code_exports() {
    let read = |p: &str| std::fs::read_to_string(repo().join(p)).unwrap();
    let operator = exported_metrics(&read("operator/src/metrics.rs"));
    let node = exported_metrics(&read("node/src/http/metrics.rs"));
    assert!(
        operator.contains("kiwi_operator_reconcile_duration_seconds_bucket"),
        "{operator:?}"
    );
    assert!(node.contains("kiwi_raft_is_leader"), "{node:?}");
    let exported: BTreeSet<String> = operator.union(&node).cloned().collect();

    // The extraction itself: labels and functions are no metrics; a made-up name is seen.
    assert_eq!(
        queried_metrics(
            r#"histogram_quantile(0.99, sum by (le) (rate(kiwi_a_bucket{kiwi_cluster=~"$c"}[$__rate_interval]))) - on (x) group_right kiwi_b"#
        ),
        ["kiwi_a_bucket", "kiwi_b"]
    );
    assert_eq!(
        queried_metrics(r#"label_values(kiwi_raft_term{namespace=~"$n"}, kiwi_cluster)"#),
        ["kiwi_raft_term"]
    );

    let file: Value = serde_json::from_str(&read("charts/kiwi-operator/dashboards/kiwi.json"))
        .expect("the dashboard is JSON");
    let queries = dashboard_queries(&file);
    assert!(queries.len() > 10, "{queries:?}");
    let mut used = BTreeSet::new();
    for query in &queries {
        let names = queried_metrics(query);
        assert!(!names.is_empty(), "no metric in {query}");
        for name in names {
            assert!(
                exported.contains(&name),
                "the dashboard queries {name} ({query}), which neither \
                 operator/src/metrics.rs nor node/src/http/metrics.rs exports"
            );
            used.insert(name);
        }
    }
    // Both sides of the system are on it.
    assert!(used.iter().any(|n| operator.contains(n)) && used.iter().any(|n| node.contains(n)));

    // The chart ships exactly this file.
    let objects = render(&json!({"grafanaDashboard": {"enabled": true}}));
    let config_map = one(&objects, "ConfigMap");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let shipped: Value =
        serde_json::from_str(config_map["data"]["kiwi.json"].as_str().unwrap()).unwrap();
    assert_eq!(shipped, file);
}
