// Package topology loads and validates the lab description: one flat network
// and the nodes on it. It knows nothing of templates, drives or VMs.
package topology

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Topology is a validated lab description.
type Topology struct {
	// Path is the file it was loaded from, for error messages.
	Path    string          `yaml:"-"`
	Network Network         `yaml:"network"`
	Roles   map[string]Role `yaml:"roles"`
	Nodes   []Node          `yaml:"nodes"`
}

// Network is the single flat L2 segment all nodes share.
type Network struct {
	Bridge  string       `yaml:"bridge"`
	CIDR    netip.Prefix `yaml:"cidr"`
	Gateway netip.Addr   `yaml:"gateway"`
	Domain  string       `yaml:"domain"`
}

// Role is what a kind of node carries on its drive.
type Role struct {
	// Files are logical file names resolved by the flavor, in content order.
	Files []string `yaml:"files"`
	// Packages are logical package names resolved by the flavor.
	Packages []string `yaml:"packages"`
	// UserData is the user_data template name inside the flavor.
	UserData string `yaml:"user_data"`
}

// Node is one server of the topology.
type Node struct {
	Name string `yaml:"name"`
	// InstanceName is meta_data's "name"; it defaults to Name.
	InstanceName string     `yaml:"instance_name"`
	Role         string     `yaml:"role"`
	FQDN         string     `yaml:"fqdn"`
	IP           netip.Addr `yaml:"ip"`
	MAC          string     `yaml:"mac"`
	VCPUs        int        `yaml:"vcpus"`
	MemoryMiB    int        `yaml:"memory_mib"`
	Password     string     `yaml:"password"`
	UUID         string     `yaml:"uuid"`

	line int // where the node starts in Path, for messages
}

// Prefix is the node's address with the network's prefix length.
func (n Node) Prefix(nw Network) netip.Prefix {
	return netip.PrefixFrom(n.IP, nw.CIDR.Bits())
}

// ShortName is the first label of the FQDN.
func (n Node) ShortName() string {
	short, _, _ := strings.Cut(n.FQDN, ".")
	return short
}

// Node returns the node with the given name.
func (t *Topology) Node(name string) (Node, bool) {
	i := slices.IndexFunc(t.Nodes, func(n Node) bool { return n.Name == name })
	if i < 0 {
		return Node{}, false
	}
	return t.Nodes[i], true
}

// NodesWithRole returns the nodes of one role, in topology order.
func (t *Topology) NodesWithRole(role string) []Node {
	var out []Node
	for _, n := range t.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out
}

// NodeNames lists every node name, in topology order.
func (t *Topology) NodeNames() []string {
	names := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		names[i] = n.Name
	}
	return names
}

// Load reads and validates a topology file. Every problem found is reported,
// each naming the file, line and node.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return Parse(path, data)
}

// Parse validates topology YAML; path is used only in messages.
func Parse(path string, data []byte) (*Topology, error) {
	t := &Topology{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(t); err != nil {
		return nil, fmt.Errorf("%s: %w (fix the YAML; fields are listed in fixtures/topology.yaml)", path, err)
	}
	// A second pass over the raw document gives each node its line.
	var raw struct {
		Nodes []yaml.Node `yaml:"nodes"`
	}
	if err := yaml.Unmarshal(data, &raw); err == nil && len(raw.Nodes) == len(t.Nodes) {
		for i := range t.Nodes {
			t.Nodes[i].line = raw.Nodes[i].Line
		}
	}
	for i := range t.Nodes {
		if t.Nodes[i].InstanceName == "" {
			t.Nodes[i].InstanceName = t.Nodes[i].Name
		}
		t.Nodes[i].MAC = strings.ToLower(t.Nodes[i].MAC)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

var (
	nameRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// ValidFQDN reports whether s is a lower-case DNS name of at least two labels.
func ValidFQDN(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// Validate checks the whole topology and returns every problem at once.
func (t *Topology) Validate() error {
	var errs []error
	at := func(line int) string {
		if line > 0 {
			return fmt.Sprintf("%s:%d", t.Path, line)
		}
		return t.Path
	}
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at(line), fmt.Sprintf(format, args...)))
	}

	nw := t.Network
	switch {
	case nw.Bridge == "":
		fail(0, "network.bridge is empty; name the Linux bridge the nodes attach to (e.g. br0)")
	case !nw.CIDR.IsValid() || !nw.CIDR.Addr().Is4():
		fail(0, "network.cidr must be an IPv4 prefix such as 192.168.100.0/24")
	case nw.CIDR.Masked() != nw.CIDR:
		fail(0, "network.cidr %s has host bits set; use %s", nw.CIDR, nw.CIDR.Masked())
	case !nw.CIDR.Contains(nw.Gateway):
		fail(0, "network.gateway %s is outside network.cidr %s", nw.Gateway, nw.CIDR)
	}
	if !ValidFQDN("x." + nw.Domain) {
		fail(0, "network.domain %q is not a valid DNS domain", nw.Domain)
	}
	for name, r := range t.Roles {
		if len(r.Files) == 0 {
			fail(0, "role %q lists no files; every node needs at least hosts and network", name)
		}
		if r.UserData == "" {
			fail(0, "role %q has no user_data template", name)
		}
	}
	if len(t.Nodes) == 0 {
		fail(0, "no nodes; add at least one under `nodes:`")
	}

	seen := map[string]map[string]string{"name": {}, "ip": {}, "mac": {}, "fqdn": {}, "uuid": {}}
	unique := func(n Node, field, value string) {
		if value == "" {
			return
		}
		if other, dup := seen[field][value]; dup {
			fail(n.line, "node %q: %s %s is already used by node %q; give each node its own %s", n.Name, field, value, other, field)
			return
		}
		seen[field][value] = n.Name
	}
	for _, n := range t.Nodes {
		if !nameRE.MatchString(n.Name) {
			fail(n.line, "node %q: name must be lower-case letters, digits and '-', starting with a letter", n.Name)
		}
		if _, ok := t.Roles[n.Role]; !ok {
			fail(n.line, "node %q: role %q is not defined under roles (have %s)", n.Name, n.Role, strings.Join(slices.Sorted(maps.Keys(t.Roles)), ", "))
		}
		switch {
		case !ValidFQDN(n.FQDN):
			fail(n.line, "node %q: fqdn %q is not a valid host name (lower-case labels joined by dots)", n.Name, n.FQDN)
		case !strings.HasSuffix(n.FQDN, "."+nw.Domain):
			fail(n.line, "node %q: fqdn %q is not in network.domain %q", n.Name, n.FQDN, nw.Domain)
		}
		switch {
		case !n.IP.IsValid() || !n.IP.Is4():
			fail(n.line, "node %q: ip is missing or not IPv4", n.Name)
		case nw.CIDR.IsValid() && !nw.CIDR.Contains(n.IP):
			fail(n.line, "node %q: ip %s is outside network.cidr %s", n.Name, n.IP, nw.CIDR)
		case n.IP == nw.Gateway:
			fail(n.line, "node %q: ip %s is the gateway's address; pick a free address", n.Name, n.IP)
		case n.IP == nw.CIDR.Masked().Addr() || nw.CIDR.IsValid() && n.IP == broadcast(nw.CIDR):
			fail(n.line, "node %q: ip %s is the network or broadcast address", n.Name, n.IP)
		}
		if hw, err := net.ParseMAC(n.MAC); err != nil || len(hw) != 6 || hw[0]&1 == 1 {
			fail(n.line, "node %q: mac %q is not a unicast Ethernet address such as 52:54:00:64:00:19", n.Name, n.MAC)
		}
		if n.VCPUs < 1 {
			fail(n.line, "node %q: vcpus must be at least 1", n.Name)
		}
		if n.MemoryMiB < 256 {
			fail(n.line, "node %q: memory_mib %d is below 256; the guest cannot boot with less", n.Name, n.MemoryMiB)
		}
		if n.Password == "" {
			fail(n.line, "node %q: password is empty; the password check needs one", n.Name)
		}
		switch {
		case n.UUID == "":
			fail(n.line, "node %q: uuid is missing; cloud-init uses it as the instance-id (generate one with uuidgen)", n.Name)
		case !uuidRE.MatchString(n.UUID):
			fail(n.line, "node %q: uuid %q is not a lower-case RFC 4122 UUID", n.Name, n.UUID)
		}
		unique(n, "name", n.Name)
		unique(n, "ip", n.IP.String())
		unique(n, "mac", n.MAC)
		unique(n, "fqdn", n.FQDN)
		unique(n, "uuid", n.UUID)
	}
	return errors.Join(errs...)
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		bits := min(host, 8)
		a[i] |= byte(1<<bits - 1)
		host -= bits
	}
	return netip.AddrFrom4(a)
}
