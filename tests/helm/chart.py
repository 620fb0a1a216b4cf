"""Lints and renders the Helm chart with a real Helm engine, for tests/tests/helm_chart.rs.

Helm itself (v4, as a Go library) comes from PyPI's helm-python-sdk; scripts/setup.sh installs
it. Its install action with dry_run="client" is what `helm template` runs: values are checked
against values.schema.json, templates are rendered (a `fail` aborts), and the manifests come
back sorted in install order. PyPI's helm-sdkpy was tried first: it lints (without values) but
cannot render without a cluster.

    python3 tests/helm/chart.py render CHART_DIR VALUES_JSON [RELEASE NAMESPACE [KUBE_VERSION]]
        prints {"lint": [messages], "metadata": {...}, "manifest": "..."} and exits 0, or
        prints {"error": "..."} and exits 1 when Helm refuses the values, the Kubernetes
        version (Chart.yaml's kubeVersion) or a template fails.
    python3 tests/helm/chart.py monitors FILE...
        checks every ServiceMonitor and PodMonitor in the YAML files against the Prometheus
        Operator's schema (no unknown fields anywhere); exits 1 on the first invalid object or
        on any other kind (kubernetes-validate checks those).
"""

import json
import sys


def need(module, package):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        sys.exit(
            f"{package} is not installed ({e}): run scripts/setup.sh "
            f"(python3 -m pip install {package})"
        )


def render(
    chart_dir, values, release="kiwi-operator", namespace="kiwi-system", kube_version="v1.27.0"
):
    helm = need("helm_python", "helm-python-sdk")
    from helm_python import _native

    # Lint with the same values, as `helm lint --strict -f values.json` does.
    report = helm.lint(
        chart_dir, values, strict=True, namespace=namespace, kube_version=kube_version
    )
    chart = helm.Chart.load(chart_dir)
    config = helm.Config(namespace=namespace, storage_driver="memory")
    try:
        # Config.install(..., dry_run="client") is `helm template`, but it has no keyword for
        # the Kubernetes version the library's install options take (`helm template
        # --kube-version`), so the options go in as the wrapper would send them.
        options = {"namespace": namespace, "dry_run": "client", "kube_version": kube_version}
        payload = _native.call_string(
            "helm_install",
            config._raw(),
            config._context_arg(None),
            chart._raw(),
            None,
            release,
            json.dumps(values),
            json.dumps(options),
        )
        release_info = json.loads(payload)
    except helm.HelmError as e:
        print(json.dumps({"error": str(e), "lint": report.get("messages", [])}))
        return 1
    finally:
        config.close()
    print(
        json.dumps(
            {
                "lint": report.get("messages", []) + [
                    {"severity": 3, "path": "", "error": e} for e in report.get("errors", [])
                ],
                "metadata": chart.metadata,
                "manifest": release_info["manifest"],
            }
        )
    )
    return 0


def closed(schema):
    """The schema with additionalProperties: false on every object that lists properties, so
    an unknown field fails as it does with kubernetes-validate --strict."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for v in schema.values():
            closed(v)
    elif isinstance(schema, list):
        for v in schema:
            closed(v)
    return schema


def monitors(files):
    yaml = need("yaml", "pyyaml")
    jsonschema = need("jsonschema", "jsonschema")
    # Pydantic models generated from the Prometheus Operator's CRDs.
    models = need(
        "cloudcoil.models.prometheus_operator.v1", "cloudcoil-models-prometheus-operator"
    )
    schemas = {
        kind: closed(getattr(models, kind).model_json_schema())
        for kind in ("ServiceMonitor", "PodMonitor")
    }
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc:
                    continue
                kind = doc.get("kind")
                if doc.get("apiVersion") != "monitoring.coreos.com/v1" or kind not in schemas:
                    print(f"{path}: not a monitoring.coreos.com/v1 monitor: {kind}")
                    return 1
                try:
                    jsonschema.validate(doc, schemas[kind])
                except jsonschema.ValidationError as e:
                    print(f"{path}: {kind} {doc['metadata'].get('name')}: {e.message} at {list(e.path)}")
                    return 1
                print(f"valid {kind} {doc['metadata']['name']}")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "render":
        return render(argv[1], json.loads(argv[2]), *argv[3:6])
    if len(argv) >= 2 and argv[0] == "monitors":
        return monitors(argv[1:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
