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
