# One image for both binaries:
#   docker build -t kiwi:0.1.0 .
#   docker run -p 7379:7379 kiwi:0.1.0          # a working single node (RESP on 7379)
#   docker run kiwi:0.1.0 --help                # every kiwi flag
# The operator Deployment runs the same image with `command: ["kiwi-operator", ...]`, and the
# StatefulSets it creates keep the `kiwi` entrypoint and replace only the arguments.
#
# Two final targets share one runtime stage (`runtime-base`: user, volume, ports, entrypoint,
# healthcheck, labels) and differ only in where the binaries come from:
#   runtime       (the default, last) builds them from source in `build` (needs BuildKit for the
#                 cache mounts, as `docker build` has by default since Docker 23)
#   runtime-host  packs binaries already built on the host, from the directory HOST_BINS names
#                 in the build context (stripped by whoever put them there). Offline machines
#                 use it: tests/docker/container_test.sh builds
#                   docker build --target runtime-host --build-arg RUNTIME_BASE=kiwi-base:bookworm \
#                       --build-arg HOST_BINS=bins -f Dockerfile <context holding bins/>
#                 on a base made by tests/docker/base-image.sh.
# The stages are ordered so that `--target runtime-host` never reaches `build`, also for the
# legacy builder, which builds every stage before the target.

# Pinned, so a rebuild of the same commit uses the same compiler (rust-toolchain users: keep in
# step with the version CI builds with).
ARG RUST_IMAGE=rust:1.95.0-bookworm
# Any Debian bookworm root works: the binaries need glibc, libstdc++ and libgcc_s (RocksDB),
# bash for the healthcheck, and ca-certificates for the operator.
ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${RUNTIME_BASE} AS runtime-base
ARG VERSION=0.1.0
ARG REVISION=unknown
# ca-certificates: the operator talks TLS to the Kubernetes API server. Skipped when the base
# already has it (the debootstrap base the tests use does, and has no package lists).
RUN if [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi
# A fixed uid/gid 10001: the operator's pods set runAsUser/fsGroup 10001, and runAsNonRoot
# can only be checked against a numeric USER.
RUN groupadd --system --gid 10001 kiwi \
    && useradd --system --uid 10001 --gid kiwi --home-dir /data --no-create-home --shell /usr/sbin/nologin kiwi \
    && mkdir -p /data \
    && chown kiwi:kiwi /data
LABEL org.opencontainers.image.title="kiwi" \
      org.opencontainers.image.description="Kiwi: a Redis-compatible key-value store on RocksDB, replicated with Raft; also holds kiwi-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /data
# Data lives outside the container's writable layer; a named volume is created owned by kiwi
# because /data is (Docker copies the image directory's ownership into a new volume).
VOLUME /data
USER 10001
# 7379: RESP (Redis clients). 8001: Raft and the node's HTTP admin API (/healthz, /readyz).
EXPOSE 7379 8001
# Liveness from GET /healthz on the Raft/HTTP port, with bash's /dev/tcp (the image holds no
# HTTP client). It assumes the node serves HTTP on 127.0.0.1:8001 inside the container, as the
# default CMD does (`--raft-bind 0.0.0.0:8001`); override with KIWI_HEALTH_PORT. The operator's
# pods do not use it: Kubernetes ignores HEALTHCHECK and probes /healthz and /readyz itself.
ENV KIWI_HEALTH_PORT=8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${KIWI_HEALTH_PORT} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]
ENTRYPOINT ["kiwi"]
# Listen on all interfaces (the default 127.0.0.1 is unreachable from outside the container)
# and keep the data in the volume. With no config file and no --join the node bootstraps a
# one-member cluster, so `docker run` alone gives a usable store. Nodes of a cluster on several
# hosts also need --raft-addr/--raft-resp-addr they can be reached at and KIWI_ADMIN_TOKEN and
# KIWI_CLUSTER_SECRET in their environment (see compose.yaml).
CMD ["--binding", "0.0.0.0", "--raft-bind", "0.0.0.0:8001", "--db-path", "/data/kiwi"]

# Binaries built on the host (see the top of this file).
FROM runtime-base AS runtime-host
ARG HOST_BINS=bins
COPY ${HOST_BINS}/kiwi ${HOST_BINS}/kiwi-operator /usr/local/bin/

FROM ${RUST_IMAGE} AS build
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
# step. strip: the release profile keeps line tables (debug = 1, for profiling from a build
# tree) and RocksDB's own debug sections, several times the size of the code; an image has no
# use for them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kiwi-node -p kiwi-operator --bin kiwi --bin kiwi-operator \
    && mkdir -p /out \
    && cp target/release/kiwi target/release/kiwi-operator /out/ \
    && strip /out/kiwi /out/kiwi-operator

# The default target: binaries built from source.
FROM runtime-base AS runtime
COPY --from=build /out/kiwi /out/kiwi-operator /usr/local/bin/
