//! Real `kiwi` processes on loopback standing in for a StatefulSet's pods, so the operator's
//! membership driver (plan + act + the admin client) runs against real nodes: each "pod" has a
//! stable ordinal and ports, a "volume" (data dir with a uid) that survives pod restarts, and
//! starts with `raft-node-id auto` like a pod does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kiwi_operator::act::{ActError, Platform};
use kiwi_operator::plan::{PodObs, PvcObs};

use crate::cluster::wait_for;

pub const CLUSTER: &str = "demo";

struct Volume {
    path: PathBuf,
    uid: String,
    /// Deleted while its pod runs: goes when the pod does (Kubernetes' pvc-protection).
    doomed: bool,
}

struct Slot {
    resp_port: u16,
    raft_port: u16,
    volume: Option<Volume>,
    child: Option<Child>,
    /// The template revision the running process was started with.
    revision: String,
    log: PathBuf,
}

struct State {
    replicas: u32,
    revision: String,
    slots: BTreeMap<u32, Slot>,
    /// Every port handed out: `free_port` may return a port it returned before (nothing
    /// holds it in between), and two pods on one port would look like one node twice.
    ports: BTreeSet<u16>,
}

impl State {
    fn unique_port(&mut self) -> u16 {
        loop {
            let port = crate::free_port();
            if self.ports.insert(port) {
                return port;
            }
        }
    }
}

/// A StatefulSet of `kiwi` processes.
pub struct ProcessPods {
    dir: tempfile::TempDir,
    /// What the operator's per-cluster Secret holds; every pod gets it in its environment.
    pub credentials: crate::cluster::Credentials,
    state: Mutex<State>,
    volumes_made: AtomicU64,
}

impl Default for ProcessPods {
    fn default() -> Self {
        ProcessPods::new()
    }
}

impl ProcessPods {
    pub fn new() -> ProcessPods {
        ProcessPods {
            credentials: crate::cluster::Credentials::random(),
            dir: tempfile::Builder::new()
                .prefix("kiwi-pods-")
                .tempdir()
                .expect("tempdir"),
            state: Mutex::new(State {
                replicas: 0,
                revision: "rev-1".into(),
                slots: BTreeMap::new(),
                ports: BTreeSet::new(),
            }),
            volumes_made: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_volume(&self, ordinal: u32) -> Volume {
        let n = self.volumes_made.fetch_add(1, Ordering::SeqCst);
        let path = self
            .dir
            .path()
            .join(format!("data-{CLUSTER}-{ordinal}-v{n}"));
        std::fs::create_dir_all(&path).expect("volume dir");
        Volume {
            path,
            uid: format!("uid-{ordinal}-{n}"),
            doomed: false,
        }
    }

    /// Starts the pod of `ordinal` (creating its slot and volume when needed).
    fn start(&self, state: &mut State, ordinal: u32) {
        let needs_volume = state.slots.get(&ordinal).is_none_or(|s| s.volume.is_none());
        let volume = needs_volume.then(|| self.new_volume(ordinal));
        let revision = state.revision.clone();
        if !state.slots.contains_key(&ordinal) {
            let (resp_port, raft_port) = (state.unique_port(), state.unique_port());
            state.slots.insert(
                ordinal,
                Slot {
                    resp_port,
                    raft_port,
                    volume: None,
                    child: None,
                    revision: revision.clone(),
                    log: self.dir.path().join(format!("{CLUSTER}-{ordinal}.log")),
                },
            );
        }
        let slot = state.slots.get_mut(&ordinal).expect("slot just ensured");
        if let Some(v) = volume {
            slot.volume = Some(v);
        }
        if slot.child.is_some() {
            return;
        }
        slot.revision = revision;
        let data = slot.volume.as_ref().expect("volume").path.clone();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&slot.log)
            .expect("log file");
        let child = Command::new(crate::kiwi_bin())
            .args(["--port", &slot.resp_port.to_string()])
            .arg("--db-path")
            .arg(&data)
            .args(["--raft-node-id", "auto"])
            .args(["--raft-addr", &format!("127.0.0.1:{}", slot.raft_port)])
            .args(["--raft-bootstrap", "no"])
            .args(["--raft-election-timeout", "1000"])
            .args(["--raft-heartbeat-interval", "100"])
            .args(["--raft-snapshot-logs", "2000"])
            .env("KIWI_ADMIN_TOKEN", &self.credentials.admin_token)
            .env("KIWI_CLUSTER_SECRET", &self.credentials.cluster_secret)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn kiwi");
        slot.child = Some(child);
    }

    fn stop(slot: &mut Slot) {
        if let Some(mut child) = slot.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if slot.volume.as_ref().is_some_and(|v| v.doomed) {
            if let Some(v) = slot.volume.take() {
                let _ = std::fs::remove_dir_all(&v.path);
            }
        }
    }

    /// Sets the revision newly started pods run (a template change).
    pub fn set_revision(&self, revision: &str) {
        self.lock().revision = revision.to_string();
    }

    pub fn revision(&self) -> String {
        self.lock().revision.clone()
    }

    /// Kills a pod's process with SIGKILL; it stays down until `restart`.
    pub fn kill9(&self, ordinal: u32) {
        if let Some(slot) = self.lock().slots.get_mut(&ordinal) {
            Self::stop(slot);
        }
    }

    /// Starts a killed pod again on its volume.
    pub fn restart(&self, ordinal: u32) {
        let mut state = self.lock();
        self.start(&mut state, ordinal);
    }

    /// Kills a pod, throws its volume away and starts it on a blank one.
    pub fn wipe(&self, ordinal: u32) {
        let mut state = self.lock();
        if let Some(slot) = state.slots.get_mut(&ordinal) {
            if let Some(v) = slot.volume.as_mut() {
                v.doomed = true;
            }
            Self::stop(slot);
        }
        self.start(&mut state, ordinal);
    }

    pub fn replicas(&self) -> u32 {
        self.lock().replicas
    }

    /// RESP port of a pod.
    pub fn resp_port(&self, ordinal: u32) -> Option<u16> {
        self.lock().slots.get(&ordinal).map(|s| s.resp_port)
    }

    pub fn running(&self, ordinal: u32) -> bool {
        self.lock()
            .slots
            .get(&ordinal)
            .is_some_and(|s| s.child.is_some())
    }

    pub fn has_volume(&self, ordinal: u32) -> bool {
        self.lock()
            .slots
            .get(&ordinal)
            .is_some_and(|s| s.volume.is_some())
    }

    /// The pods as the operator observes them (nodes not yet probed).
    pub fn observe(&self) -> (Vec<PodObs>, Vec<PvcObs>) {
        let state = self.lock();
        let mut pods = Vec::new();
        let mut pvcs = Vec::new();
        for (&ordinal, slot) in &state.slots {
            let name = format!("{CLUSTER}-{ordinal}");
            if let Some(v) = &slot.volume {
                pvcs.push(PvcObs {
                    name: format!("data-{name}"),
                    ordinal,
                    terminating: false,
                });
                if slot.child.is_some() {
                    let addr = format!("127.0.0.1:{}", slot.raft_port);
                    pods.push(PodObs {
                        name,
                        ordinal,
                        pvc_uid: Some(v.uid.clone()),
                        ready: true,
                        terminating: false,
                        pending: false,
                        revision: Some(slot.revision.clone()),
                        admin_addr: addr.clone(),
                        raft_addr: addr,
                        resp_addr: format!("127.0.0.1:{}", slot.resp_port),
                        node: None,
                    });
                }
            }
        }
        (pods, pvcs)
    }

    fn ordinal_of(name: &str) -> Result<u32, ActError> {
        name.rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ActError::Platform(format!("no ordinal in '{name}'")))
    }
}

impl Platform for ProcessPods {
    async fn scale(&self, replicas: u32) -> Result<(), ActError> {
        let mut state = self.lock();
        state.replicas = replicas;
        let ordinals: Vec<u32> = state.slots.keys().copied().collect();
        for ordinal in ordinals {
            if ordinal >= replicas {
                if let Some(slot) = state.slots.get_mut(&ordinal) {
                    Self::stop(slot);
                }
            }
        }
        for ordinal in 0..replicas {
            self.start(&mut state, ordinal);
        }
        Ok(())
    }

    async fn delete_pod(&self, pod: &str) -> Result<(), ActError> {
        let ordinal = Self::ordinal_of(pod)?;
        let mut state = self.lock();
        if let Some(slot) = state.slots.get_mut(&ordinal) {
            Self::stop(slot);
        }
        // The StatefulSet recreates pods it still wants.
        if ordinal < state.replicas {
            self.start(&mut state, ordinal);
        }
        Ok(())
    }

    async fn delete_pvc(&self, pvc: &str) -> Result<(), ActError> {
        let ordinal = Self::ordinal_of(pvc)?;
        let mut state = self.lock();
        if let Some(slot) = state.slots.get_mut(&ordinal) {
            if let Some(v) = slot.volume.as_mut() {
                v.doomed = true;
            }
            if slot.child.is_none() {
                Self::stop(slot);
            }
        }
        Ok(())
    }
}

impl Drop for ProcessPods {
    fn drop(&mut self) {
        let mut state = self.lock();
        for slot in state.slots.values_mut() {
            if let Some(mut child) = slot.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Waits until the pod of `ordinal` answers HTTP.
pub fn wait_http(pods: &ProcessPods, ordinal: u32) {
    let port = {
        let state = pods.lock();
        state.slots.get(&ordinal).map(|s| s.raft_port)
    };
    if let Some(port) = port {
        wait_for(Duration::from_secs(20), "pod HTTP", || {
            crate::http::get(port, "/healthz")
                .ok()
                .filter(|r| r.status == 200)
        });
    }
}
