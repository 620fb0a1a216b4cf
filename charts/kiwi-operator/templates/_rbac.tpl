{{/*
What the Kiwi operator may do: only the verbs it uses on each resource. The ClusterRole (all
namespaces) and the Role (watchNamespace) grant the same rules; tests/tests/helm_chart.rs keeps
them equal to deploy/operator/clusterrole.yaml's.
*/}}
{{- define "kiwi-operator.rules" }}
  # Watch KiwiClusters; patch/update for the metadata the operator manages on them.
  - apiGroups: ["kiwi.io"]
    resources: ["kiwiclusters"]
    verbs: ["get", "list", "watch", "patch", "update"]
  - apiGroups: ["kiwi.io"]
    resources: ["kiwiclusters/status"]
    verbs: ["get", "patch", "update"]
  - apiGroups: ["apps"]
    resources: ["statefulsets"]
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
  - apiGroups: [""]
    resources: ["services", "configmaps"]
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
  # Each cluster's credentials Secret (admin token, peer secret): created once, then read.
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "create"]
  # Observe the nodes, label the leader's pod, delete a pod to roll it.
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch", "patch", "delete"]
  # Volumes are created by the StatefulSet; the operator only reclaims them.
  - apiGroups: [""]
    resources: ["persistentvolumeclaims"]
    verbs: ["get", "list", "watch", "delete"]
  - apiGroups: ["policy"]
    resources: ["poddisruptionbudgets"]
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch"]
{{- end }}

{{/*
The leader-election Lease, in the release namespace (POD_NAMESPACE).
*/}}
{{- define "kiwi-operator.leaseRules" }}
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["get", "list", "watch", "create", "patch", "update"]
{{- end }}
