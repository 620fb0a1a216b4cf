//! INFO and CLIENT LIST text.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{ClientInfo, ServerState, REDIS_VERSION};

pub fn client_line(c: &ClientInfo) -> String {
    format!(
        "id={} addr={} laddr= fd=0 name={} age={} idle=0 flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
        c.id,
        c.addr,
        c.name,
        c.connected_at.elapsed().as_secs(),
        if c.blocked { "b" } else { "N" },
        c.db,
        if c.last_command.is_empty() { "NULL" } else { c.last_command },
        c.resp
    )
}

/// Renders INFO. `section` is one section name, `all`/`everything`/`default`, or `None`.
pub fn render(state: &ServerState, section: Option<&str>) -> String {
    let want = |name: &str| match section {
        None | Some("all") | Some("everything") | Some("default") => true,
        Some(s) => s == name,
    };
    let cfg = state.config();
    let mut out = String::new();
    if want("server") {
        let uptime = state.started.elapsed().as_secs();
        let _ = write!(
            out,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nkiwi_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutable:kiwi\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            state.run_id,
            cfg.port,
            uptime / 86400
        );
    }
    if want("clients") {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n\r\n",
            state.clients().len(),
            cfg.maxclients,
            state.blocking.len()
        );
    }
    if want("memory") {
        let rss = resident_memory_bytes();
        let _ = write!(
            out,
            "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{:.2}M\r\nused_memory_rss:{rss}\r\nmaxmemory:{}\r\nkiwi_disk_live_data:{}\r\n\r\n",
            rss as f64 / (1024.0 * 1024.0),
            cfg.memory,
            state.db.approximate_size()
        );
    }
    if want("persistence") {
        let _ = write!(
            out,
            "# Persistence\r\nloading:0\r\nengine:rocksdb\r\ndurability:fsync-per-group-commit\r\naof_enabled:0\r\nrdb_changes_since_last_save:0\r\n\r\n"
        );
    }
    if want("stats") {
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\n\r\n",
            state.total_connections.load(Ordering::Relaxed),
            state.total_commands.load(Ordering::Relaxed),
            state.rejected_connections.load(Ordering::Relaxed),
            state.expired_keys.load(Ordering::Relaxed)
        );
    }
    if want("replication") || want("raft") {
        let cluster = &state.cluster;
        let m = cluster.metrics();
        let (voters, learners, _) = cluster.members();
        let _ = write!(out, "# Replication\r\n");
        match cluster.leader() {
            Some((id, _)) if id == cluster.id => {
                let _ = write!(
                    out,
                    "role:master\r\nconnected_slaves:{}\r\n",
                    (voters.len() + learners.len()).saturating_sub(1)
                );
            }
            Some((_, leader)) => {
                let (host, port) = leader
                    .resp_addr
                    .rsplit_once(':')
                    .unwrap_or((&leader.resp_addr, "0"));
                let _ = write!(out, "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:up\r\n");
            }
            None => {
                let _ = write!(out, "role:slave\r\nmaster_link_status:down\r\n");
            }
        }
        let _ = write!(
            out,
            "raft_node_id:{}\r\nraft_state:{:?}\r\nraft_term:{}\r\nraft_leader_id:{}\r\nraft_last_log_index:{}\r\nraft_commit_index:{}\r\nraft_applied_index:{}\r\nraft_voters:{}\r\nraft_learners:{}\r\n\r\n",
            cluster.id,
            m.state,
            m.current_term,
            m.current_leader.map(|l| l.to_string()).unwrap_or_default(),
            m.last_log_index.unwrap_or(0),
            m.local_committed.as_ref().map(|l| l.index).unwrap_or(0),
            m.last_applied.as_ref().map(|l| l.index).unwrap_or(0),
            voters.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
            learners.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
        );
    }
    if want("keyspace") {
        let _ = write!(out, "# Keyspace\r\n");
        let reader = state.db.reader();
        for db in 0..cfg.databases.min(255) as u8 {
            let keys = reader.key_count(db).unwrap_or(0);
            if keys > 0 {
                let _ = write!(out, "db{db}:keys={keys},expires=0,avg_ttl=0\r\n");
            }
        }
        out.push_str("\r\n");
    }
    out.truncate(out.trim_end_matches("\r\n").len());
    out.push_str("\r\n");
    out
}

/// Resident set size from /proc (0 where unavailable).
pub fn resident_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
