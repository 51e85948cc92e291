package lint

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/render"
)

// guestViewScript asks the host's cloud-init what a guest makes of the
// drive's files (see guestview.py).
//
//go:embed guestview.py
var guestViewScript string

// SystemPython is Debian's Python: the host's cloud-init package is
// importable there only (a python3 earlier on PATH may be another one).
const SystemPython = "/usr/bin/python3"

const cloudConfigHeader = "#cloud-config"

// guestRequest and guestAnswer are guestview.py's protocol.
type guestRequest struct {
	CloudConfig []string     `json:"cloud_config"`
	NetworkJSON []networkJob `json:"network_json"`
	Ifcfg       []string     `json:"ifcfg"`
	Drives      []driveJob   `json:"drives"`
}

// driveJob is one whole drive: its files by drive path (base64 in JSON) and
// the node's password, for the crypt hashes user_data may hold.
type driveJob struct {
	Files    map[string][]byte `json:"files"`
	Password string            `json:"password"`
}

// networkJob is one network_data.json and the guest's NICs, MAC to name.
type networkJob struct {
	Data json.RawMessage   `json:"data"`
	MACs map[string]string `json:"macs"`
}

type schemaProblem struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

type guestAnswer struct {
	Version     string `json:"version"`
	CloudConfig []struct {
		Errors       []schemaProblem `json:"errors"`
		Deprecations []schemaProblem `json:"deprecations"`
	} `json:"cloud_config"`
	NetworkJSON []struct {
		Error      string `json:"error"`
		Interfaces []struct {
			Name string `json:"name"`
			MAC  string `json:"mac"`
			MTU  any    `json:"mtu"` // as network_data.json gave it
			// Type is cloud-init's: physical, bond or vlan.
			Type        string   `json:"type"`
			VLANID      *int     `json:"vlan_id"`
			VLANLink    string   `json:"vlan_link"`
			BondMembers []string `json:"bond_members"`
			BondMode    string   `json:"bond_mode"`
			Subnets     []struct {
				Type    string `json:"type"`
				IPv6    bool   `json:"ipv6"`
				Address string `json:"address"`
				Prefix  *int   `json:"prefix"`
				Gateway string `json:"gateway"`
				Routes  []struct {
					Network string `json:"network"`
					Prefix  *int   `json:"prefix"`
					Gateway string `json:"gateway"`
				} `json:"routes"`
			} `json:"subnets"`
		} `json:"interfaces"`
		DNS []string `json:"dns"`
		ENI string   `json:"eni"`
	} `json:"network_json"`
	Ifcfg []struct {
		Error  string            `json:"error"`
		Values map[string]string `json:"values"`
	} `json:"ifcfg"`
	Drives []driveView `json:"drives"`
}

// cloudConfigJob is one cloud-config a drive carries; line 0 of a file whose
// lines are not the cloud-config's (vendor_data.json embeds it in JSON).
type cloudConfigJob struct {
	d         render.Drive
	drivePath string
	inJSON    bool
}

type ifcfgJob struct {
	d         render.Drive
	drivePath string
	data      []byte
}

// guest reads every drive the way its guest's cloud-init will, in one
// Python process: each cloud-config (user_data, vendor_data) against
// cloud-init's schema, network_data.json through the ConfigDrive converter
// and Debian's ifupdown renderer, ifcfg files through cloud-init's sysconfig
// parser; and wants the node's address, prefix, gateway and MAC out of them.
//
// It returns each drive's view (drive reader, user_data's parts, merged
// cloud-config), by node name; nil when cloud-init could not run.
func (p *Pass) guest(ctx context.Context, drives []render.Drive) map[string]*driveView {
	var (
		req       guestRequest
		ccJobs    []cloudConfigJob
		netJobs   []render.Drive
		ifcfgJobs []ifcfgJob
	)
	for _, d := range drives {
		p.networkFile(d)
		req.Drives = append(req.Drives, newDriveJob(d))
		for _, cc := range vendorCloudConfigs(d.VendorData) {
			req.CloudConfig = append(req.CloudConfig, cc)
			ccJobs = append(ccJobs, cloudConfigJob{d: d, drivePath: render.VendorDataPath, inJSON: true})
		}
		// cloud-init 22.4 takes a second vendor cloud-config from vendor_data2.json (nova layout).
		for _, cc := range vendorCloudConfigs(fileData(d, render.VendorData2Path)) {
			req.CloudConfig = append(req.CloudConfig, cc)
			ccJobs = append(ccJobs, cloudConfigJob{d: d, drivePath: render.VendorData2Path, inJSON: true})
		}
		if d.NetworkData != nil && json.Valid(d.NetworkData) {
			macs := map[string]string{}
			for _, c := range d.Node.PhysicalNICs() {
				macs[strings.ToLower(c.MAC)] = c.Name
			}
			req.NetworkJSON = append(req.NetworkJSON, networkJob{Data: d.NetworkData, MACs: macs})
			netJobs = append(netJobs, d)
		}
		for _, c := range d.Content {
			if c.Data != nil && isIfcfg(c.GuestPath) {
				req.Ifcfg = append(req.Ifcfg, string(c.Data))
				ifcfgJobs = append(ifcfgJobs, ifcfgJob{d: d, drivePath: render.ContentFile(c.ContentPath), data: c.Data})
			}
		}
	}
	if len(req.CloudConfig)+len(req.NetworkJSON)+len(req.Ifcfg)+len(req.Drives) == 0 {
		return nil
	}
	ans, ok := p.askCloudInit(ctx, req)
	if !ok {
		return nil
	}
	p.cloudInit = ans.Version
	views := map[string]*driveView{}
	for i, d := range drives {
		views[d.Node.Name] = &ans.Drives[i]
	}
	for i, j := range ccJobs {
		p.schema(j, ans.Version, ans.CloudConfig[i].Errors, ans.CloudConfig[i].Deprecations)
	}
	for i, d := range netJobs {
		r := ans.NetworkJSON[i]
		if r.Error != "" {
			p.Reportf(d, render.NetworkDataPath, 0, "cloud-init %s cannot apply %s on a guest whose NIC is %s: %s", ans.Version, render.NetworkDataPath, nicMACs(d.Node), r.Error)
			continue
		}
		var ifaces []netIface
		for _, iface := range r.Interfaces {
			got := netIface{name: iface.Name, kind: iface.Type, mac: iface.MAC, mtu: iface.MTU,
				vlanLink: iface.VLANLink, bondMembers: iface.BondMembers, bondMode: iface.BondMode, vlanID: -1}
			if iface.VLANID != nil {
				got.vlanID = *iface.VLANID
			}
			for _, s := range iface.Subnets {
				sub := netSubnet{kind: s.Type, v6: s.IPv6, address: s.Address, gateway: s.Gateway, prefix: -1}
				if s.Prefix != nil {
					sub.prefix = *s.Prefix
				}
				for _, rt := range s.Routes {
					r := netRoute{network: rt.Network, gateway: rt.Gateway, prefix: -1}
					if rt.Prefix != nil {
						r.prefix = *rt.Prefix
					}
					sub.routes = append(sub.routes, r)
				}
				got.subnets = append(got.subnets, sub)
			}
			ifaces = append(ifaces, got)
		}
		if !p.Topology.SeveralNetworks() {
			p.networkFacts(d, eth0Facts(ifaces, r.ENI))
			continue
		}
		p.nicsFacts(d, ifaces, r.DNS, r.ENI)
	}
	for i, j := range ifcfgJobs {
		r := ans.Ifcfg[i]
		p.ifcfgLineEndings(j)
		if r.Error != "" {
			p.Reportf(j.d, j.drivePath, 0, "cloud-init's sysconfig parser cannot read it: %s", r.Error)
			continue
		}
		if p.Topology.SeveralNetworks() {
			// One ifcfg file is one interface; the several-network form may
			// give a node more, with VLANs, bonds and IPv6.
			p.Reportf(j.d, j.drivePath, 0, "the topology is written with `networks:` and node %s's NICs (%s) are checked against it, which an ifcfg file for eth0 alone cannot express; use a flavor whose network file is network_data.json (debian12)", j.d.Node.Name, nicNames(j.d.Node))
			continue
		}
		p.ifcfgFacts(j, r.Values)
		p.ifcfgSettings(j, r.Values)
	}
	return views
}

// askCloudInit runs guestview.py; false when it could not run (reported).
func (p *Pass) askCloudInit(ctx context.Context, req guestRequest) (guestAnswer, bool) {
	var ans guestAnswer
	in, err := json.Marshal(req)
	if err != nil {
		p.add("", "", 0, "cloud-init's view: %v", err)
		return ans, false
	}
	cmd := exec.CommandContext(ctx, SystemPython, "-c", guestViewScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	switch {
	case ctx.Err() != nil:
		return ans, false
	case err != nil && (strings.Contains(stderr.String(), "No module named 'cloudinit'") || isNotFound(err)):
		p.Skip("cloud-init's view of the drives (schema, network config): " + SystemPython + " with Debian's cloud-init package is missing (install cloud-init; make test does)")
		return ans, false
	case err != nil:
		p.add("", "", 0, "cloud-init's view of the drives could not be read (%s): %v\n%s", SystemPython, err, stderr.String())
		return ans, false
	}
	if err := json.Unmarshal(out, &ans); err != nil || len(ans.CloudConfig) != len(req.CloudConfig) || len(ans.NetworkJSON) != len(req.NetworkJSON) || len(ans.Ifcfg) != len(req.Ifcfg) || len(ans.Drives) != len(req.Drives) {
		p.add("", "", 0, "cloud-init's view of the drives: unexpected answer (%v): %.200s", err, out)
		return ans, false
	}
	return ans, true
}

// isNotFound is true when the program itself could not be started.
func isNotFound(err error) bool {
	var ee *exec.Error
	return errors.As(err, &ee)
}

// vendorCloudConfigs are the cloud-configs in vendor_data.json as the
// ConfigDrive datasource takes them (sources.convert_vendordata): a string,
// a list of them, or a dict's "cloud-init" entry.
func vendorCloudConfigs(data []byte) []string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	if m, ok := v.(map[string]any); ok {
		v = m["cloud-init"]
	}
	var out []string
	add := func(x any) {
		if s, ok := x.(string); ok && strings.HasPrefix(s, cloudConfigHeader) {
			out = append(out, s)
		}
	}
	if list, ok := v.([]any); ok {
		for _, x := range list {
			add(x)
		}
	} else {
		add(v)
	}
	return out
}

// schema reports a cloud-config's schema errors as problems and its
// deprecations as warnings: `cloud-init schema` accepts deprecated keys, but
// cloud-init logs a WARNING for them at boot, which first-boot refuses.
func (p *Pass) schema(j cloudConfigJob, version string, errs, deprecations []schemaProblem) {
	say := func(sp schemaProblem) (int, string) {
		what := sp.Message
		if first, _, cut := strings.Cut(what, "\n"); cut {
			what = first + " …"
		}
		if sp.Path != "" {
			what = sp.Path + ": " + what
		}
		line := sp.Line
		if j.inJSON && line > 0 {
			what += fmt.Sprintf(" (line %d of its cloud-config)", line)
			line = 0
		}
		return line, what
	}
	for _, sp := range errs {
		line, what := say(sp)
		p.Reportf(j.d, j.drivePath, line, "cloud-init %s schema rejects this cloud-config: %s; the guest would log `Invalid cloud-config provided` and ignore it", version, what)
	}
	for _, sp := range deprecations {
		line, what := say(sp)
		w := p.at(j.d, j.drivePath, line, fmt.Sprintf("cloud-init %s: deprecated in this cloud-config: %s; the guest logs a WARNING for it, which fails first-boot", version, what))
		w.Severity = SeverityWarning
		p.Report(w)
	}
}

// isIfcfg is true for a CentOS/RHEL interface file.
func isIfcfg(guestPath string) bool {
	return strings.HasPrefix(guestPath, "/etc/sysconfig/network-scripts/ifcfg-") && !strings.HasSuffix(guestPath, "ifcfg-lo")
}

// ifcfgFacts wants the node's address, prefix, gateway (and MAC, when the
// file names one) from an ifcfg file, by the keys initscripts reads.
func (p *Pass) ifcfgFacts(j ifcfgJob, v map[string]string) {
	n, net := j.d.Node, p.Topology.Network
	first := func(keys ...string) (string, string) {
		for _, k := range keys {
			if val, ok := v[k]; ok {
				return k, val
			}
		}
		return keys[0], ""
	}
	at := func(key, format string, args ...any) {
		p.Reportf(j.d, j.drivePath, lineOfKey(j.data, key), format, args...)
	}
	if k, boot := first("BOOTPROTO"); boot != "static" && boot != "none" {
		at(k, "%s=%q: the interface would not take the topology's static address %s; say BOOTPROTO=static", k, boot, n.IP)
	}
	// initscripts and NetworkManager take y, true, 1 as yes too; a value
	// neither takes is ifcfgSettings' to report.
	if k, onboot := first("ONBOOT"); onboot == "" || isFalse(onboot) {
		at(k, "%s=%q: the interface would stay down at boot; say ONBOOT=yes", k, onboot)
	}
	if k, addr := first("IPADDR0", "IPADDR"); addr != n.IP.String() {
		at(k, "%s=%q; the topology gives node %s address %s", k, addr, n.Name, n.IP)
	}
	kp, prefix := first("PREFIX0", "PREFIX")
	km, mask := first("NETMASK0", "NETMASK")
	switch p, err := strconv.Atoi(prefix); {
	case prefix == "" && mask == "":
		at(kp, "no PREFIX0 or NETMASK0; the topology's network is %s (/%d)", net.CIDR, net.CIDR.Bits())
	case prefix != "" && (err != nil || p != net.CIDR.Bits()):
		at(kp, "%s=%q; the topology's network is %s (/%d)", kp, prefix, net.CIDR, net.CIDR.Bits())
	case prefix == "" && maskBits(mask) != net.CIDR.Bits():
		at(km, "%s=%q; the topology's network is %s (/%d)", km, mask, net.CIDR, net.CIDR.Bits())
	}
	if k, gw := first("GATEWAY0", "GATEWAY"); gw != net.Gateway.String() {
		at(k, "%s=%q; the topology's gateway is %s", k, gw, net.Gateway)
	}
	if k, mac := first("HWADDR", "MACADDR"); mac != "" && !strings.EqualFold(mac, n.MAC) {
		at(k, "%s=%q; the node's NIC is %s", k, mac, n.MAC)
	}
	if k, dev := first("DEVICE", "NAME"); dev != "" && dev != "eth0" {
		at(k, "%s=%q; the node's NIC is eth0", k, dev)
	}
}

func maskBits(mask string) int {
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return -1
	}
	b := a.As4()
	bits := 0
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			if x&(1<<i) == 0 {
				return bits
			}
			bits++
		}
	}
	return bits
}

var ifcfgKeyRE = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z0-9_]+)=`)

// lineOfKey is the last line assigning key in a shell-style file (the one
// that wins), 0 when none.
func lineOfKey(data []byte, key string) int {
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		if m := ifcfgKeyRE.FindStringSubmatch(line); m != nil && m[1] == key {
			n = i + 1
		}
	}
	return n
}
