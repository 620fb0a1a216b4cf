//! Kiwi node: a Redis-compatible key-value store on RocksDB.
//!
//! Layers, each its own module: `resp` (frames), `command` (table, parsing, execution),
//! `engine` (mutations and their application), `raft` (replication), `http` (admin API), `storage` (Redis types on RocksDB), `server`
//! (connections and sessions), `config`, and `node` (wiring it all together).

pub mod command;
pub mod config;
pub mod engine;
pub mod expire;
pub mod http;
pub mod node;
pub mod pubsub;
pub mod raft;
pub mod resp;
pub mod secrets;
pub mod server;
pub mod storage;
pub mod tls;
pub mod transport;
