# Sourced by the scripts that build a release `kiwi`. Dependencies are already optimized (-O2)
# in dev builds (see Cargo.toml), so when a dev build left a RocksDB archive behind, the release
# build links that one instead of compiling RocksDB again. Set KIWI_FRESH_ROCKSDB=1 to compile
# it anyway.
# shellcheck source=build_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/build_env.sh"
# shellcheck source=rocksdb_archive.sh
source "$(dirname "${BASH_SOURCE[0]}")/rocksdb_archive.sh"
if [ -z "${KIWI_FRESH_ROCKSDB:-}" ] && [ -z "${ROCKSDB_LIB_DIR:-}" ]; then
    _kiwi_archive_dir=$(kiwi_rocksdb_archive_dir)
    if [ -n "$_kiwi_archive_dir" ]; then
        export ROCKSDB_LIB_DIR="$_kiwi_archive_dir"
        export ROCKSDB_STATIC=1
    fi
fi
