//! kiwi-operator: reconciles `KiwiCluster` resources into running, self-managing Kiwi Raft
//! clusters. The pipeline is observe (`observe`, `controller`) -> plan (`plan`, pure) -> act
//! (`act`, through the node admin API in `admin`) -> status (`status`).

pub mod act;
pub mod admin;
pub mod controller;
pub mod crd;
pub mod election;
pub mod metrics;
pub mod observe;
pub mod plan;
pub mod resources;
pub mod status;
