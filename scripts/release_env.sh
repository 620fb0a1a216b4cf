# Sourced by the benchmark scripts before `cargo build --release`. RocksDB's C++ takes 20+
# minutes to compile on two cores; dependencies are already optimized (-O2) in dev builds (see
# Cargo.toml), so when a dev build left a RocksDB archive behind, the release build links that
# one instead of compiling RocksDB again. Set KIWI_FRESH_ROCKSDB=1 to compile it anyway.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}"
if [ -z "${KIWI_FRESH_ROCKSDB:-}" ] && [ -z "${ROCKSDB_LIB_DIR:-}" ]; then
    _kiwi_archive=$(ls -t "$CARGO_TARGET_DIR"/debug/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -n 1 || true)
    if [ -n "$_kiwi_archive" ]; then
        export ROCKSDB_LIB_DIR
        ROCKSDB_LIB_DIR="$(dirname "$_kiwi_archive")"
        export ROCKSDB_STATIC=1
    fi
fi
