# syntax=docker/dockerfile:1
#
# One image for both binaries:
#   docker build -t kiwi:0.1.0 .
#   docker run -p 7379:7379 kiwi:0.1.0          # a working single node (RESP on 7379)
#   docker run kiwi:0.1.0 --help                # every kiwi flag
# The operator Deployment runs the same image with `command: ["kiwi-operator", ...]`, and the
# StatefulSets it creates keep the `kiwi` entrypoint and replace only the arguments.

FROM rust:1-bookworm AS build
# librocksdb-sys generates its bindings with bindgen at build time (the workspace enables
# rocksdb's `bindgen-runtime` feature), which needs libclang; the C++ compiler RocksDB itself
# needs is already in the rust image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends clang libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole workspace: Cargo.toml lists node, operator and tests as members, and cargo refuses
# to build when a member is missing. .dockerignore keeps target/ and .git/ out of the context.
COPY . .
# --locked: build exactly the dependency versions in Cargo.lock, fail rather than update them.
# The cache mounts keep the registry and target/ between builds (BuildKit), so a code change
# does not recompile RocksDB; target/ lives only in the cache, hence the copy out in the same
# step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kiwi-node -p kiwi-operator --bin kiwi --bin kiwi-operator \
    && mkdir -p /out \
    && cp target/release/kiwi target/release/kiwi-operator /out/

FROM debian:bookworm-slim
# ca-certificates: the operator talks TLS to the Kubernetes API server. The binaries' other
# runtime needs (libc, libstdc++ and libgcc_s for RocksDB) are already in bookworm-slim.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid 10001: the operator's pods set runAsUser/fsGroup 10001, and runAsNonRoot
# can only be checked against a numeric USER.
RUN groupadd --system --gid 10001 kiwi \
    && useradd --system --uid 10001 --gid kiwi --home-dir /data --no-create-home --shell /usr/sbin/nologin kiwi \
    && mkdir -p /data \
    && chown kiwi:kiwi /data
COPY --from=build /out/kiwi /out/kiwi-operator /usr/local/bin/
WORKDIR /data
# Data lives outside the container's writable layer; a named volume is created owned by kiwi
# because /data is (Docker copies the image directory's ownership into a new volume).
VOLUME /data
USER 10001
# 7379: RESP (Redis clients). 8001: Raft and the node's HTTP admin API (/healthz, /readyz).
EXPOSE 7379 8001
ENTRYPOINT ["kiwi"]
# Listen on all interfaces (the default 127.0.0.1 is unreachable from outside the container)
# and keep the data in the volume. With no config file and no --join the node bootstraps a
# one-member cluster, so `docker run` alone gives a usable store.
CMD ["--binding", "0.0.0.0", "--raft-bind", "0.0.0.0:8001", "--db-path", "/data/kiwi"]
