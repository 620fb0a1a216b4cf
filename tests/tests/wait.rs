//! WAIT numreplicas timeout: the number of other members that hold the client's writes, with
//! Redis's replies and errors; through a follower too, and fewer while a member is cut off.

use std::time::{Duration, Instant};

use kiwi_tests::cluster::TestCluster;
use kiwi_tests::*;

#[test]
fn wait_answers_and_errs_as_redis_does_on_a_single_node() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    for line in [
        "WAIT x 0",
        "WAIT 1 x",
        "WAIT 1 -1",
        "WAIT 1.5 0",
        "WAIT 0 0",
        "WAIT -1 0",
        "WAIT 1 50",
        "WAIT",
        "WAIT 1",
        // Inside MULTI: queued, and answered at once at EXEC.
        "MULTI",
        "WAIT 1 100",
        "WAIT x 0",
        "SET k v",
        "EXEC",
    ] {
        assert_eq!(k.run(line), r.run(line), "{line}");
    }
    // No replica to wait for: the timeout runs out, then 0.
    let started = Instant::now();
    assert_eq!(k.run("WAIT 1 300"), int(0));
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[test]
fn wait_counts_the_members_that_hold_the_writes() {
    let cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let mut c = cluster.nodes[leader].client();
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("WAIT 2 5000"), int(2));
    // Through a follower: the write and the WAIT go to the leader, in order.
    let mut f = cluster.nodes[follower].client();
    assert_eq!(f.run("SET k2 v"), ok());
    assert_eq!(f.run("WAIT 2 5000"), int(2));
    // One member cut off: the write is acknowledged by the majority, and WAIT says one replica
    // has it, after its timeout.
    let other = (0..3).find(|i| *i != leader && *i != follower).unwrap();
    cluster.isolate(other, true);
    assert_eq!(c.run("SET k3 v"), ok());
    assert_eq!(c.run("WAIT 2 500"), int(1));
    assert_eq!(c.run("WAIT 1 5000"), int(1));
    cluster.isolate(other, false);
    assert_eq!(c.run("WAIT 2 10000"), int(2), "the member caught up");
    // In MULTI it does not wait: the count of the moment.
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("WAIT 2 0"), R::Status("QUEUED".into()));
    assert_eq!(c.run("EXEC"), R::Arr(vec![int(2)]));
}
