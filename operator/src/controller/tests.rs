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
async fn serve(mut handle: Handle, script: Vec<Expect>) -> Vec<(String, String, Value)> {
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
    let sts = serde_json::to_value(resources::stateful_set(&kc, 3)).unwrap();

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
    let sts3 = serde_json::to_value(resources::stateful_set(&kc, 3)).unwrap();
    let sts5 = serde_json::to_value(resources::stateful_set(&kc, 5)).unwrap();

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

#[tokio::test]
async fn unreachable_voters_mean_quorum_lost_and_no_change() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut kc = cluster(json!({"replicas": 3}));
    kc.status = Some(serde_json::from_value(running_status(3)).unwrap());
    let sts1 = serde_json::to_value(resources::stateful_set(&kc, 3)).unwrap();
    // No pod answers on the admin API here (no pod IPs): with none of the recorded voters
    // reachable the operator must report QuorumLost and touch nothing.
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
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod(0), pod(1), pod(2)]}),
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
    assert_eq!(seen[10].2["type"], "Warning");
    assert_eq!(seen[10].2["reason"], "QuorumLost");
    let status = &seen[11].2["status"];
    assert_eq!(status["phase"], "QuorumLost");
    assert!(seen
        .iter()
        .all(|(path, _, _)| !path.contains("persistentvolumeclaims/")));
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
    let sts = serde_json::to_value(resources::stateful_set(&kc, 3)).unwrap();
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
    let kc = cluster(json!({"replicas": 3, "paused": true}));
    let script = vec![
        credentials_get(),
        expect(
            Method::GET,
            &format!("{APPS}/statefulsets/demo"),
            not_found().0,
            not_found().1,
        ),
        expect(
            Method::GET,
            &format!("{NS}/pods"),
            StatusCode::OK,
            empty_list("PodList"),
        ),
        list_pvcs(empty_list("PersistentVolumeClaimList")),
        status_patch(&kc),
    ];
    let server = tokio::spawn(serve(handle, script));
    reconcile(Arc::new(kc), context(client))
        .await
        .expect("reconcile");
    let seen = server.await.unwrap();
    // Only reads and the status: no apply, no scale, no event.
    assert!(seen[1..4].iter().all(|(_, _, body)| body.is_null()));
    assert_eq!(seen[4].2["status"]["phase"], "Pending");
}
