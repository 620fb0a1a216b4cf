//! INFO and CLIENT LIST text.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{ClientInfo, ServerState, REDIS_VERSION};
use crate::config::Config;

/// CLIENT LIST's flags, in Redis's order (`P` pub/sub, `b` blocked), `N` for none.
fn client_flags(c: &ClientInfo) -> String {
    let mut flags = String::new();
    if c.subscriptions.iter().any(|n| *n > 0) {
        flags.push('P');
    }
    if c.blocked {
        flags.push('b');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    flags
}

pub fn client_line(c: &ClientInfo) -> String {
    format!(
        "id={} addr={} laddr= fd=0 name={} age={} idle=0 flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
        c.id,
        c.addr,
        c.name,
        c.connected_at.elapsed().as_secs(),
        client_flags(c),
        c.db,
        c.subscriptions[0],
        c.subscriptions[1],
        c.subscriptions[2],
        if c.last_command.is_empty() { "NULL" } else { c.last_command },
        c.resp
    )
}

/// INFO's sections in Redis 7's order, with Kiwi's Raft section after Replication. `default`
/// marks those shown by INFO without arguments (and `INFO default`); `all` adds the rest,
/// `everything` too (Kiwi has no module sections).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("raft", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
];

/// The sections INFO `args` asks for (lower-cased names): none is `default`; `all`,
/// `everything` and `default` stand for their sets; an unknown name adds nothing.
fn wanted(args: &[String]) -> Vec<&'static str> {
    let args: Vec<&str> = if args.is_empty() {
        vec!["default"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    SECTIONS
        .iter()
        .filter(|(name, default)| {
            args.iter().any(|a| match *a {
                "all" | "everything" => true,
                "default" => *default,
                other => other == *name,
            })
        })
        .map(|(name, _)| *name)
        .collect()
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else if n < 1024.0 * 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.2}T", n / (1024.0 * 1024.0 * 1024.0 * 1024.0))
    }
}

/// Renders INFO for the lower-cased section names in `args` (see [`wanted`]). Field names are
/// Redis 7's; values are real where Kiwi has them, and what Redis shows for a feature Kiwi has
/// not (0, `ok`, ...) elsewhere.
pub fn render(state: &ServerState, args: &[String]) -> String {
    let cfg = state.config();
    let mut out = String::new();
    for section in wanted(args) {
        let title = match section {
            "cpu" => "CPU".to_string(),
            s => format!("{}{}", s[..1].to_uppercase(), &s[1..]),
        };
        let _ = write!(out, "# {title}\r\n");
        match section {
            "server" => server(&mut out, state, &cfg),
            "clients" => {
                let _ = write!(
                    out,
                    "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:{}\r\n",
                    state.clients().len(),
                    cfg.maxclients,
                    state.blocking.len(),
                    state.blocking.len()
                );
            }
            "memory" => memory(&mut out, state, &cfg),
            "persistence" => {
                let aof = u8::from(cfg.tunables.value("appendonly") == "yes");
                let _ = write!(
                    out,
                    "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\naof_enabled:{aof}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
                    u8::from(state.db.replacing()),
                    state.started_unix
                );
                if aof == 1 {
                    // Redis's AOF fields, shown while `appendonly` is on: Kiwi's log is RocksDB.
                    let size = state.db.approximate_size();
                    let _ = write!(
                        out,
                        "aof_current_size:{size}\r\naof_base_size:{size}\r\naof_pending_rewrite:0\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n"
                    );
                }
                out.push_str("engine:rocksdb\r\ndurability:fsync-per-group-commit\r\n");
            }
            "stats" => stats(&mut out, state),
            "replication" => replication(&mut out, state),
            "raft" => raft(&mut out, state),
            "cpu" => {
                let (user, sys) = cpu_seconds();
                let _ = write!(
                    out,
                    "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
                );
            }
            "commandstats" => state.stats.render_commandstats(&mut out),
            "errorstats" => state.stats.render_errorstats(&mut out),
            "cluster" => out.push_str("cluster_enabled:0\r\n"),
            "keyspace" => {
                let reader = state.db.reader();
                for db in 0..cfg.databases.min(255) as u8 {
                    let keys = reader.key_count(db).unwrap_or(0);
                    if keys > 0 {
                        let _ = write!(out, "db{db}:keys={keys},expires=0,avg_ttl=0\r\n");
                    }
                }
            }
            _ => {}
        }
        out.push_str("\r\n");
    }
    out.truncate(out.trim_end_matches("\r\n").len());
    if !out.is_empty() {
        out.push_str("\r\n");
    }
    out
}

fn server(out: &mut String, state: &ServerState, cfg: &Config) {
    let uptime = state.started.elapsed().as_secs();
    let now_us = crate::engine::now_ms() * 1000;
    let hz = cfg.tunables.value("hz");
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = cfg
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        "redis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{now_us}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{hz}\r\nconfigured_hz:{hz}\r\nlru_clock:{}\r\nexecutable:{executable}\r\nconfig_file:{config_file}\r\nio_threads_active:0\r\nkiwi_version:{}\r\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        state.run_id,
        cfg.port,
        uptime / 86400,
        (now_us / 1_000_000) & ((1 << 24) - 1),
        env!("CARGO_PKG_VERSION"),
    );
}

fn memory(out: &mut String, state: &ServerState, cfg: &Config) {
    // Kiwi's memory is its process's: RocksDB's caches and buffers, connections, Raft.
    let rss = resident_memory_bytes();
    let peak = state.memory_peak.fetch_max(rss, Ordering::Relaxed).max(rss);
    let total = total_system_memory();
    let maxmemory = cfg.tunables.number("maxmemory").max(0) as u64;
    let _ = write!(
        out,
        "used_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\nused_memory_dataset:{rss}\r\nused_memory_dataset_perc:100.00%\r\nallocator_allocated:{rss}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_lua_human:0B\r\nused_memory_scripts_eval:0\r\nnumber_of_cached_scripts:0\r\nnumber_of_functions:0\r\nnumber_of_libraries:0\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:0\r\nused_memory_vm_total_human:0B\r\nused_memory_functions:0\r\nused_memory_scripts:0\r\nused_memory_scripts_human:0B\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:1.00\r\nmem_fragmentation_bytes:0\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:mimalloc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\nkiwi_memory_budget:{}\r\nkiwi_disk_live_data:{}\r\n",
        human_bytes(rss),
        human_bytes(rss),
        human_bytes(peak),
        if peak == 0 { 0.0 } else { rss as f64 * 100.0 / peak as f64 },
        human_bytes(total),
        human_bytes(maxmemory),
        cfg.tunables.value("maxmemory-policy"),
        cfg.memory,
        state.db.approximate_size()
    );
}

fn stats(out: &mut String, state: &ServerState) {
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let (channels, patterns, shard_channels) = state.pubsub.counts();
    let _ = write!(
        out,
        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:0\r\ntotal_net_output_bytes:0\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:0\r\ntracking_total_items:0\r\ntracking_total_prefixes:0\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
        n(&state.total_connections),
        n(&state.total_commands),
        state.stats.instantaneous_ops_per_sec(),
        n(&state.rejected_connections),
        n(&state.expired_keys),
        n(&state.db.keyspace_hits),
        n(&state.db.keyspace_misses),
        channels,
        patterns,
        shard_channels,
        n(&state.stats.total_error_replies),
    );
}

/// Redis's replication fields, from Raft: the leader is the master, the other members its
/// replicas.
fn replication(out: &mut String, state: &ServerState) {
    let cluster = &state.cluster;
    let (voters, learners, _) = cluster.members();
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
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:up\r\n"
            );
        }
        None => {
            let _ = write!(out, "role:slave\r\nmaster_link_status:down\r\n");
        }
    }
    let applied = cluster
        .metrics()
        .last_applied
        .as_ref()
        .map(|l| l.index)
        .unwrap_or(0);
    let _ = write!(
        out,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:{applied}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
        state.run_id
    );
}

/// Kiwi's own section: this node's view of the Raft group.
fn raft(out: &mut String, state: &ServerState) {
    let cluster = &state.cluster;
    let m = cluster.metrics();
    let (voters, learners, _) = cluster.members();
    let _ = write!(
        out,
        "raft_node_id:{}\r\nraft_state:{:?}\r\nraft_term:{}\r\nraft_leader_id:{}\r\nraft_last_log_index:{}\r\nraft_commit_index:{}\r\nraft_applied_index:{}\r\nraft_voters:{}\r\nraft_learners:{}\r\n",
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

/// User and system CPU seconds of this process, from /proc (0 where unavailable).
fn cpu_seconds() -> (f64, f64) {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks (100 a second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    (ticks(11), ticks(12))
}

/// Physical memory of the machine, from /proc (0 where unavailable).
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

/// Resident set size from /proc (0 where unavailable).
pub fn resident_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Vec<&'static str> {
        wanted(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn sections_by_name_default_all_and_unknown() {
        let default = names(&[]);
        assert_eq!(default, names(&["default"]));
        assert!(default.contains(&"server") && default.contains(&"errorstats"));
        assert!(!default.contains(&"commandstats"));
        assert_eq!(names(&["all"]).len(), SECTIONS.len());
        assert_eq!(names(&["everything"]).len(), SECTIONS.len());
        assert_eq!(names(&["server", "clients"]), vec!["server", "clients"]);
        assert_eq!(names(&["clients", "server"]), vec!["server", "clients"]);
        assert_eq!(names(&["commandstats"]), vec!["commandstats"]);
        assert!(names(&["bogus"]).is_empty());
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(10), "10B");
    }
}
