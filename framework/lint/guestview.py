"""What a guest's cloud-init makes of a drive's files, for lint.

Run by Debian's own Python (/usr/bin/python3), where the host's cloud-init
package is importable. Reads one JSON request on stdin and answers on stdout,
so one lint run starts Python once whatever the number of files:

  request:  {"cloud_config": [TEXT, ...],
             "network_json": [{"data": OBJ, "macs": {MAC: NAME}}, ...],
             "ifcfg": [TEXT, ...],
             "drives": [{"files": {PATH: B64}, "password": PW}, ...]}
  answer:   {"version": "22.4.2",
             "cloud_config": [{"errors": [P], "deprecations": [P]}, ...],
             "network_json": [{"error": MSG} or {"interfaces": [...], "eni": TEXT}, ...],
             "ifcfg": [{"error": MSG} or {"values": {KEY: VALUE}}, ...],
             "drives": [D, ...]}
  P:        {"path": "a.b", "line": N (0 unknown), "message": MSG}
  D:        see drive() below: the ConfigDrive reader's verdict and the
            version folder it selected, user_data's
            parts as cloud-init's user-data processor splits them, the
            merged cloud-config's schema problems, what the merge with
            vendor_data does to the harness's access, and which crypt
            hashes in them match the node's password.
"""
import base64
import copy
import json
import logging
import os
import re
import sys
import tempfile
import warnings

import yaml
from cloudinit import safeyaml, version
from cloudinit.config import schema
from cloudinit.distros.parsers.sys_conf import SysConf
from cloudinit.net import eni, network_state
from cloudinit import handlers, sources, user_data, util
from cloudinit.handlers import boot_hook, cloud_config as cc_handler, jinja_template
from cloudinit.helpers import Paths
from cloudinit.sources import DataSourceConfigDrive
from cloudinit.sources.helpers import openstack

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

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


def network_json(data, macs):
    # As the ConfigDrive datasource converts network_data.json on a guest
    # whose NICs have the node's MACs (eth0, eth1, ... in topology order),
    # and as Debian renders it (ENI).
    try:
        cfg = openstack.convert_net_json(data, known_macs=macs)
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
                               "type": iface.get("type"), "vlan_id": iface.get("vlan_id"),
                               "vlan_link": iface.get("vlan-raw-device") or iface.get("vlan_link"),
                               "bond_members": [i["name"] for i in ns.iter_interfaces()
                                                if i.get("bond-master") and i.get("bond-master") == iface.get("name")],
                               "bond_mode": iface.get("bond_mode") or iface.get("bond-mode"),
                               "subnets": subnets})
        return {"interfaces": interfaces, "dns": [str(a) for a in ns.dns_nameservers],
                "eni": eni.Renderer()._render_interfaces(ns)}
    except Exception as e:  # whatever the guest would trip over
        return {"error": "%s: %s" % (type(e).__name__, e)}


def ifcfg(text):
    try:
        return {"values": {k: str(v) for k, v in SysConf(text.splitlines()).items()}}
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}

# --- a whole drive: the ConfigDrive reader, user_data, vendor_data -------

SCRIPT_TYPES = ("text/x-shellscript", "text/x-shellscript-per-boot",
                "text/x-shellscript-per-instance", "text/x-shellscript-per-once")
HASH_RE = re.compile(r"\$(?:1|2[abxy]|5|6|y|gy|7)\$[./A-Za-z0-9$=,-]+")


class OfflineProcessor(user_data.UserDataProcessor):
    """cloud-init's processor, minus the downloads #include asks for."""

    def __init__(self):
        user_data.UserDataProcessor.__init__(self, Paths({}))
        self.includes = []

    def _do_include(self, content, append_msg):
        self.includes.append(content)


class ReaderLog(logging.Handler):
    """What cloud-init's OpenStack reader logs while it reads one drive: the
    version folder it selected ("Selected version '%s' from %s") and the
    mandatory files it missed there."""

    def __init__(self):
        logging.Handler.__init__(self, logging.DEBUG)
        self.selected, self.missing = "", []

    def emit(self, record):
        if record.msg == "Selected version '%s' from %s":
            self.selected = str(record.args[0])
        elif record.msg == "Failed reading mandatory path %s due to: %s":
            self.missing.append(str(record.args[0]))


def read_drive(files):
    """As the ConfigDrive datasource reads a mounted drive (read_config_drive):
    its result, the reader's refusal ("" when none), and the version folder
    it selected ("latest" when it knows none of the drive's dated folders)."""
    log = ReaderLog()
    openstack.LOG.addHandler(log)
    level = openstack.LOG.level
    openstack.LOG.setLevel(logging.DEBUG)
    with tempfile.TemporaryDirectory(prefix="drivelab-lint-") as root:
        for path, data in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(base64.b64decode(data))
        try:
            return DataSourceConfigDrive.read_config_drive(root), "", log.selected
        except (sources.BrokenMetadata, openstack.NonReadable) as e:
            msg = "%s: %s" % (type(e).__name__, e)
            if isinstance(e, openstack.NonReadable) and log.missing:
                # read_config_drive raises the last reader's error (the
                # version 1 layout's "no files found"); the version 2
                # reader's own says which file of which folder it missed.
                msg = "NonReadable: Missing mandatory path: %s" % log.missing[0]
            # Name the drive's file, not the folder it was laid out in.
            return None, msg.replace(root + "/", ""), log.selected
        finally:
            openstack.LOG.removeHandler(log)
            openstack.LOG.setLevel(level)


def instance_data(md):
    # The jinja variables a ConfigDrive guest has (instance-data.json), as
    # far as the drive determines them.
    v1 = {
        "cloud_name": "openstack", "platform": "openstack",
        "subplatform": "config-disk (/dev/sr0)",
        "instance_id": md.get("uuid"), "local_hostname": md.get("hostname"),
        "availability_zone": md.get("availability_zone"), "region": None,
        "public_ssh_keys": list((md.get("public_keys") or {}).values()),
        "distro": "debian", "variant": "debian", "machine": "x86_64",
    }
    for k in list(v1):
        v1[k.replace("_", "-")] = v1[k]
    return {"v1": v1, "ds": {"meta_data": md}}


def offset_of(raw, text):
    # The line of raw (user_data as rendered) where text begins, 0 when it
    # is not there verbatim (gzip, base64, a rendered jinja template).
    i = raw.find(text[:200]) if text else -1
    return raw.count("\n", 0, i) + 1 if i >= 0 else 0


def split_parts(blob, md, raw):
    """user_data as cloud-init's handlers receive it: one entry per part."""
    proc = OfflineProcessor()
    out, problems = [], []
    try:
        msg = proc.process(blob)
    except Exception as e:  # a failed decompression, a broken MIME message
        return [], [{"message": "cloud-init's user-data processor fails on it: %s: %s" % (type(e).__name__, e)}]
    for inc in proc.includes:
        problems.append({"warning": True, "message": "an #include part (%s): the guest downloads it at boot; lint cannot check what it gets" % inc.strip()[:80]})
    for part in msg.walk():
        if user_data.is_skippable(part):
            continue
        ctype = part.get_content_type()
        name = part.get_filename() or "part"
        payload = util.fully_decoded_payload(part)
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8", "surrogateescape")
        line = offset_of(raw, payload)
        entry = {"type": ctype, "filename": name, "text": payload, "line": line}
        if ctype == "text/jinja2":
            try:
                rendered = jinja_template.render_jinja_payload(payload, name, instance_data(md))
            except Exception as e:
                problems.append({"line": line, "message": "%s: cloud-init cannot render its jinja template: %s: %s" % (name, type(e).__name__, e)})
                continue
            if rendered is None:
                problems.append({"line": line, "message": "%s: cloud-init ignores this jinja template (an undefined variable or a wrong type)" % name})
                continue
            missing = re.findall(r"CI_MISSING_JINJA_VAR/(\S+)", rendered)
            if missing:
                problems.append({"line": line, "message": "%s: jinja variables the guest does not have: %s; the guest would render them as CI_MISSING_JINJA_VAR and log a WARNING (use v1.* or ds.meta_data.*)" % (name, ", ".join(sorted(set(missing))))})
            entry.update(text=rendered, jinja=True, type=handlers.type_from_starts_with(rendered) or "text/plain",
                         line=line + 1 if line else 0)
        elif ctype == "text/cloud-boothook":
            body = util.strip_prefix_suffix(util.dos2unix(payload), prefix=boot_hook.BootHookPartHandler.prefixes[0])
            entry.update(text=body.lstrip(), line=line + 1 if line else 0)
        out.append(entry)
    return out, problems


def cloud_config_parts(parts, problems):
    """Merge the cloud-config parts as CloudConfigPartHandler does (merge_how
    honoured, then dropped); per part its YAML marks, for lines."""
    handler = cc_handler.CloudConfigPartHandler(Paths({}))
    handler.handle_part(None, handlers.CONTENT_START, None, None, None, None)
    marks = []
    for p in parts:
        if p["type"] not in ("text/cloud-config", "text/cloud-config-jsonp"):
            continue
        if p["type"] == "text/cloud-config":
            try:
                cfg, m = safeyaml.load_with_marks(p["text"])
            except yaml.YAMLError as e:
                mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
                problems.append({"line": p["line"] + mark.line if mark and p["line"] else 0,
                                 "message": "%s: not valid YAML: %s" % (p["filename"], e)})
                continue
            if not isinstance(cfg, dict):
                problems.append({"line": p["line"], "message": "%s: not a YAML mapping (cloud-init wants key: value pairs)" % p["filename"]})
                continue
            marks.append((p, m))
        handler.handle_part(None, p["type"], p["filename"], p["text"], None, {})
    return handler.cloud_buf or {}, marks


def line_of(marks, path):
    # The line of the last part that sets path (or its top-level key).
    for p, m in reversed(marks):
        for key in (path, path.split(".")[0]):
            if key in m and p["line"]:
                return p["line"] + m[key] - 1
    return 0


def module_names(mods):
    names = []
    for m in mods or []:
        if isinstance(m, (list, tuple)) and m:
            m = m[0]
        if isinstance(m, str):
            names.append(m.replace("-", "_").replace("cc_", "", 1))
    return names


def root_entries(users):
    if isinstance(users, dict):
        users = [dict(v or {}, name=k) for k, v in users.items()]
    return [u for u in users or [] if isinstance(u, dict) and u.get("name") == "root"]


def access(user_cfg, vendor_cfg, marks):
    """What merging user_data over vendor_data does to the harness's way in,
    decided on the config cloud-init's ConfigMerger builds (user_data's
    cloud-config first, then vendor_data's, by util.mergemanydict)."""
    if not vendor_cfg:
        return []
    merged = util.mergemanydict([copy.deepcopy(user_cfg), copy.deepcopy(vendor_cfg)])
    out = []

    def say(key, message):
        out.append({"key": key, "line": line_of(marks, key), "message": message})

    vd = merged.get("vendor_data", {})
    if not isinstance(vd, dict) or not util.is_true(vd.get("enabled", True)):
        say("vendor_data", "vendor_data: %s turns vendor_data off, and with it the harness's root key and pinned host key; drop it" % json.dumps(vd, default=str))
        return out
    if util.get_cfg_option_bool(merged, "disable_root", True):
        say("disable_root", "disable_root: %s replaces vendor_data's `disable_root: false`: root's keys would only print a refusal; drop it (the harness logs in as root)" % json.dumps(merged.get("disable_root"), default=str))
    want = vendor_cfg.get("ssh_authorized_keys") or []
    have = set()
    if isinstance(merged.get("ssh_authorized_keys"), list):
        have.update(merged["ssh_authorized_keys"])
    for u in root_entries(merged.get("users")):
        keys = u.get("ssh_authorized_keys") or []
        have.update([keys] if isinstance(keys, str) else keys)
    if want and not set(want) <= have and "ssh_authorized_keys" in user_cfg:
        say("ssh_authorized_keys",
            "a top-level ssh_authorized_keys replaces vendor_data's (cloud-init merges user_data over vendor_data key by key, user_data winning), "
            "so the harness's root key is lost; give your keys to root instead: `users: [{name: root, lock_passwd: false, ssh_authorized_keys: [...]}]` "
            "(a merge_how does not help: cloud-init applies it between user_data's own parts only)")
    elif want and not set(want) <= have:
        say("ssh_authorized_keys", "the harness's root key from vendor_data is not in the merged config; drop what replaces it")
    vkeys, mkeys = vendor_cfg.get("ssh_keys") or {}, merged.get("ssh_keys") or {}
    lost = sorted(k for k, v in vkeys.items() if not isinstance(mkeys, dict) or mkeys.get(k) != v)
    if lost:
        say("ssh_keys", "ssh_keys replaces vendor_data's pinned host key (%s), which the harness checks the guest against; leave %s out of user_data" % (", ".join(lost), ", ".join(lost)))
    if "cloud_init_modules" in user_cfg and "ssh" not in module_names(user_cfg.get("cloud_init_modules")):
        say("cloud_init_modules", "cloud_init_modules lists no `ssh`: the module that installs the harness's root key and host key would not run; add `- ssh` to it")
    return out


def hashes(texts, password):
    found = {}
    for t in texts:
        for h in HASH_RE.findall(t):
            if h not in found:
                try:
                    found[h] = crypt.crypt(password, h) == h
                except Exception:
                    found[h] = False
    return found


def strings_in(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings_in(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings_in(x)


def drive(job, full_schema):
    files = job["files"]
    out = {"reader_error": "", "selected_version": "", "injected": [], "parts": [], "problems": [],
           "schema": {"errors": [], "deprecations": []}, "access": [], "hashes": {}, "merged": {}}
    md = {}
    res, out["reader_error"], out["selected_version"] = read_drive(files)
    # user_data and vendor_data as the reader took them from the folder it
    # selected; openstack/latest/'s when it refused the drive.
    blob = base64.b64decode(files.get("openstack/latest/user_data", ""))
    vendor = None
    if res:
        md = res.get("metadata") or {}
        out["injected"] = sorted(res.get("files", {}))
        blob = res.get("userdata") or b""
        blob = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
        vendor = res.get("vendordata")
    raw = blob.decode("utf-8", "surrogateescape")
    parts, problems = split_parts(blob, md, raw)
    out["parts"] = parts
    out["problems"] = problems
    user_cfg, marks = cloud_config_parts(parts, out["problems"])
    out["merged"] = user_cfg
    if user_cfg:
        try:
            schema.validate_cloudconfig_schema(copy.deepcopy(user_cfg), full_schema, strict=True, log_deprecations=False)
        except schema.SchemaValidationError as e:
            def conv(probs):
                return [problem(p.path, line_of(marks, p.path), p.message) for p in probs]
            out["schema"] = {"errors": conv(e.schema_errors), "deprecations": conv(e.schema_deprecations)}
    vendor_cfg = {}
    try:
        if not res:
            vendor = json.loads(base64.b64decode(files.get("openstack/latest/vendor_data.json", "")) or b"{}")
        vraw = sources.convert_vendordata(vendor)
        if vraw:
            vparts, _ = split_parts(vraw, md, "")
            vendor_cfg, _ = cloud_config_parts(vparts, [])
    except Exception:
        pass  # the JSON and schema checks report a broken vendor_data
    out["access"] = access(user_cfg, vendor_cfg, marks)
    out["hashes"] = hashes([p["text"] for p in parts] + list(strings_in(user_cfg)), job.get("password", ""))
    return out


def main():
    req = json.load(sys.stdin)
    full_schema = schema.get_schema()
    json.dump({
        "version": version.version_string(),
        "cloud_config": [cloud_config(t, full_schema) for t in req.get("cloud_config") or []],
        "network_json": [network_json(n["data"], n["macs"]) for n in req.get("network_json") or []],
        "ifcfg": [ifcfg(t) for t in req.get("ifcfg") or []],
        "drives": [drive(d, full_schema) for d in req.get("drives") or []],
    }, sys.stdout, default=str)


if __name__ == "__main__":
    main()
