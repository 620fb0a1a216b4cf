//! Where scripts and function libraries live: the `sys` column family, under prefixes of their
//! own. `sys` is carried by snapshots and untouched by FLUSHALL (Redis keeps its script cache
//! and its functions across FLUSHALL too), and every change to it here is made by a replicated
//! command (SCRIPT LOAD, EVAL, SCRIPT FLUSH, FUNCTION LOAD/DELETE/FLUSH/RESTORE) applied in log
//! order, so every node holds the same scripts, across restarts and leader changes.
//!
//! - `script:<sha1 hex>` -> the script's body, as given to EVAL or SCRIPT LOAD.
//! - `library:<name>` -> the library's code, as given to FUNCTION LOAD.
//! - `function:<name>` -> [`FunctionEntry`]: the library that registered it and its flags, so
//!   that FCALL finds the library, and routing finds a read-only function, with one read.

use crate::storage::{Cf, StorageError, Txn};

const SCRIPT: &[u8] = b"script:";
const SCRIPT_END: &[u8] = b"script;";
const LIBRARY: &[u8] = b"library:";
const LIBRARY_END: &[u8] = b"library;";
const FUNCTION: &[u8] = b"function:";
const FUNCTION_END: &[u8] = b"function;";

fn key(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(name);
    k
}

pub fn script(txn: &Txn<'_>, sha: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
    txn.get(Cf::Sys, &key(SCRIPT, sha))
}

pub fn has_script(txn: &Txn<'_>, sha: &[u8]) -> Result<bool, StorageError> {
    Ok(script(txn, sha)?.is_some())
}

pub fn put_script(txn: &mut Txn<'_>, sha: &[u8], body: &[u8]) {
    txn.put(Cf::Sys, key(SCRIPT, sha), body.to_vec());
}

pub fn flush_scripts(txn: &mut Txn<'_>) {
    txn.delete_range(Cf::Sys, SCRIPT.to_vec(), SCRIPT_END.to_vec());
}

/// What the store knows of a registered function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionEntry {
    pub library: Vec<u8>,
    /// Redis's function flags as bits (see `functions::FLAG_NAMES`).
    pub flags: u8,
}

pub fn function(txn: &Txn<'_>, name: &[u8]) -> Result<Option<FunctionEntry>, StorageError> {
    Ok(txn.get(Cf::Sys, &key(FUNCTION, name))?.and_then(|v| {
        v.split_first().map(|(flags, library)| FunctionEntry {
            library: library.to_vec(),
            flags: *flags,
        })
    }))
}

pub fn library(txn: &Txn<'_>, name: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
    txn.get(Cf::Sys, &key(LIBRARY, name))
}

/// Every library, by name (in byte order: the same on every node).
/// A library's name and code.
pub type Library = (Vec<u8>, Vec<u8>);

pub fn libraries(txn: &Txn<'_>) -> Result<Vec<Library>, StorageError> {
    txn.scan(Cf::Sys, LIBRARY, LIBRARY_END, false)?
        .map(|entry| entry.map(|(k, v)| (k[LIBRARY.len()..].to_vec(), v)))
        .collect()
}

/// Stores a library and its functions' entries.
pub fn put_library(txn: &mut Txn<'_>, name: &[u8], code: &[u8], functions: &[(Vec<u8>, u8)]) {
    txn.put(Cf::Sys, key(LIBRARY, name), code.to_vec());
    for (function, flags) in functions {
        let mut value = vec![*flags];
        value.extend_from_slice(name);
        txn.put(Cf::Sys, key(FUNCTION, function), value);
    }
}

/// Removes a library and the entries of the functions it registered (`functions`).
pub fn delete_library(txn: &mut Txn<'_>, name: &[u8], functions: &[Vec<u8>]) {
    txn.delete(Cf::Sys, key(LIBRARY, name));
    for function in functions {
        txn.delete(Cf::Sys, key(FUNCTION, function));
    }
}

pub fn flush_libraries(txn: &mut Txn<'_>) {
    txn.delete_range(Cf::Sys, LIBRARY.to_vec(), LIBRARY_END.to_vec());
    txn.delete_range(Cf::Sys, FUNCTION.to_vec(), FUNCTION_END.to_vec());
}
