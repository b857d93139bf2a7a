#!/usr/bin/env bash
# Static checks of the Kubernetes manifests in deploy/kubernetes. Nothing here
# talks to a cluster.
#
#  1. yamllint on every manifest (line length 120);
#  2. the structure of the documents (python3 with the yaml module): the
#     DaemonSet's host network, capabilities, volumes, probes, node selector;
#  3. the wanlb.yaml embedded in the ConfigMap through the real parser:
#     `wanlb check -c FILE --no-interfaces`;
#  4. `kubectl kustomize` renders the directory, if kubectl is installed
#     (offline; `kubectl apply --dry-run=client` needs an API server for
#     discovery, so it is not used).
#
# Exit 0 pass, 1 fail, 77 skip (yamllint missing: bash deploy/install-deps.sh).
# Environment: WANLB_BIN (default build/wanlb), WANLB_SRC (default: this repo).
set -euo pipefail

SRC=${WANLB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
K8S=$SRC/deploy/kubernetes
BIN=${WANLB_BIN:-$SRC/build/wanlb}
[[ $BIN == /* ]] || BIN=$SRC/$BIN

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

if ! command -v yamllint >/dev/null 2>&1; then
    echo "SKIP: yamllint is not installed (bash deploy/install-deps.sh installs it)"
    exit 77
fi

shopt -s nullglob
manifests=("$K8S"/*.yaml)
((${#manifests[@]})) || fail "no manifests in $K8S"
for f in namespace.yaml configmap.yaml daemonset.yaml kustomization.yaml; do
    [[ -f $K8S/$f ]] || fail "missing $K8S/$f"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- 1. yamllint
cat >"$work/yamllint.yaml" <<'EOF'
extends: default
rules:
  line-length: {max: 120}
  document-start: disable          # a leading --- is optional in manifests
  truthy: {check-keys: false}      # keys like `on` are not ours to police
  comments: {min-spaces-from-content: 1}
  indentation: {spaces: 2, indent-sequences: consistent}
EOF
yamllint -f parsable -c "$work/yamllint.yaml" "${manifests[@]}" || fail "yamllint found problems"
pass "yamllint: ${#manifests[@]} files"

# ------------------------------------------------------- 2. document structure
PY=$(command -v python3 || true)
if [[ -n $PY ]] && "$PY" -c 'import yaml' 2>/dev/null; then
    "$PY" - "$K8S" "$work/wanlb.yaml" <<'EOF'
import glob, os, sys, yaml

k8s_dir, config_out = sys.argv[1], sys.argv[2]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)

docs = {}
for path in sorted(glob.glob(os.path.join(k8s_dir, "*.yaml"))):
    with open(path) as f:
        for d in yaml.safe_load_all(f):
            if d is None:
                continue
            check(isinstance(d, dict) and "kind" in d and "apiVersion" in d,
                  f"{os.path.basename(path)}: a document without kind/apiVersion")
            key = (d.get("kind"), d.get("metadata", {}).get("name"))
            check(key not in docs, f"{key} defined twice")
            docs[key] = d

ns = docs.get(("Namespace", "wanlb-system"))
check(ns is not None, "Namespace wanlb-system missing")
if ns:
    check(ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
          "namespace must admit hostNetwork pods (pod-security enforce: privileged)")

for (kind, name), d in docs.items():
    if kind not in ("Namespace", "Kustomization", None):
        check(d["metadata"].get("namespace") == "wanlb-system", f"{kind}/{name} is not in wanlb-system")

kust = docs.get(("Kustomization", None))
check(kust is not None, "kustomization.yaml missing")
if kust:
    for r in kust.get("resources", []):
        check(os.path.isfile(os.path.join(k8s_dir, r)), f"kustomization lists missing {r}")

ds = docs.get(("DaemonSet", "wanlb"))
check(ds is not None, "DaemonSet wanlb missing")
if ds:
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    check(spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(),
          "selector does not match the pod labels")
    check(spec.get("updateStrategy", {}).get("type") == "RollingUpdate", "updateStrategy must be RollingUpdate")
    check(spec.get("updateStrategy", {}).get("rollingUpdate", {}).get("maxUnavailable") == 1, "maxUnavailable must be 1")
    check(pod.get("hostNetwork") is True, "hostNetwork must be true")
    check(pod.get("hostPID", False) is False, "hostPID must be false")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy must be ClusterFirstWithHostNet")
    check(pod.get("priorityClassName") == "system-node-critical", "priorityClassName must be system-node-critical")
    check(pod.get("nodeSelector", {}).get("wanlb.io/uplinks") == "multi", "nodeSelector wanlb.io/uplinks=multi missing")
    check({"operator": "Exists"} in pod.get("tolerations", []), "must tolerate every taint")
    check(0 < pod.get("terminationGracePeriodSeconds", 30) <= 30, "terminationGracePeriodSeconds should be small")
    cs = pod["containers"]
    check(len(cs) == 1, "one container expected")
    c = cs[0]
    check(c.get("args") == ["run", "-c", "/etc/wanlb/wanlb.yaml"], f"args: {c.get('args')}")
    check(c.get("image", "").startswith("registry.example.com/wanlb:"), "image placeholder changed")
    sc = c.get("securityContext", {})
    check(sc.get("privileged") is False, "privileged must be false")
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], f"capabilities.drop: {caps.get('drop')}")
    check(sorted(caps.get("add", [])) == sorted(["NET_ADMIN", "BPF", "PERFMON", "NET_RAW", "SYS_ADMIN"]),
          f"capabilities.add: {caps.get('add')}")
    res = c.get("resources", {})
    check("requests" in res and "limits" in res, "resources need requests and limits")
    for probe in ("livenessProbe", "readinessProbe"):
        p = c.get(probe)
        check(p is not None, f"{probe} missing")
        if p:
            cmd = p.get("exec", {}).get("command", [])
            check(cmd[:2] == ["wanlb", "status"], f"{probe} runs {cmd}")
            check(p.get("timeoutSeconds", 1) > 5, f"{probe}: timeoutSeconds must exceed the 5 s control socket timeout")
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    def host_mount(path):
        for name, v in vols.items():
            if v.get("hostPath", {}).get("path") == path:
                return name, v, mounts.get(name)
        return None, None, None
    name, v, m = host_mount("/sys/fs/bpf")
    check(v is not None and m is not None and m["mountPath"] == "/sys/fs/bpf", "bpffs hostPath /sys/fs/bpf not mounted")
    if m:
        check(m.get("mountPropagation") in (None, "None", "HostToContainer"),
              "Bidirectional propagation needs a privileged container")
        check(not m.get("readOnly", False), "bpffs must be writable (pins)")
    name, v, m = host_mount("/run/wanlb")
    check(v is not None and m is not None and m["mountPath"] == "/run/wanlb", "hostPath /run/wanlb not mounted")
    cfg_vol = [n for n, v in vols.items() if v.get("configMap", {}).get("name") == "wanlb-config"]
    check(len(cfg_vol) == 1 and mounts.get(cfg_vol[0], {}).get("mountPath") == "/etc/wanlb",
          "ConfigMap wanlb-config not mounted at /etc/wanlb")
    for n in vols:
        check(n in mounts, f"volume {n} is not mounted")
    for n in mounts:
        check(n in vols, f"mount {n} has no volume")

cm = docs.get(("ConfigMap", "wanlb-config"))
check(cm is not None, "ConfigMap wanlb-config missing")
if cm:
    text = cm.get("data", {}).get("wanlb.yaml")
    check(isinstance(text, str) and text.strip(), "ConfigMap has no wanlb.yaml")
    if text:
        cfg = yaml.safe_load(text)
        check(isinstance(cfg, dict), "embedded wanlb.yaml is not a mapping")
        if isinstance(cfg, dict):
            mask = cfg.get("mark_mask")
            check(isinstance(mask, int), "mark_mask missing")
            if isinstance(mask, int):
                # kube-proxy 0x4000/0x8000, Calico default 0xffff0000, Cilium 0x0f00
                for other, who in ((0x0000C000, "kube-proxy"), (0xFFFF0000, "Calico"), (0x00000F00, "Cilium")):
                    check(mask & other == 0, f"mark_mask 0x{mask:08x} overlaps {who} (0x{other:08x})")
            for p in ("10.96.0.0/12",):
                check(p in cfg.get("bypass", []), f"bypass should list the service network {p}")
        with open(config_out, "w") as f:
            f.write(text)

if errors:
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1)
print(f"ok: structure of {len(docs)} documents")
EOF
else
    echo "note: python3 with the yaml module is missing; structure checks skipped (apt-get install python3-yaml)"
    # Still extract the config for step 3: the block under `wanlb.yaml: |`.
    awk '/^  wanlb.yaml: \|/{on=1; next} on && /^[^ ]/{on=0} on{sub(/^    /, ""); print}' \
        "$K8S/configmap.yaml" >"$work/wanlb.yaml"
fi

# ------------------------------------------------------------ 3. wanlb check
[[ -s $work/wanlb.yaml ]] || fail "could not extract wanlb.yaml from configmap.yaml"
[[ -x $BIN ]] || fail "no wanlb binary at $BIN (build first, or set WANLB_BIN)"
if ! out=$("$BIN" check -c "$work/wanlb.yaml" --no-interfaces 2>&1); then
    echo "$out" >&2
    fail "wanlb check rejects the ConfigMap's wanlb.yaml"
fi
pass "wanlb check accepts the ConfigMap's wanlb.yaml"

# ------------------------------------------------------- 4. kubectl kustomize
if command -v kubectl >/dev/null 2>&1; then
    # A kubeconfig that points nowhere, so that no command can reach a real cluster.
    cat >"$work/kubeconfig" <<'EOF'
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://0.0.0.0:1"}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
users: [{name: none, user: {}}]
EOF
    if rendered=$(KUBECONFIG=$work/kubeconfig timeout 60 kubectl kustomize "$K8S" 2>&1); then
        kinds=$(grep -c '^kind:' <<<"$rendered" || true)
        [[ $kinds -eq 4 ]] || fail "kubectl kustomize rendered $kinds documents, expected 4"
        pass "kubectl kustomize renders $kinds documents"
    else
        echo "$rendered" >&2
        fail "kubectl kustomize failed"
    fi
    echo "note: kubectl apply --dry-run=client skipped: it needs an API server for discovery"
else
    echo "note: kubectl not installed; kustomize rendering skipped"
fi
echo "PASS: deploy/kubernetes"
