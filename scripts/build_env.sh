# Sourced by every script that builds or runs Kiwi, so that they all share one build: one
# target dir (outside the clone, kept between clones and CI runs) and one cargo invocation, the
# one scripts/test.sh makes. RocksDB's C++ is compiled once, by whichever script runs first.
# Dependencies are optimized even in this dev build (Cargo.toml), RocksDB above all; the
# benchmarks alone build a release kiwi, linking the RocksDB archive this build left.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}"
# The kiwi this build produces.
KIWI_DEV_BIN="$CARGO_TARGET_DIR/debug/kiwi"
export KIWI_DEV_BIN

# Builds every binary of the workspace. Always the whole workspace: building one package alone
# unifies dependency features differently and compiles RocksDB a second time.
kiwi_build() {
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." && cargo build --workspace --bins)
}

# Link the RocksDB archive an earlier build compiled, when there is one, rather than compiling
# RocksDB's C++ again (40+ minutes on two cores) whenever a change to the dependency graph (a new
# crate, a feature) gives librocksdb-sys a new build hash. The first build on a machine compiles
# it; KIWI_FRESH_ROCKSDB=1 compiles it anyway.
# shellcheck source=rocksdb_archive.sh
source "$(dirname "${BASH_SOURCE[0]}")/rocksdb_archive.sh"
if [ -z "${KIWI_FRESH_ROCKSDB:-}" ] && [ -z "${ROCKSDB_LIB_DIR:-}" ]; then
    _kiwi_archive_dir=$(kiwi_rocksdb_archive_dir)
    if [ -n "$_kiwi_archive_dir" ]; then
        export ROCKSDB_LIB_DIR="$_kiwi_archive_dir"
        export ROCKSDB_STATIC=1
    fi
fi
