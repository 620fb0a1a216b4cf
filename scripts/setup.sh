#!/usr/bin/env bash
# Installs the system packages Kiwi needs to build and test on a fresh Debian machine with Rust:
# clang/libclang (RocksDB's bindings), redis-tools (redis-cli, redis-benchmark: real clients for
# the tests), redis-server (the benchmark's baseline), iproute2 and openssl (test tools). Safe to run again: it skips what is there.
set -euo pipefail

need=()
command -v clang >/dev/null || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v redis-server >/dev/null || need+=(redis-server)
command -v curl >/dev/null || need+=(curl)
# The security tests call from a network namespace (ip), the TLS tests make certificates (openssl).
command -v ip >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)

if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "== installing: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
fi

# redis-py: the pub/sub tests check that its PubSub client works against Kiwi.
if ! python3 -c "import redis" 2>/dev/null; then
    echo "== installing: redis (pip)"
    python3 -m pip install -q redis
fi

# kubernetes-validate: the tests check every Kubernetes object against the OpenAPI schema.
if ! python3 -c "import kubernetes_validate" 2>/dev/null; then
    echo "== installing: kubernetes-validate (pip)"
    python3 -m pip install -q kubernetes-validate
fi

# The chart test (tests/tests/helm_chart.rs) lints and renders charts/kiwi-operator with Helm
# itself, as a library: helm-python-sdk carries Helm v4 (no helm binary, nothing downloaded at
# run time). The Prometheus Operator's schema for ServiceMonitor and PodMonitor comes from the
# models generated from its CRDs. Pinned: tests/helm/chart.py passes an install option (the
# Kubernetes version) that this version's Python wrapper does not name.
if ! python3 -c "import helm_python, sys; sys.exit(helm_python.__version__ != '0.2.2')" 2>/dev/null; then
    echo "== installing: helm-python-sdk (pip)"
    python3 -m pip install -q helm-python-sdk==0.2.2
fi
if ! python3 -c "import cloudcoil.models.prometheus_operator.v1" 2>/dev/null; then
    echo "== installing: cloudcoil-models-prometheus-operator (pip)"
    python3 -m pip install -q cloudcoil-models-prometheus-operator==0.80.1.0
fi
