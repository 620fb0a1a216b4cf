#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for a bounded time: scripts/fuzz.sh [seconds-per-target]
# (default 20). Fails if any target crashes, printing the input that made it crash. .ci/run calls it
# after the tests.
#
# - The fuzz crate links kiwi-node, so RocksDB: the instrumented build links the archive that a
#   dev build of the workspace left (see rocksdb_archive.sh) instead of compiling RocksDB's C++
#   again. Without one it skips, as it does without a nightly toolchain (cargo-fuzz needs it).
# - Its build goes to a target dir of its own ($KIWI_FUZZ_TARGET_DIR), never the workspace's:
#   different flags there would rebuild every crate, and an archive-linked librocksdb-sys in the
#   workspace's dir would make its next build compile RocksDB from scratch.
# - The corpus in fuzz/corpus/<target> is only read: what libFuzzer adds goes to a temp dir, so
#   a run leaves the clone as it was. Crashes go to fuzz/artifacts/<target>/ (ignored by git).
#
# Sanitizer: none. The code under test is safe Rust, where the checks that matter (bounds,
# overflow: debug assertions are on) need no sanitizer. Measured with ASan on two busy cores: 3x
# (command_args) to 15x (rpc_frame, whose frames allocate up to the announced length) fewer
# executions in the same time, and twice the cold build time. What ASan would add here, a stack
# overflow reported with its input, fuzz/src/lib.rs provides.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
toolchain="${KIWI_FUZZ_TOOLCHAIN:-nightly}"
workspace_target="${CARGO_TARGET_DIR:-$HOME/.cache/kiwi-target}"
fuzz_target="${KIWI_FUZZ_TARGET_DIR:-$HOME/.cache/kiwi-fuzz-target}"

if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
    echo "fuzz: skipped: no $toolchain toolchain (cargo-fuzz needs one)"
    exit 0
fi
# shellcheck source=rocksdb_archive.sh
source scripts/rocksdb_archive.sh
archive=$(CARGO_TARGET_DIR="$workspace_target" kiwi_rocksdb_archive_dir)
if [ -z "$archive" ]; then
    echo "fuzz: skipped: build the workspace first (no RocksDB archive in $workspace_target)"
    exit 0
fi
if [ "$(realpath -m "$fuzz_target")" = "$(realpath -m "$workspace_target")" ]; then
    echo "fuzz: KIWI_FUZZ_TARGET_DIR must not be the workspace's target dir" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # Compiles it once: about 1.5 minutes here.
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

export CARGO_TARGET_DIR="$fuzz_target"
export ROCKSDB_LIB_DIR="$archive" ROCKSDB_STATIC=1
# The workspace's lock, so the fuzz build gets the very crates the workspace builds (above all
# the librocksdb-sys that made the archive); cargo adds only the fuzz crate's own few.
cp Cargo.lock fuzz/Cargo.lock
# Release with debug assertions and overflow checks (cargo-fuzz's defaults). 16 codegen units
# instead of cargo-fuzz's 1: on two cores that halves rebuilding kiwi-node after each change, for
# somewhat fewer executions per second.
fuzz_flags=(--sanitizer none --debug-assertions --codegen-units 16 --target-dir "$fuzz_target")

echo "== cargo fuzz build (into $fuzz_target)"
start=$(date +%s)
cargo "+$toolchain" fuzz build "${fuzz_flags[@]}"
echo "fuzz: built in $(($(date +%s) - start))s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for target in $(cargo "+$toolchain" fuzz list); do
    mkdir -p "$scratch/$target" "fuzz/artifacts/$target" "fuzz/corpus/$target"
    before=$(ls fuzz/artifacts/"$target")
    log="$scratch/$target.log"
    echo "== fuzz $target (${seconds}s)"
    # The first corpus dir is the one libFuzzer writes to; the committed one is only read.
    if cargo "+$toolchain" fuzz run "${fuzz_flags[@]}" "$target" \
        "$scratch/$target" "$PWD/fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" || true
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
    else
        failed=1
        # The panic (or libFuzzer's verdict) and the top of its stack; the whole log is long.
        grep -m 1 -A 40 -E 'panicked at|ERROR: libFuzzer|ALARM' "$log" || tail -n 60 "$log"
        for found in $(ls fuzz/artifacts/"$target"); do
            if ! grep -qxF "$found" <<<"$before"; then
                input="fuzz/artifacts/$target/$found"
                echo "fuzz: $target failed on $PWD/$input; its bytes:"
                od -A d -c "$input" | head -n 40
                echo "reproduce: cargo +$toolchain fuzz run ${fuzz_flags[*]} $target $input"
            fi
        done
    fi
done
exit "$failed"
