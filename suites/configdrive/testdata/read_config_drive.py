"""Read an extracted config drive the way cloud-init does on the guest.

Usage: /usr/bin/python3 read_config_drive.py DRIVE_DIR NIC_MAC

Prints JSON: what cloud-init's ConfigDrive datasource takes from the drive
(instance-id, hostname, injected files by sha256, user_data, vendor
cloud-config) and, when the drive has network_data.json, the network config
convert_net_json derives for a guest whose eth0 has NIC_MAC, plus the
ifupdown (ENI) file cloud-init would write from it.
"""
import hashlib
import json
import sys

import yaml
from cloudinit import sources
from cloudinit.net import eni, network_state
from cloudinit.sources.DataSourceConfigDrive import read_config_drive
from cloudinit.sources.helpers import openstack


def main(drive_dir, mac):
    res = read_config_drive(drive_dir)
    md = res["metadata"]
    userdata = res.get("userdata", b"")
    out = {
        "instance_id": md.get("instance-id"),
        "local_hostname": md.get("local-hostname"),
        "files": {p: hashlib.sha256(c).hexdigest() for p, c in res["files"].items()},
        "userdata": userdata.decode() if isinstance(userdata, bytes) else userdata,
        "vendor_config": None,
        "network": None,
        "eni": None,
    }
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
