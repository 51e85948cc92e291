"""Read an extracted config drive the way cloud-init does on the guest.

Usage: /usr/bin/python3 read_config_drive.py DRIVE_DIR NIC_MAC

Prints JSON: what cloud-init's ConfigDrive datasource takes from the drive
(instance-id, hostname, injected files by sha256, user_data, vendor
cloud-config, meta_data as read, random_seed as its decoded length), the
version folder its reader selected and the versions it knows, and, when the
drive has network_data.json, the network config convert_net_json derives
for a guest whose eth0 has NIC_MAC, plus the ifupdown (ENI) file cloud-init
would write from it. A drive the reader refuses exits 1, the reason on
stderr: for a version folder without meta_data.json, the file it missed.
"""
import hashlib
import json
import logging
import os
import sys

import yaml
from cloudinit import sources, version
from cloudinit.net import eni, network_state
from cloudinit.sources.DataSourceConfigDrive import read_config_drive
from cloudinit.sources.helpers import openstack


# Lint's reader of the same log records (framework/lint/guestview.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "framework", "lint"))
from guestview import ReaderLog  # noqa: E402


def main(drive_dir, mac):
    log = ReaderLog()
    openstack.LOG.addHandler(log)
    openstack.LOG.setLevel(logging.DEBUG)
    try:
        res = read_config_drive(drive_dir)
    except (sources.BrokenMetadata, openstack.NonReadable) as e:
        msg = "%s: %s" % (type(e).__name__, e)
        if isinstance(e, openstack.NonReadable) and log.missing:
            # read_config_drive raises the version 1 reader's error; the
            # version 2 reader's names the file it missed.
            msg = "NonReadable: Missing mandatory path: %s" % log.missing[0]
        sys.stderr.write("cloud-init's reader (selected version %r) refuses the drive: %s\n" % (log.selected, msg.replace(drive_dir.rstrip("/") + "/", "")))
        sys.exit(1)
    md = res["metadata"]
    userdata = res.get("userdata", b"")
    seed = md.get("random_seed")
    out = {
        "cloud_init": version.version_string(),
        "selected_version": log.selected,
        "known_versions": list(openstack.OS_VERSIONS),
        "instance_id": md.get("instance-id"),
        "local_hostname": md.get("local-hostname"),
        # meta_data.json's keys as the reader returns them, without the two
        # it copies (instance-id, local-hostname) and with random_seed,
        # which it decodes from base64, as its length in bytes.
        "metadata": {k: (len(v) if k == "random_seed" else v) for k, v in md.items()
                     if k not in ("instance-id", "local-hostname")},
        "files": {p: hashlib.sha256(c).hexdigest() for p, c in res["files"].items()},
        "userdata": userdata.decode() if isinstance(userdata, bytes) else userdata,
        "vendor_config": None,
        "network": None,
        "eni": None,
    }
    if seed is not None and not isinstance(seed, bytes):
        out["metadata"]["random_seed"] = "not decoded: %r" % type(seed)
    vendor = sources.convert_vendordata(res.get("vendordata"))
    if vendor:
        out["vendor_config"] = yaml.safe_load(vendor) if vendor.startswith("#cloud-config") else vendor
    if "networkdata" in res:
        cfg = openstack.convert_net_json(res["networkdata"], known_macs={mac: "eth0"})
        out["network"] = cfg
        out["eni"] = eni.Renderer()._render_interfaces(network_state.parse_net_config_data(cfg))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
