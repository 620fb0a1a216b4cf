//! The reconciler against a scripted Kubernetes API (kube's tower-test pattern): each test
//! lists the exact requests one reconcile must make, in order, with the replies the API gives,
//! and checks the server-side-apply bodies and status patches.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

use super::*;
use crate::resources::tests::cluster;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// One expected request: method, path (without the query), and the reply to give.
struct Expect {
    method: Method,
    path: String,
    reply: (StatusCode, Value),
}

fn expect(method: Method, path: &str, status: StatusCode, reply: Value) -> Expect {
    Expect {
        method,
        path: path.to_string(),
        reply: (status, reply),
    }
}

/// Answers the expected requests in order and returns what was sent (path, query, body).
async fn serve(handle: Handle, script: Vec<Expect>) -> Vec<(String, String, Value)> {
    serve_counted(handle, script, Arc::default()).await
}

/// [`serve`], counting in `answered` the requests answered so far (to order them against
/// what fake nodes receive).
async fn serve_counted(
    mut handle: Handle,
    script: Vec<Expect>,
    answered: Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<(String, String, Value)> {
    let mut seen = Vec::new();
    for (i, e) in script.into_iter().enumerate() {
        let (request, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "request {i} ({} {}) never came; seen {seen:#?}",
                    e.method, e.path
                )
            })
            .expect("client dropped");
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        assert_eq!(
            (request.method(), path.as_str()),
            (&e.method, e.path.as_str()),
            "request {i}; before it: {:#?}",
            seen.iter()
                .map(|(p, _, _): &(String, String, Value)| p)
                .collect::<Vec<_>>()
        );
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        seen.push((path, query, body));
        let (status, reply) = e.reply;
        send.send_response(
            Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                .unwrap(),
        );
        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    seen
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
    )
}

fn empty_list(kind: &str) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {}, "items": []})
}

/// The reply of an apply: the object itself.
fn echo(obj: Value) -> Value {
    obj
}

fn context(handle_client: Client) -> Arc<Context> {
    Arc::new(Context::new(
        handle_client,
        AdminClient::new(Duration::from_millis(300)),
        Metrics::new(),
    ))
}

const NS: &str = "/api/v1/namespaces/prod";

/// The cluster's credentials Secret as the API server returns it (values base64 in `data`).
fn credentials() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "demo-credentials", "namespace": "prod"},
        // "admin-token-0123456789" and "cluster-secret-0123456789"
        "data": {
            "admin-token": "YWRtaW4tdG9rZW4tMDEyMzQ1Njc4OQ==",
            "cluster-secret": "Y2x1c3Rlci1zZWNyZXQtMDEyMzQ1Njc4OQ=="
        }
    })
}

/// Every reconcile of a valid spec reads the credentials Secret first.
fn credentials_get() -> Expect {
    expect(
        Method::GET,
        &format!("{NS}/secrets/demo-credentials"),
        StatusCode::OK,
        credentials(),
    )
}

/// The event every acting reconcile publishes (the recorder POSTs a new one).
fn event_post() -> Expect {
    expect(
        Method::POST,
        "/apis/events.k8s.io/v1/namespaces/prod/events",
        StatusCode::CREATED,
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": "2026-11-25T12:00:00.000000Z"}),
    )
}

/// The status write that ends every reconcile.
fn status_patch(kc: &KiwiCluster) -> Expect {
    expect(
        Method::PATCH,
        "/apis/kiwi.io/v1alpha1/namespaces/prod/kiwiclusters/demo/status",
        StatusCode::OK,
        serde_json::to_value(kc).unwrap(),
    )
}

fn list_pvcs(reply: Value) -> Expect {
    expect(
        Method::GET,
        &format!("{NS}/persistentvolumeclaims"),
        StatusCode::OK,
        reply,
    )
}
const APPS: &str = "/apis/apps/v1/namespaces/prod";

/// The applies every reconcile of a valid spec makes before observing.
fn fixed_applies(kc: &KiwiCluster) -> Vec<Expect> {
    let (cm, services, pdb) = resources::fixed_objects(kc);
    let mut script = vec![expect(
        Method::PATCH,
        &format!("{NS}/configmaps/demo-config"),
        StatusCode::OK,
        echo(serde_json::to_value(cm).unwrap()),
    )];
    for s in services {
        let name = s.metadata.name.clone().unwrap();
        script.push(expect(
            Method::PATCH,
            &format!("{NS}/services/{name}"),
            StatusCode::OK,
            serde_json::to_value(s).unwrap(),
        ));
    }
    script.push(expect(
        Method::PATCH,
        "/apis/policy/v1/namespaces/prod/poddisruptionbudgets/demo",
        StatusCode::OK,
        serde_json::to_value(pdb.unwrap()).unwrap(),
    ));
    script
}

fn assert_owned_by_cluster(body: &Value) {
    let owner = &body["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "KiwiCluster", "{body}");
    assert_eq!(owner["name"], "demo");
    assert_eq!(owner["controller"], true);
}

#[tokio::test]
async fn create_applies_every_object_then_scales_the_statefulset_and_writes_status() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let kc = cluster(json!({"replicas": 3}));
    let sts = serde_json::to_value(resources::stateful_set(&kc, 3, None)).unwrap();

    // The first reconcile creates the credentials Secret.
    let mut script = vec![
        expect(
            Method::GET,
            &format!("{NS}/secrets/demo-credentials"),
            not_found().0,
            not_found().1,
        ),
        expect(
            Method::POST,
            &format!("{NS}/secrets"),
            StatusCode::CREATED,
            credentials(),
        ),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            not_found().0,
            not_found().1,
        ),
    ];
    script.extend(fixed_applies(&kc));
    script.extend([
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            empty_list("PodList"),
        ),
        list_pvcs(empty_list("PersistentVolumeClaimList")),
        expect(
            Method::PATCH,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts,
        ),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve(handle, script));
    let requeue = reconcile(Arc::new(kc.clone()), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    assert_eq!(requeue, Requeue::requeue(Duration::from_millis(500)));

    // The credentials Secret: random values, owned by the cluster (deleted with it).
    let created = &seen[1].2;
    assert_eq!(created["metadata"]["name"], "demo-credentials");
    for key in ["admin-token", "cluster-secret"] {
        assert_eq!(
            created["stringData"][key].as_str().map(str::len),
            Some(64),
            "{created}"
        );
    }
    assert_owned_by_cluster(created);

    // Applies are server-side, forced, under our field manager, and owned by the cluster.
    for (path, query, body) in &seen[3..8] {
        assert!(
            query.contains("fieldManager=kiwi-operator"),
            "{path}?{query}"
        );
        assert!(query.contains("force=true"), "{path}?{query}");
        assert_owned_by_cluster(body);
    }
    assert_eq!(
        seen[3].2["data"]["kiwi.conf"].as_str().unwrap(),
        resources::kiwi_conf(&kc)
    );
    assert_eq!(seen[5].2["spec"]["ports"][0]["port"], 6379);
    // The pods are listed by the cluster's selector.
    assert!(
        seen[8]
            .1
            .contains("labelSelector=app.kubernetes.io%2Finstance%3Ddemo"),
        "{}",
        seen[8].1
    );
    // The StatefulSet is created with every pod at once.
    let sts = &seen[10].2;
    assert_owned_by_cluster(sts);
    assert_eq!(sts["kind"], "StatefulSet");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete");
    // The hash of the Secrets the pods read at start is in their template: rotating one rolls
    // them. The credentials Secret is not among them (the nodes reload its mounted files).
    assert_eq!(
        sts["spec"]["template"]["metadata"]["annotations"]["kiwi.io/secrets-hash"],
        resources::secrets_hash(std::iter::empty())
    );
    // Status: applied on the subresource, Pending (nothing initialized yet), selector set.
    let (_, query, status) = &seen[12];
    assert!(query.contains("fieldManager=kiwi-operator"));
    assert_eq!(status["apiVersion"], "kiwi.io/v1alpha1");
    assert_eq!(status["status"]["phase"], "Pending");
    assert_eq!(status["status"]["bootstrapped"], false);
    assert_eq!(
        status["status"]["selector"],
        "app.kubernetes.io/instance=demo,app.kubernetes.io/name=kiwi"
    );
    let available = status["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .unwrap();
    assert_eq!(available["status"], "False");
}

fn running_status(members: u64) -> Value {
    json!({
        "bootstrapped": true,
        "clusterId": "c1",
        "phase": "Running",
        "members": (0..members).map(|i| json!({
            "nodeId": i + 1, "pod": format!("demo-{i}"), "role": "Voter", "healthy": true
        })).collect::<Vec<_>>(),
    })
}

fn pod(i: u32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("demo-{i}"), "namespace": "prod", "labels": {"app.kubernetes.io/instance": "demo"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[tokio::test]
async fn scale_up_raises_the_statefulset_first() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut kc = cluster(json!({"replicas": 5}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let sts3 = serde_json::to_value(resources::stateful_set(&kc, 3, None)).unwrap();
    let sts5 = serde_json::to_value(resources::stateful_set(&kc, 5, None)).unwrap();

    let mut script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts3.clone(),
        ),
    ];
    script.extend(fixed_applies(&kc));
    script.extend([
        // The template is applied at the current size: replicas move only by plan.
        expect(Method::PATCH, &format!("{APPS}/statefulsets/demo"), StatusCode::OK, sts3),
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod(0), pod(1), pod(2)]}),
        ),
        list_pvcs(empty_list("PersistentVolumeClaimList")),
        expect(Method::PATCH, &format!("{APPS}/statefulsets/demo"), StatusCode::OK, sts5),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve(handle, script));
    reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    assert_eq!(seen[7].2["spec"]["replicas"], 3);
    assert_eq!(seen[10].2["spec"]["replicas"], 5);
    let event = &seen[11].2;
    assert_eq!(event["reason"], "Scaled");
    assert_eq!(event["regarding"]["name"], "demo");
    // Pods that do not answer are not healthy: the status says so rather than Available.
    let status = &seen[12].2["status"];
    assert_eq!(status["bootstrapped"], true);
    let available = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .unwrap();
    assert_eq!(available["status"], "False");
}

/// A pod whose readiness probe fails (its node is down).
fn pod_not_ready(i: u32) -> Value {
    let mut p = pod(i);
    p["status"]["conditions"][0]["status"] = json!("False");
    p
}

/// One reconcile of a bootstrapped three-node cluster whose pods (as given) never answer the
/// operator (no pod IPs here): returns the event and the status written.
async fn reconcile_with_silent_pods(pods: Vec<Value>) -> (Value, Value) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut kc = cluster(json!({"replicas": 3}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let sts1 = serde_json::to_value(resources::stateful_set(&kc, 3, None)).unwrap();
    let pvc = |i: u32| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": format!("data-demo-{i}"), "uid": format!("u{i}")}});
    let mut script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts1.clone(),
        ),
    ];
    script.extend(fixed_applies(&kc));
    script.extend([
        expect(Method::PATCH, &format!("{APPS}/statefulsets/demo"), StatusCode::OK, sts1),
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}),
        ),
        expect(
            Method::GET,
            &format!("{NS}/persistentvolumeclaims"),
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaimList", "metadata": {}, "items": [pvc(0), pvc(1), pvc(2)]}),
        ),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve(handle, script));
    reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    // Nothing is changed either way.
    assert!(seen
        .iter()
        .all(|(path, _, _)| !path.contains("persistentvolumeclaims/")));
    (seen[10].2.clone(), seen[11].2["status"].clone())
}

#[tokio::test]
async fn unreachable_voters_mean_quorum_lost_and_no_change() {
    // The pods are down (not ready) and do not answer: fewer than a majority of voters.
    let (event, status) =
        reconcile_with_silent_pods(vec![pod_not_ready(0), pod_not_ready(1), pod_not_ready(2)])
            .await;
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "QuorumLost");
    assert_eq!(status["phase"], "QuorumLost");
}

#[tokio::test]
async fn ready_pods_that_never_answer_mean_the_operator_cannot_reach_them() {
    // The kubelet finds every pod ready, yet none answers the operator: the fault is the
    // operator's path to the pods (run outside the cluster, or a NetworkPolicy), not quorum.
    let (event, status) = reconcile_with_silent_pods(vec![pod(0), pod(1), pod(2)]).await;
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "OperatorCannotReachPods");
    assert!(event["note"]
        .as_str()
        .unwrap()
        .contains("inside the cluster"));
    assert_eq!(status["phase"], "Unreachable");
    let reachable = condition(&status, "Reachable");
    assert_eq!(reachable["status"], "False");
    assert_eq!(reachable["reason"], "OperatorCannotReachPods");
    assert_eq!(condition(&status, "QuorumLost")["status"], "False");
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_waits_for_a_change() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let kc = cluster(json!({"config": {"raft-addr": "1.2.3.4:1"}}));
    let script = vec![event_post(), status_patch(&kc)];
    let server = tokio::spawn(serve(handle, script));
    let requeue = reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    assert_eq!(requeue, Requeue::await_change());
    assert_eq!(seen[0].2["reason"], "InvalidSpec");
    let progressing = &seen[1].2["status"]["conditions"][0];
    assert_eq!(progressing["reason"], "InvalidSpec");
    assert!(progressing["message"]
        .as_str()
        .unwrap()
        .contains("raft-addr"));
}

#[tokio::test]
async fn disabling_the_pdb_deletes_it() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut kc = cluster(json!({"replicas": 3, "podDisruptionBudget": {"enabled": false}}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let sts = serde_json::to_value(resources::stateful_set(&kc, 3, None)).unwrap();
    let (cm, services, pdb) = resources::fixed_objects(&kc);
    assert!(pdb.is_none());
    let mut script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts.clone(),
        ),
        expect(
            Method::PATCH,
            &format!("{NS}/configmaps/demo-config"),
            StatusCode::OK,
            serde_json::to_value(cm).unwrap(),
        ),
    ];
    for s in services {
        let name = s.metadata.name.clone().unwrap();
        script.push(expect(
            Method::PATCH,
            &format!("{NS}/services/{name}"),
            StatusCode::OK,
            serde_json::to_value(s).unwrap(),
        ));
    }
    script.extend([
        expect(
            Method::DELETE,
            "/apis/policy/v1/namespaces/prod/poddisruptionbudgets/demo",
            StatusCode::OK,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ),
        expect(
            Method::PATCH,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts,
        ),
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            empty_list("PodList"),
        ),
        list_pvcs(empty_list("PersistentVolumeClaimList")),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve(handle, script));
    reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    assert_eq!(
        seen[6].0,
        "/apis/policy/v1/namespaces/prod/poddisruptionbudgets/demo"
    );
    // With no pod of the recorded voters answering, nothing else is changed.
    assert_eq!(seen[10].2["reason"], "QuorumLost");
}

#[tokio::test]
async fn a_paused_cluster_is_observed_but_not_changed() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    // Asked for 5 while the StatefulSet runs 3: the plan would scale, but nothing may move.
    let mut kc = cluster(json!({"replicas": 5, "paused": true}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let sts3 = serde_json::to_value(resources::stateful_set(&kc, 3, None)).unwrap();
    let script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts3,
        ),
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod(0), pod(1), pod(2)]}),
        ),
        list_pvcs(empty_list("PersistentVolumeClaimList")),
        status_patch(&kc),
    ];
    let server = tokio::spawn(serve(handle, script));
    let requeue = reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    // Only reads and the status: no apply, no scale, no event.
    assert!(seen[1..4].iter().all(|(_, _, body)| body.is_null()));
    // The status says what happened (nothing), not what was planned.
    let status = &seen[4].2["status"];
    assert_eq!(status["phase"], "Paused");
    let progressing = condition(status, "Progressing");
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "Paused");
    assert!(
        !status.to_string().contains("scaled"),
        "a paused cluster claims no scaling: {status}"
    );
    // And it is not reconciled in a loop: it is only observed.
    assert_eq!(requeue, Requeue::requeue(Duration::from_secs(60)));
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status}"))
}

fn server_error(code: u16, message: &str) -> (StatusCode, Value) {
    (
        StatusCode::from_u16(code).unwrap(),
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": code, "message": message}),
    )
}

#[tokio::test]
async fn a_failed_statefulset_create_is_reported_as_a_failure_not_progress() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let kc = cluster(json!({"replicas": 3}));
    let (code, refusal) = server_error(500, "quantities must match the regular expression");
    let mut script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            not_found().0,
            not_found().1,
        ),
    ];
    script.extend(fixed_applies(&kc));
    script.extend([
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            empty_list("PodList"),
        ),
        list_pvcs(empty_list("PersistentVolumeClaimList")),
        expect(
            Method::PATCH,
            &format!("{APPS}/statefulsets/demo"),
            code,
            refusal,
        ),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve(handle, script));
    let result = reconcile(Arc::new(kc), context(client)).await;
    let seen = server.await.unwrap();
    assert!(result.is_err(), "the error is retried with backoff");
    let event = &seen[10].2;
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "OperationFailed");
    assert!(
        event["note"].as_str().unwrap().contains("quantities"),
        "{event}"
    );
    let progressing = condition(&seen[11].2["status"], "Progressing");
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "OperationFailed");
    assert!(progressing["message"]
        .as_str()
        .unwrap()
        .contains("quantities"));
}

#[tokio::test]
async fn an_object_the_api_server_refuses_is_named_in_an_event_and_the_status() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut kc = cluster(json!({"replicas": 3}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let sts = serde_json::to_value(resources::stateful_set(&kc, 3, None)).unwrap();
    let mut script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts,
        ),
    ];
    script.extend(fixed_applies(&kc));
    // The StatefulSet apply is refused: an immutable field (volumeClaimTemplates) changed.
    let (code, refusal) = server_error(
        422,
        "StatefulSet.apps \"demo\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than ... are forbidden",
    );
    script.extend([
        expect(
            Method::PATCH,
            &format!("{APPS}/statefulsets/demo"),
            code,
            refusal,
        ),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve(handle, script));
    let result = reconcile(Arc::new(kc), context(client)).await;
    let seen = server.await.unwrap();
    assert!(result.is_err());
    let event = &seen[8].2;
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "ApplyFailed");
    assert!(
        event["note"].as_str().unwrap().contains("StatefulSet demo"),
        "{event}"
    );
    let status = &seen[9].2["status"];
    let progressing = condition(status, "Progressing");
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ApplyFailed");
    assert!(progressing["message"]
        .as_str()
        .unwrap()
        .contains("Forbidden"));
    // What it knew before is kept.
    assert_eq!(status["bootstrapped"], true);
}

#[test]
fn clusters_not_yet_converged_are_looked_at_again_within_seconds() {
    let settled: KiwiClusterStatus = serde_json::from_value(json!({
        "phase": "Running", "replicas": 3, "readyReplicas": 3, "leader": {"nodeId": 1}
    }))
    .unwrap();
    let slow = requeue_after(false, &Action::Idle, &settled);
    assert!(slow <= Duration::from_secs(10), "{slow:?}");
    for unsettled in [
        json!({"phase": "Degraded", "replicas": 3, "readyReplicas": 3, "leader": {"nodeId": 1}}),
        json!({"phase": "Running", "replicas": 3, "readyReplicas": 3}),
        json!({"phase": "Running", "replicas": 3, "readyReplicas": 0, "leader": {"nodeId": 1}}),
    ] {
        let status: KiwiClusterStatus = serde_json::from_value(unsettled.clone()).unwrap();
        let after = requeue_after(false, &Action::Idle, &status);
        assert!(after <= Duration::from_secs(2), "{unsettled}: {after:?}");
    }
    let no_leader = Action::Wait {
        reason: "no leader elected yet".into(),
    };
    assert!(requeue_after(false, &no_leader, &settled) <= Duration::from_secs(2));
    // A paused cluster is not polled in a loop.
    assert!(
        requeue_after(true, &Action::ScaleStatefulSet { replicas: 5 }, &settled)
            >= Duration::from_secs(30)
    );
}

/// kube's recorder folds an event into the previous one's series (a PATCH that keeps the first
/// note) when type, reason, action and objects match: steps about different nodes or pods must
/// each be a new event, and only a repeat of the same step may fold.
#[tokio::test]
async fn events_about_different_nodes_are_separate_events() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let kc = cluster(json!({}));
    let promote = |node_id: u64| Action::Promote {
        leader: "10.0.0.1:8001".into(),
        pod: format!("demo-{}", node_id - 1),
        node_id,
    };
    let delete = |pod: &str| Action::DeletePod {
        pod: pod.into(),
        reason: "rolling onto revision r2".into(),
    };
    let steps = [
        promote(4),
        promote(5),
        delete("demo-2"),
        delete("demo-1"),
        promote(5),
    ];
    let mut script: Vec<Expect> = (0..4).map(|_| event_post()).collect();
    // The repeated promotion of node 5 folds into its own series (a PATCH of the event the
    // recorder named), nobody else's.
    script.push(expect(
        Method::PATCH,
        "/apis/events.k8s.io/v1/namespaces/prod/events/demo.",
        StatusCode::OK,
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "demo.1"}, "eventTime": "2026-11-25T12:00:00.000000Z"}),
    ));
    let ctx = context(client);
    let server = tokio::spawn(async move {
        let mut handle = handle;
        let mut seen = Vec::new();
        for e in script {
            let (request, send) = handle.next_request().await.expect("request");
            assert_eq!(request.method(), e.method);
            assert!(
                request.uri().path().starts_with(&e.path),
                "{}",
                request.uri()
            );
            let body: Value =
                serde_json::from_slice(&request.into_body().collect_bytes().await.unwrap())
                    .unwrap();
            seen.push(body);
            send.send_response(
                Response::builder()
                    .status(e.reply.0)
                    .body(Body::from(serde_json::to_vec(&e.reply.1).unwrap()))
                    .unwrap(),
            );
        }
        seen
    });
    for step in &steps {
        publish(
            &ctx,
            &kc,
            step_event(
                &kc,
                step,
                EventType::Normal,
                event_reason(step),
                act::describe(step),
            ),
        )
        .await;
    }
    let seen = server.await.unwrap();
    assert_eq!(seen[0]["action"], "Promote node 4");
    assert_eq!(seen[0]["related"]["kind"], "Pod");
    assert_eq!(seen[0]["related"]["name"], "demo-3");
    assert_eq!(seen[2]["action"], "DeletePod demo-2");
    assert_eq!(seen[3]["related"]["name"], "demo-1");
    assert_eq!(seen[4]["series"]["count"], 2);
    assert!(seen[4]["note"].as_str().unwrap().contains("node 5"));
}

/// Kiwi nodes answering the operator's admin calls, one per pod, each on its own loopback
/// address at the admin port (the operator dials pod IP:8001): `/status` and the leader's
/// `/raft/metrics` from a fixed membership, and every POST recorded with the number of API
/// requests the scripted server had answered by then.
struct FakeNodes {
    ips: Vec<String>,
    posts: Arc<Mutex<Vec<(String, Value, usize)>>>,
}

impl FakeNodes {
    /// Nodes 1..=n on 127.0.0.<base + i>, node 1 leading, all voters, all caught up.
    async fn start(base: u8, n: u64, answered: Arc<std::sync::atomic::AtomicUsize>) -> FakeNodes {
        use axum::routing::{get, post};
        let posts: Arc<Mutex<Vec<(String, Value, usize)>>> = Arc::default();
        let mut ips = Vec::new();
        let members: Vec<u64> = (1..=n).collect();
        for id in 1..=n {
            let ip = format!("127.0.0.{}", base + id as u8);
            let status = json!({
                "node_id": id, "cluster_id": "c1", "is_leader": id == 1, "leader_id": 1,
                "term": 2, "commit_index": 100, "applied_index": 100, "last_log_index": 100,
                "members": members, "learners": [],
                "raft_addr": format!("demo-{}.demo-headless.prod.svc:8001", id - 1),
                "resp_addr": format!("demo-{}.demo-headless.prod.svc:7379", id - 1),
            });
            let replication: serde_json::Map<String, Value> = members
                .iter()
                .filter(|m| **m != id)
                .map(|m| (m.to_string(), json!({"matched": 100, "lag": 0})))
                .collect();
            let metrics = json!({ "replication": if id == 1 { Value::Object(replication) } else { json!({}) } });
            let (posts, answered) = (posts.clone(), answered.clone());
            let app = axum::Router::new()
                .route("/status", get(move || async move { axum::Json(status) }))
                .route(
                    "/raft/metrics",
                    get(move || async move { axum::Json(metrics) }),
                )
                .route(
                    "/raft/{call}",
                    post(
                        move |axum::extract::Path(call): axum::extract::Path<String>,
                              axum::Json(body): axum::Json<Value>| async move {
                            let at = answered.load(std::sync::atomic::Ordering::SeqCst);
                            posts.lock().unwrap().push((call, body, at));
                            axum::Json(json!({}))
                        },
                    ),
                );
            let listener =
                tokio::net::TcpListener::bind((ip.as_str(), resources::RAFT_PORT as u16))
                    .await
                    .unwrap_or_else(|e| panic!("bind {ip}:{}: {e}", resources::RAFT_PORT));
            tokio::spawn(async move { axum::serve(listener, app).await });
            ips.push(ip);
        }
        FakeNodes { ips, posts }
    }

    /// Pod `i` as the API returns it: ready, at its node's address.
    fn pod(&self, i: u32) -> Value {
        let mut p = pod(i);
        p["status"]["podIP"] = json!(self.ips[i as usize]);
        p
    }

    fn posts(&self) -> Vec<(String, Value, usize)> {
        self.posts.lock().unwrap().clone()
    }
}

fn pvc(i: u32) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": format!("data-demo-{i}"), "uid": format!("u{i}")}})
}

/// The requests of a reconcile of a bootstrapped cluster up to its observation: the Secret,
/// the StatefulSet at `sts` replicas, the applies, and the pod and claim lists.
fn observing(kc: &KiwiCluster, sts: i32, pods: Vec<Value>, pvcs: Vec<Value>) -> Vec<Expect> {
    let sts = serde_json::to_value(resources::stateful_set(kc, sts, None)).unwrap();
    let mut script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            sts.clone(),
        ),
    ];
    script.extend(fixed_applies(kc));
    script.extend([
        expect(Method::PATCH, &format!("{APPS}/statefulsets/demo"), StatusCode::OK, sts),
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}),
        ),
        list_pvcs(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaimList", "metadata": {}, "items": pvcs})),
    ]);
    script
}

fn label_patch(pod: &str) -> Expect {
    expect(
        Method::PATCH,
        &format!("{NS}/pods/{pod}"),
        StatusCode::OK,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod}}),
    )
}

#[tokio::test]
async fn scale_down_records_the_intent_then_removes_the_voter_before_its_pod() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let answered: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let nodes = FakeNodes::start(60, 3, answered.clone()).await;
    let mut kc = cluster(json!({"replicas": 2}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    kc.metadata.resource_version = Some("41".into());
    let pods = (0..3).map(|i| nodes.pod(i)).collect();
    let mut script = observing(&kc, 3, pods, (0..3).map(pvc).collect());
    let mut written = serde_json::to_value(&kc).unwrap();
    written["metadata"]["resourceVersion"] = json!("42");
    script.extend([
        // The intent, before any admin call.
        expect(
            Method::PATCH,
            "/apis/kiwi.io/v1alpha1/namespaces/prod/kiwiclusters/demo/status",
            StatusCode::OK,
            written,
        ),
        event_post(),
        label_patch("demo-0"),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve_counted(handle, script, answered));
    let requeue = reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    assert_eq!(requeue, Requeue::requeue(Duration::from_millis(500)));
    // The intent: conditional on the version the plan was made from, naming the node.
    let intent = &seen[10].2;
    assert_eq!(intent["metadata"]["resourceVersion"], "41");
    assert_eq!(intent["status"]["pendingOperation"]["kind"], "Shrink");
    assert_eq!(intent["status"]["pendingOperation"]["nodeId"], 3);
    assert_eq!(intent["status"]["retiredNodeIds"], json!([3]));
    // The highest ordinal's voter leaves through the leader, after the intent was written;
    // no pod, claim or StatefulSet replica is touched in the same step.
    let posts = nodes.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (call, body, at) = &posts[0];
    assert_eq!(call, "remove_node");
    assert_eq!(body["node_id"], 3);
    assert_eq!(*at, 11, "the admin call came after the intent was written");
    assert_eq!(seen[11].2["reason"], "MemberRemoved");
    assert_eq!(seen[11].2["action"], "RemoveMember node 3");
    assert_eq!(seen[12].2["metadata"]["labels"]["kiwi.io/role"], "leader");
    // The final status carries on from the intent's version.
    let (_, _, last) = &seen[13];
    assert_eq!(last["metadata"]["resourceVersion"], "42");
    assert_eq!(last["status"]["retiredNodeIds"], json!([3]));
    let leaving = last["status"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["nodeId"] == 3)
        .unwrap();
    assert_eq!(leaving["role"], "Leaving");
    assert!(seen
        .iter()
        .all(|(path, _, _)| !path.contains("persistentvolumeclaims/")
            && !path.ends_with("/pods/demo-2")));
}

#[tokio::test]
async fn a_stale_view_acts_on_nothing() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let answered: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let nodes = FakeNodes::start(70, 3, answered.clone()).await;
    let mut kc = cluster(json!({"replicas": 2}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    kc.metadata.resource_version = Some("41".into());
    let pods = (0..3).map(|i| nodes.pod(i)).collect();
    let mut script = observing(&kc, 3, pods, (0..3).map(pvc).collect());
    // The KiwiCluster changed since the cached version: the intent is refused.
    script.push(expect(
        Method::PATCH,
        "/apis/kiwi.io/v1alpha1/namespaces/prod/kiwiclusters/demo/status",
        StatusCode::CONFLICT,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
               "message": "the object has been modified; please apply your changes to the latest version and try again"}),
    ));
    let server = tokio::spawn(serve_counted(handle, script, answered));
    let result = reconcile(Arc::new(kc), context(client)).await;
    server.await.unwrap();
    assert!(result.is_err(), "retried from a fresh view");
    assert!(
        nodes.posts().is_empty(),
        "no membership change from a stale view"
    );
}

#[tokio::test]
async fn after_the_voter_left_the_statefulset_shrinks() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let answered: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    // Nodes 1 and 2 are the voters; node 3 was removed (and retired) by the step before.
    let nodes = FakeNodes::start(80, 2, answered.clone()).await;
    let mut kc = cluster(json!({"replicas": 2}));
    let mut status = running_status(2);
    status["retiredNodeIds"] = json!([3]);
    kc.status = Some(serde_json::from_value(status).unwrap());
    let mut pods: Vec<Value> = (0..2).map(|i| nodes.pod(i)).collect();
    pods.push(pod_not_ready(2));
    let mut script = observing(&kc, 3, pods, (0..3).map(pvc).collect());
    script.extend([
        expect(
            Method::PATCH,
            &format!("{APPS}/statefulsets/demo"),
            StatusCode::OK,
            serde_json::to_value(resources::stateful_set(&kc, 2, None)).unwrap(),
        ),
        event_post(),
        label_patch("demo-0"),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve_counted(handle, script, answered));
    reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    assert_eq!(seen[10].2["spec"]["replicas"], 2);
    assert_eq!(seen[11].2["action"], "Scale to 2");
    assert!(nodes.posts().is_empty());
}

#[tokio::test]
async fn a_kiwicluster_being_deleted_is_left_to_the_garbage_collector() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut kc = cluster(json!({"replicas": 3}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    kc.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        Timestamp::now(),
    ));
    let ctx = context(client);
    ctx.metrics.set_phase("prod", "demo", "Running");
    // No request at all: re-applying the StatefulSet would undo a foreground deletion.
    let server = tokio::spawn(serve(handle, Vec::new()));
    let requeue = reconcile(Arc::new(kc), ctx.clone())
        .await
        .expect("reconcile");
    server.await.unwrap();
    assert_eq!(requeue, Requeue::await_change());
    assert!(
        !ctx.metrics.render().contains(r#"name="demo""#),
        "its phase gauge is gone"
    );
}

#[test]
fn a_pending_pod_and_a_terminating_claim_are_observed_as_such() {
    let kc = cluster(json!({}));
    let mut p: Pod = serde_json::from_value(pod(2)).unwrap();
    p.status.as_mut().unwrap().phase = Some("Pending".into());
    let mut claim: PersistentVolumeClaim = serde_json::from_value(pvc(2)).unwrap();
    claim.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        Timestamp::now(),
    ));
    let (pods, pvcs) = pod_observations(&kc, "prod", &[p], &[claim]);
    assert!(pods[0].pending);
    assert!(pvcs[0].terminating);
    assert_eq!(pvcs[0].ordinal, 2);
}

#[tokio::test]
async fn a_missing_tls_secret_is_reported_and_no_pod_is_called() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let answered: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let nodes = FakeNodes::start(90, 3, answered.clone()).await;
    let mut kc = cluster(json!({"replicas": 3, "tls": {"secretName": "demo-tls"}}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let pods = (0..3).map(|i| nodes.pod(i)).collect();
    let mut script = observing(&kc, 3, pods, (0..3).map(pvc).collect());
    script.extend([
        expect(
            Method::GET,
            &format!("{NS}/secrets/demo-tls"),
            not_found().0,
            not_found().1,
        ),
        event_post(),
        status_patch(&kc),
    ]);
    let server = tokio::spawn(serve_counted(handle, script, answered));
    let result = reconcile(Arc::new(kc), context(client)).await;
    let seen = server.await.unwrap();
    assert!(result.is_err());
    assert_eq!(seen[11].2["reason"], "TLSSecretInvalid");
    assert!(seen[11].2["note"].as_str().unwrap().contains("demo-tls"));
    let progressing = condition(&seen[12].2["status"], "Progressing");
    assert_eq!(progressing["reason"], "TLSSecretInvalid");
    // The pods were not called in plain HTTP instead.
    assert!(nodes.posts().is_empty());
}

#[test]
fn failed_reconciles_are_retried_within_half_a_minute() {
    let delays: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
    assert_eq!(retry_delay(u32::MAX), Duration::from_secs(30));
}

#[test]
fn a_rotated_admin_token_is_tried_first_and_the_replaced_one_after_it() {
    let mut history = TokenHistory::default();
    assert_eq!(history.observe("token-a"), vec!["token-a".to_string()]);
    assert_eq!(history.observe("token-a"), vec!["token-a".to_string()]);
    assert_eq!(
        history.observe("token-b"),
        vec!["token-b".to_string(), "token-a".to_string()]
    );
    assert_eq!(
        history.observe("token-c"),
        vec!["token-c".to_string(), "token-b".to_string()]
    );
}
