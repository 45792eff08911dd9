#!/usr/bin/env python3
"""What the Kubernetes OpenAPI schemas cannot say about palisade's manifests.

kubernetes-validate checks each object against the API schema (types, field names); this checks
that a rendered set of objects is a working palisade install: the privileges and host mounts the
agent needs, with the right mount propagation; references that resolve (volumes, ConfigMaps,
Service selector and port, ServiceMonitor); the agent config in the ConfigMap parses as TOML with
known keys and agrees with the container port.

    check_manifests.py FILE...            each FILE is one install (multi-document YAML)
    check_manifests.py --same-pod A B     A's and B's agent pods are the same apart from names
"""

import sys
import tomllib

import yaml

CONFIG_KEYS = {"policy_dir", "nri_socket", "export_stdout", "export_file", "export_file_max_mib",
               "export_file_keep", "metrics_addr", "node_name", "log"}
# host path -> (mount path in the container, required propagation or None)
HOST_MOUNTS = {
    "/sys/fs/bpf": ("/sys/fs/bpf", "Bidirectional"),
    "/sys/kernel/security": ("/sys/kernel/security", None),
    "/sys/kernel/tracing": ("/sys/kernel/tracing", None),
    "/sys/fs/cgroup": ("/sys/fs/cgroup", "HostToContainer"),
    "/run/palisade": ("/run/palisade", None),
}
PROPAGATION = {"None", "HostToContainer", "Bidirectional"}


class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(objs, kind):
    found = [o for o in objs if o["kind"] == kind]
    need(len(found) == 1, f"expected one {kind}, found {len(found)}")
    return found[0]


def agent_pod(objs):
    ds = one(objs, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    containers = [c for c in spec["containers"] if c["name"] == "palisade"]
    need(len(containers) == 1, "no container named palisade")
    return ds, spec, containers[0]


def check(objs):
    ds, spec, c = agent_pod(objs)
    need(ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
         "DaemonSet selector does not match its pod labels")
    need(spec.get("hostPID") is True, "hostPID must be true")
    need(c.get("securityContext", {}).get("privileged") is True, "container must be privileged")
    need(any(t.get("operator") == "Exists" and "key" not in t for t in spec.get("tolerations", [])),
         "must tolerate every taint")
    need(c["livenessProbe"]["exec"]["command"][:2] == ["palisade", "status"], "liveness must be `palisade status`")
    need("memory" in c.get("resources", {}).get("limits", {}), "memory limit")
    args = c["args"]
    need(args[0] == "agent" and args[args.index("--config") + 1] == "/etc/palisade/config", "agent --config")

    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    need(mounts.keys() <= volumes.keys(), f"mounts without volumes: {mounts.keys() - volumes.keys()}")
    for m in mounts.values():
        need(m.get("mountPropagation", "None") in PROPAGATION, f"bad mountPropagation {m}")
    by_host = {v["hostPath"]["path"]: n for n, v in volumes.items() if "hostPath" in v}
    for host, (path, prop) in HOST_MOUNTS.items():
        need(host in by_host, f"no hostPath volume for {host}")
        m = mounts.get(by_host[host])
        need(m is not None and m["mountPath"] == path, f"{host} not mounted at {path}")
        if prop:
            need(m.get("mountPropagation") == prop, f"{host} needs mountPropagation {prop}")

    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    for n, v in volumes.items():
        if "configMap" in v:
            ref = v["configMap"]["name"]
            need(ref in configmaps or v["configMap"].get("optional") or n == "policies",
                 f"volume {n} refers to missing ConfigMap {ref}")
    cfg_mount = next(m for m in mounts.values() if m["mountPath"] == "/etc/palisade/config")
    cfg_map = configmaps[volumes[cfg_mount["name"]]["configMap"]["name"]]
    try:
        cfg = tomllib.loads(cfg_map["data"][cfg_mount["subPath"]])
    except tomllib.TOMLDecodeError as e:
        raise Bad(f"agent config is not TOML: {e}") from e
    need(cfg.keys() <= CONFIG_KEYS, f"unknown config keys {cfg.keys() - CONFIG_KEYS}")
    need(cfg.get("policy_dir") == "/etc/palisade/policies", "policy_dir must be the mounted policies")
    if cfg.get("nri_socket", "/var/run/nri/nri.sock") != "none":
        nri_dir = cfg.get("nri_socket", "/var/run/nri/nri.sock").rsplit("/", 1)[0]
        need(nri_dir in by_host and mounts[by_host[nri_dir]]["mountPath"] == nri_dir, f"NRI dir {nri_dir} not mounted")

    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if "metrics_addr" in cfg:
        need(int(cfg["metrics_addr"].rsplit(":", 1)[1]) == ports.get("metrics"),
             "metrics_addr port differs from the container port named metrics")
    services = [o for o in objs if o["kind"] == "Service"]
    need(bool(services) == ("metrics_addr" in cfg), "a metrics Service exactly when metrics are on")
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    for s in services:
        need(s["spec"]["selector"].items() <= pod_labels.items(), "Service selector misses the agent pods")
        for p in s["spec"]["ports"]:
            need(p["targetPort"] in ports, f"Service targetPort {p['targetPort']} is no container port")
    for sm in (o for o in objs if o["kind"] == "ServiceMonitor"):
        sel = sm["spec"]["selector"]["matchLabels"]
        targets = [s for s in services if sel.items() <= s["metadata"]["labels"].items()]
        need(len(targets) == 1, "ServiceMonitor selects no metrics Service")
        names = {p["name"] for p in targets[0]["spec"]["ports"]}
        need(all(e["port"] in names for e in sm["spec"]["endpoints"]), "ServiceMonitor port not on the Service")
    sa = spec.get("serviceAccountName")
    need(sa in {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"} or sa == "default",
         f"ServiceAccount {sa} missing")


def pod_shape(objs):
    """The agent pod with the names that legitimately differ taken out."""
    _, spec, c = agent_pod(objs)
    vols = []
    for v in spec["volumes"]:
        v = dict(v)
        if "configMap" in v:
            v["configMap"] = {k: x for k, x in v["configMap"].items() if k not in ("name", "optional")}
        vols.append(v)
    keep = ("args", "env", "ports", "securityContext", "livenessProbe", "readinessProbe", "resources", "volumeMounts")
    shape = {k: c.get(k) for k in keep}
    shape.update({k: spec.get(k) for k in ("hostPID", "hostNetwork", "tolerations", "priorityClassName")})
    shape["volumes"] = sorted(vols, key=lambda v: v["name"])
    return shape


def main(argv):
    path = " ".join(argv[1:3]) if argv[:1] == ["--same-pod"] else ""
    try:
        if argv[:1] == ["--same-pod"]:
            a, b = (pod_shape(load(p)) for p in argv[1:3])
            diff = [k for k in a if a[k] != b.get(k)]
            need(not diff, f"{argv[1]} and {argv[2]} differ in {diff}")
            print(f"ok: {argv[1]} and {argv[2]} describe the same agent pod")
            return 0
        for path in argv:
            check(load(path))
            print(f"ok: {path}")
        return 0
    except (Bad, KeyError, StopIteration, ValueError) as e:
        print(f"check_manifests: {path}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
