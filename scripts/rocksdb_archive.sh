# Sourced: defines kiwi_rocksdb_archive_dir, which prints the directory of the newest RocksDB
# archive a dev build left in $CARGO_TARGET_DIR (nothing if there is none). Pointing
# librocksdb-sys at it (ROCKSDB_LIB_DIR, ROCKSDB_STATIC=1) spares compiling RocksDB's C++ again
# for another profile (clippy's check profile, release builds): 20+ minutes on two cores.
kiwi_rocksdb_archive_dir() {
    local archive
    archive=$(ls -t "$CARGO_TARGET_DIR"/debug/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -n 1 || true)
    if [ -n "$archive" ]; then dirname "$archive"; fi
}
