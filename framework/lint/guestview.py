"""What a guest's cloud-init makes of a drive's files, for lint.

Run by Debian's own Python (/usr/bin/python3), where the host's cloud-init
package is importable. Reads one JSON request on stdin and answers on stdout,
so one lint run starts Python once whatever the number of files:

  request:  {"cloud_config": [TEXT, ...],
             "network_json": [{"data": OBJ, "mac": MAC}, ...],
             "ifcfg": [TEXT, ...]}
  answer:   {"version": "22.4.2",
             "cloud_config": [{"errors": [P], "deprecations": [P]}, ...],
             "network_json": [{"error": MSG} or {"interfaces": [...], "eni": TEXT}, ...],
             "ifcfg": [{"error": MSG} or {"values": {KEY: VALUE}}, ...]}
  P:        {"path": "a.b", "line": N (0 unknown), "message": MSG}
"""
import json
import sys

import yaml
from cloudinit import safeyaml, version
from cloudinit.config import schema
from cloudinit.distros.parsers.sys_conf import SysConf
from cloudinit.net import eni, network_state
from cloudinit.sources.helpers import openstack

HEADER = "#cloud-config"


def problem(path, line, message):
    return {"path": path, "line": line, "message": message}


def cloud_config(text, full_schema):
    # As `cloud-init schema -c FILE` reads a file (validate_cloudconfig_file).
    if not text.startswith(HEADER):
        return {"errors": [problem("", 1, "does not begin with " + HEADER)], "deprecations": []}
    try:
        cfg, marks = safeyaml.load_with_marks(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        return {"errors": [problem("", line, "is not valid YAML: %s" % e)], "deprecations": []}
    if not isinstance(cfg, dict):
        return {"errors": [problem("", 1, "is not a YAML mapping (cloud-init wants key: value pairs)")], "deprecations": []}
    try:
        schema.validate_cloudconfig_schema(cfg, full_schema, strict=True, log_deprecations=False)
    except schema.SchemaValidationError as e:
        def conv(probs):
            return [problem(p.path, marks.get(p.path, marks.get(p.path.split(".")[0], 0)), p.message) for p in probs]
        return {"errors": conv(e.schema_errors), "deprecations": conv(e.schema_deprecations)}
    return {"errors": [], "deprecations": []}


def network_json(data, mac):
    # As the ConfigDrive datasource converts network_data.json on a guest
    # whose only NIC (eth0) has the node's MAC, and as Debian renders it (ENI).
    try:
        cfg = openstack.convert_net_json(data, known_macs={mac: "eth0"})
        ns = network_state.parse_net_config_data(cfg)
        interfaces = []
        for iface in ns.iter_interfaces():
            subnets = []
            for s in iface.get("subnets") or []:
                subnets.append({
                    "type": s.get("type"),
                    "ipv6": bool(s.get("ipv6")) or str(s.get("type", "")).endswith("6") or "ipv6" in str(s.get("type", "")),
                    "address": s.get("address"),
                    "prefix": s.get("prefix"),
                    "gateway": s.get("gateway"),
                    "routes": [{"network": r.get("network"), "prefix": r.get("prefix"), "gateway": r.get("gateway")}
                               for r in s.get("routes") or []],
                })
            interfaces.append({"name": iface.get("name"), "mac": iface.get("mac_address"), "mtu": iface.get("mtu"),
                               "subnets": subnets})
        return {"interfaces": interfaces, "eni": eni.Renderer()._render_interfaces(ns)}
    except Exception as e:  # whatever the guest would trip over
        return {"error": "%s: %s" % (type(e).__name__, e)}


def ifcfg(text):
    try:
        return {"values": {k: str(v) for k, v in SysConf(text.splitlines()).items()}}
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    req = json.load(sys.stdin)
    full_schema = schema.get_schema()
    json.dump({
        "version": version.version_string(),
        "cloud_config": [cloud_config(t, full_schema) for t in req.get("cloud_config") or []],
        "network_json": [network_json(n["data"], n["mac"]) for n in req.get("network_json") or []],
        "ifcfg": [ifcfg(t) for t in req.get("ifcfg") or []],
    }, sys.stdout)


if __name__ == "__main__":
    main()
