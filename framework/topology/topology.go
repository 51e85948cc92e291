// Package topology loads and validates the lab description: one flat network
// and the nodes on it. It knows nothing of templates, drives or VMs.
package topology

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/drivelab/drivelab/framework/inputfile"
	"github.com/drivelab/drivelab/framework/yamlstrict"
)

// Topology is a validated lab description.
type Topology struct {
	// Path is the file it was loaded from, for error messages.
	Path string `yaml:"-"`
	// Network is the one network of the one-network form; after Load, the
	// first of Networks.
	Network Network `yaml:"network"`
	// Networks are the lab's networks (networks.go); Load makes the
	// one-network form's `network:` its only entry.
	Networks []Network `yaml:"networks"`
	// Domain is the nodes' DNS domain (network.domain in the one-network form).
	Domain string          `yaml:"domain"`
	Roles  map[string]Role `yaml:"roles"`
	Nodes  []Node          `yaml:"nodes"`
	// Client names the node the harness enters the lab through: it SSHes to
	// it and jumps from it to every other node, and checks run from it.
	// Rendering and lint need none; booting a lab does (see ClientNode).
	Client string `yaml:"client"`

	fields yamlstrict.Fields // where each field is in Path; nil when not parsed
	legacy bool              // written in the one-network form
}

// Network is one L2 segment: a bridge of its own in each run, its IPv4
// and/or IPv6 network, the router on it if any, and what its nodes are
// told (DNS servers, MTU, extra routes). A tagged network (VLAN) carries
// its frames tagged: its nodes join it through a VLAN NIC.
type Network struct {
	// Name is how NICs name it ("default" in the one-network form).
	Name string `yaml:"name"`
	// Bridge is the runner's bridge in host mode (E2E_LAB_MODE=host); the
	// netns lab names its own. It defaults to br-NAME.
	Bridge   string       `yaml:"bridge"`
	CIDR     netip.Prefix `yaml:"cidr"`
	Gateway  netip.Addr   `yaml:"gateway"`
	CIDR6    netip.Prefix `yaml:"cidr6"`
	Gateway6 netip.Addr   `yaml:"gateway6"`
	DNS      []netip.Addr `yaml:"dns"`
	MTU      int          `yaml:"mtu"`
	VLAN     int          `yaml:"vlan"`
	Routes   []Route      `yaml:"routes"`
	// Domain is the topology's domain, on every network.
	Domain string `yaml:"domain"`
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
	// NICs are the node's interfaces (the several-network form; networks.go).
	NICs []NIC `yaml:"nics"`

	// IP and MAC are, after Load, the node's first IPv4 address and its
	// first physical NIC's MAC: how the others know it.
	// DNS are its networks' DNS servers, in order, once each.
	DNS        []netip.Addr `yaml:"-"`
	legacyAddr bool         // ip or mac written on the node itself
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

// ClientNode is the node named by Client, or an error saying how to name one.
func (t *Topology) ClientNode() (Node, error) {
	if t.Client == "" {
		return Node{}, fmt.Errorf("%s: no `client:` names the node the harness reaches the others through and runs the checks from; add `client: NODE` (fixtures/topology.yaml has client: test2)", t.Path)
	}
	n, ok := t.Node(t.Client)
	if !ok {
		return Node{}, fmt.Errorf("%s: client %q is not a node of the topology (have %s)", t.At("client"), t.Client, strings.Join(t.NodeNames(), ", "))
	}
	return n, nil
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
	if path == "" {
		return nil, errors.New("topology: no file given; pass --topology FILE (fixtures/topology.yaml is the reference)")
	}
	data, err := inputfile.Read(path, "topology", inputfile.MaxTopology)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("topology %s does not exist; pass --topology FILE (fixtures/topology.yaml is the reference)", path)
	}
	if st, serr := os.Stat(path); serr == nil && st.IsDir() {
		return nil, fmt.Errorf("topology %s is a folder; pass the topology file, such as fixtures/topology.yaml", path)
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// At is "file:line" of a field of the topology ("roles.web.files",
// "nodes.2.mac"), or the file alone when the line is unknown.
func (t *Topology) At(key string) string { return t.fields.At(t.Path, key) }

// fieldsHint ends every YAML error of a topology.
const fieldsHint = "fields are listed in fixtures/topology.yaml"

// Parse validates topology YAML; path is used only in messages.
func Parse(path string, data []byte) (*Topology, error) {
	t := &Topology{Path: path}
	fields, err := yamlstrict.Decode(path, data, t, fieldsHint)
	if err != nil {
		return nil, err
	}
	t.fields = fields
	// The decoder truncates 1.5 to 1 for an int field; read the sizes again
	// as written (through aliases and merge keys too): they must be whole.
	var sizes struct {
		Nodes []map[string]any `yaml:"nodes"`
	}
	_ = yaml.Unmarshal(data, &sizes) // it decoded once already
	var errs []error
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.InstanceName == "" {
			n.InstanceName = n.Name
		}
		n.MAC = strings.ToLower(n.MAC)
		for _, f := range []string{"vcpus", "memory_mib"} {
			if i >= len(sizes.Nodes) {
				break
			}
			switch v := sizes.Nodes[i][f].(type) {
			case nil, int, int64, uint64:
			case float64:
				key := fmt.Sprintf("nodes.%d.%s", i, f)
				written := strconv.FormatFloat(v, 'f', -1, 64)
				if v == math.Trunc(v) {
					written = strconv.FormatFloat(v, 'f', 1, 64) // 1.0, not 1
				}
				if n, ok := fields[key]; ok && n.Kind == yaml.ScalarNode {
					written = n.Value // 1.0 as written, not Go's 1
					if n.Style&yaml.TaggedStyle != 0 {
						written = n.Tag + " " + n.Value
					}
				}
				errs = append(errs, fmt.Errorf("%s: node %q: %s %s is not a whole number; write %s", fields.At(path, key), n.Name, f, written, wholeFix(f, v)))
			}
		}
	}
	if _, both := fields["network"]; both && len(t.Networks) > 0 {
		errs = append(errs, fmt.Errorf("%s: both `network:` and `networks:` are given; keep `networks:` and move `network:`'s fields into it (and its domain to a top-level `domain:`)", fields.At(path, "network")))
	}
	for i := range t.Nodes {
		t.Nodes[i].legacyAddr = t.Nodes[i].IP.IsValid() || t.Nodes[i].MAC != ""
	}
	if err := errors.Join(append(errs, t.Validate())...); err != nil {
		return nil, err
	}
	return t, nil
}

// wholeFix is the whole-number spelling to suggest for a size written as
// v: the same number without a fraction, or the next whole one up, never
// below the field's minimum, so the fix passes Validate.
func wholeFix(field string, v float64) string {
	least := 1.0
	if field == "memory_mib" {
		least = 256
	}
	w := math.Max(math.Ceil(v), least)
	if math.IsInf(v, 0) || math.IsNaN(v) || w > 1<<40 {
		w = least
	}
	return fmt.Sprintf("%s: %d", field, int64(w))
}

var (
	nameRE       = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	labelRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	echoOptionRE = regexp.MustCompile(`^-[neE]+$`)
	ifnameRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	uuidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
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

// RequiredFiles are the logical files every role carries: the hosts file
// and the network configuration, which the hosts and static-ip checks
// compare against the topology.
var RequiredFiles = []string{"hosts", "network"}

// Validate checks the whole topology and returns every problem at once.
func (t *Topology) Validate() error {
	var errs []error
	fail := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", t.At(key), fmt.Sprintf(format, args...)))
	}
	t.normalize()
	if !t.legacy {
		t.validateNetworks(fail)
	}
	nw := t.Network
	cidrOK := false
	if t.legacy {
		cidrOK = t.validateNetwork0(fail)
	}
	for _, name := range slices.Sorted(maps.Keys(t.Roles)) {
		r := t.Roles[name]
		key := "roles." + name
		if len(r.Files) == 0 {
			fail(key, "role %q lists no files; every node needs at least %s", name, strings.Join(RequiredFiles, " and "))
		} else {
			for _, f := range RequiredFiles {
				if !slices.Contains(r.Files, f) {
					fail(key+".files", "role %q does not carry the %q file; every node needs it (the checks compare it with the topology): add %s to roles.%s.files", name, f, f, name)
				}
			}
		}
		seen := map[string]bool{}
		for _, f := range r.Files {
			if seen[f] {
				fail(key+".files", "role %q lists file %q twice; list each file once", name, f)
			}
			seen[f] = true
		}
		if r.UserData == "" {
			fail(key, "role %q has no user_data template; set roles.%s.user_data to a template of the flavor, such as user_data.client.tmpl", name, name)
		}
	}
	if len(t.Nodes) == 0 {
		fail("nodes", "no nodes; add at least one under `nodes:`")
	}
	if _, ok := t.Node(t.Client); t.Client != "" && ok && !t.legacy {
		if _, err := t.Hops(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, ok := t.Node(t.Client); t.Client != "" && !ok {
		fail("client", "client %q is not a node of the topology; name the node the harness reaches the others through (have %s)", t.Client, strings.Join(t.NodeNames(), ", "))
	}

	seen := map[string]map[string]string{"name": {}, "ip": {}, "mac": {}, "fqdn": {}, "short name": {}, "uuid": {}}
	for i, n := range t.Nodes {
		nodeFail := func(field, format string, args ...any) {
			key := fmt.Sprintf("nodes.%d", i)
			if field != "" {
				key += "." + field
			}
			fail(key, "node %q: %s", n.Name, fmt.Sprintf(format, args...))
		}
		unique := func(field, key, value, fix string) {
			if value == "" {
				return
			}
			if other, dup := seen[field][value]; dup {
				nodeFail(key, "%s %s is already used by node %q; %s", field, value, other, fix)
				return
			}
			seen[field][value] = n.Name
		}
		if !nameRE.MatchString(n.Name) {
			nodeFail("name", "name must be lower-case letters, digits and '-', starting with a letter (at most 31)")
		}
		if _, ok := t.Roles[n.Role]; !ok {
			nodeFail("role", "role %q is not defined under roles (have %s)", n.Role, strings.Join(slices.Sorted(maps.Keys(t.Roles)), ", "))
		}
		switch {
		case longLabel(n.FQDN) != "":
			nodeFail("fqdn", "fqdn %q: label %q is %d characters; DNS allows at most 63 per label: shorten it", n.FQDN, longLabel(n.FQDN), len(longLabel(n.FQDN)))
		case !ValidFQDN(n.FQDN):
			nodeFail("fqdn", "fqdn %q is not a valid host name (lower-case labels joined by dots)", n.FQDN)
		case len(n.FQDN) > MaxHostname:
			// The guest's hostname is the FQDN (meta_data's hostname);
			// sethostname(2) refuses more than HOST_NAME_MAX.
			nodeFail("fqdn", "fqdn %q is %d characters; the guest's hostname is its FQDN and Linux allows at most %d: shorten the first label or network.domain", n.FQDN, len(n.FQDN), MaxHostname)
		case !strings.HasSuffix(n.FQDN, "."+nw.Domain):
			nodeFail("fqdn", "fqdn %q is not in network.domain %q", n.FQDN, nw.Domain)
		}
		if t.legacy {
			if p := nw.hostProblem(n.IP, cidrOK); p != "" {
				nodeFail("ip", "ip %s; give the node a free host address inside network.cidr", p)
			} else if n.IP == nw.Gateway {
				nodeFail("ip", "ip %s is the gateway's address; pick a free address", n.IP)
			}
			if p := macProblem(n.MAC); p != "" {
				nodeFail("mac", "%s", p)
			}
		}
		switch {
		case n.VCPUs < 1:
			nodeFail("vcpus", "vcpus %d must be at least 1", n.VCPUs)
		case n.VCPUs > MaxVCPUs:
			nodeFail("vcpus", "vcpus %d is more than QEMU gives one guest (%d); lower it", n.VCPUs, MaxVCPUs)
		}
		if n.MemoryMiB < 256 {
			nodeFail("memory_mib", "memory_mib %d is below 256; the guest cannot boot with less", n.MemoryMiB)
		}
		switch {
		case n.Password == "":
			nodeFail("password", "password is empty; the password check needs one")
		case strings.IndexFunc(n.Password, unicode.IsControl) >= 0:
			// passwd --stdin and chpasswd read one line: a newline would cut it.
			nodeFail("password", "password %q holds a control character (newline, tab, ...); the guest reads the password as one line: use printable characters only", n.Password)
		case echoOptionRE.MatchString(n.Password):
			// The seed's user_data pipes `echo PASSWORD`; echo would take this as its option.
			nodeFail("password", "password %q reads as an option of echo in the user_data scripts, which would set an empty password; choose another", n.Password)
		}
		switch {
		case n.UUID == "":
			nodeFail("uuid", "uuid is missing; cloud-init uses it as the instance-id (generate one with uuidgen)")
		case !uuidRE.MatchString(n.UUID):
			nodeFail("uuid", "uuid %q is not a lower-case RFC 4122 UUID (generate one with uuidgen)", n.UUID)
		}
		unique("name", "name", n.Name, "give each node its own name")
		if n.IP.IsValid() && t.legacy {
			unique("ip", "ip", n.IP.String(), "give each node its own ip")
		}
		if t.legacy {
			unique("mac", "mac", n.MAC, "give each node its own mac")
		}
		unique("fqdn", "fqdn", n.FQDN, "give each node its own fqdn")
		if ValidFQDN(n.FQDN) {
			// Hosts files and the guests' hostnames resolve the short name too.
			unique("short name", "fqdn", n.ShortName(), "the hosts files would map it to two addresses: give each node its own first label")
		}
		unique("uuid", "uuid", n.UUID, "give each node its own uuid (uuidgen)")
	}
	return errors.Join(errs...)
}

// validateNetwork0 checks the one-network form's network; cidrOK says
// whether its cidr is one the nodes' addresses can be checked against.
func (t *Topology) validateNetwork0(fail func(key, format string, args ...any)) (cidrOK bool) {
	nw := t.Network
	switch {
	case nw.Bridge == "":
		fail("network.bridge", "network.bridge is empty; name the Linux bridge the nodes attach to (e.g. br0)")
	case !ifnameRE.MatchString(nw.Bridge):
		fail("network.bridge", "network.bridge %q is not a Linux interface name (1-15 letters, digits, '_', '.', '-'), e.g. br0", nw.Bridge)
	}
	switch {
	case !nw.CIDR.IsValid():
		fail("network.cidr", "network.cidr is missing; give the nodes' IPv4 network, such as 192.168.100.0/24")
	case !nw.CIDR.Addr().Is4():
		fail("network.cidr", "network.cidr %s is not IPv4; give an IPv4 prefix such as 192.168.100.0/24", nw.CIDR)
	case nw.CIDR.Masked() != nw.CIDR:
		fail("network.cidr", "network.cidr %s has host bits set; use %s", nw.CIDR, nw.CIDR.Masked())
	case nw.CIDR.Bits() > 30:
		fail("network.cidr", "network.cidr %s leaves no room for a gateway and nodes; use a prefix of /30 or shorter, such as /24", nw.CIDR)
	case specialBlock(nw.CIDR) != "":
		fail("network.cidr", "network.cidr %s overlaps %s; the guests' kernel would not route it on eth0: use a private network such as 192.168.100.0/24", nw.CIDR, specialBlock(nw.CIDR))
	default:
		cidrOK = true
	}
	if p := nw.hostProblem(nw.Gateway, cidrOK); p != "" {
		if cidrOK {
			fail("network.gateway", "network.gateway %s; give the router's host address inside network.cidr, such as %s", p, nw.CIDR.Addr().Next())
		} else {
			// An example from a wrong cidr would be wrong too.
			fail("network.gateway", "network.gateway %s; give the router's host address inside network.cidr", p)
		}
	}
	if !ValidFQDN("x." + nw.Domain) {
		fail("network.domain", "network.domain %q is not a valid DNS domain (lower-case labels joined by dots, e.g. cloud.org)", nw.Domain)
	}
	return cidrOK
}

// hostProblem says what keeps a from being a host address of the network
// ("is missing", "... is outside network.cidr ..."), or "" when it is one.
// Without a valid cidr only the address itself is checked.
func (nw Network) hostProblem(a netip.Addr, cidrOK bool) string {
	switch {
	case !a.IsValid():
		return "is missing"
	case !a.Is4():
		return fmt.Sprintf("%s is not an IPv4 address", a)
	case specialBlock(netip.PrefixFrom(a, 32)) != "":
		return fmt.Sprintf("%s is in %s, not a host address", a, specialBlock(netip.PrefixFrom(a, 32)))
	case !cidrOK:
	case !nw.CIDR.Contains(a):
		return fmt.Sprintf("%s is outside network.cidr %s", a, nw.CIDR)
	case a == nw.CIDR.Addr():
		return fmt.Sprintf("%s is the network address of %s", a, nw.CIDR)
	case a == broadcast(nw.CIDR):
		return fmt.Sprintf("%s is the broadcast address of %s", a, nw.CIDR)
	}
	return ""
}

// MaxHostname is Linux's HOST_NAME_MAX: the longest hostname a guest takes.
const MaxHostname = 64

// specialBlocks are IPv4 blocks no host address on a LAN may come from.
var specialBlocks = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "0.0.0.0/8 (\"this network\", the zero address)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "127.0.0.0/8 (loopback)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "224.0.0.0/4 (multicast)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "240.0.0.0/4 (reserved, with the broadcast address 255.255.255.255)"},
}

// specialBlock names the special block p overlaps, "" when none.
func specialBlock(p netip.Prefix) string {
	for _, b := range specialBlocks {
		if p.Overlaps(b.prefix) {
			return b.what
		}
	}
	return ""
}

// longLabel is the first label of s longer than DNS allows, "" when none.
func longLabel(s string) string {
	for _, l := range strings.Split(s, ".") {
		if len(l) > 63 {
			return l
		}
	}
	return ""
}

// MaxVCPUs is the most vCPUs QEMU's pc machine gives one guest.
const MaxVCPUs = 255

// Host is what the machine running the guests has; the CLI measures it.
type Host struct {
	CPUs      int // logical CPUs
	MemoryMiB int // physical memory (MemTotal)
	// ReservedMiB is kept for the host: guests may have MemoryMiB minus it
	// (config.HostMemoryReserveMiB, what admission leaves too).
	ReservedMiB int
	// MaxVCPUs and MaxMemoryMiB cap every node when set (E2E_MAX_VCPUS,
	// E2E_MAX_MEMORY_MIB), as the boot does.
	MaxVCPUs, MaxMemoryMiB int
}

// VCPUOvercommit is how many vCPUs a node may have per host CPU: the seed's
// 4-vCPU node boots on a 2-core runner, and beyond this a guest's vCPUs only
// wait for each other's host threads.
const VCPUOvercommit = 4

// FitsHost checks the nodes' sizes, after the caps, against the host: no node
// above VCPUOvercommit vCPUs per host CPU or above the host's memory, and
// the guests' memory together within it.
func (t *Topology) FitsHost(h Host) error {
	var errs []error
	total, nodeMem := 0, false
	guests := h.MemoryMiB - h.ReservedMiB // what admission lets runs have
	has := fmt.Sprintf("this host has (%d MiB)", h.MemoryMiB)
	if h.ReservedMiB > 0 {
		has = fmt.Sprintf("this host gives guests (%d MiB: %d MiB less the %d MiB kept for the host)", guests, h.MemoryMiB, h.ReservedMiB)
	}
	for i, n := range t.Nodes {
		vcpus, mem := n.VCPUs, n.MemoryMiB
		if h.MaxVCPUs > 0 {
			vcpus = min(vcpus, h.MaxVCPUs)
		}
		if h.MaxMemoryMiB > 0 {
			mem = min(mem, h.MaxMemoryMiB)
		}
		total += mem
		if h.CPUs > 0 && vcpus > h.CPUs*VCPUOvercommit {
			errs = append(errs, fmt.Errorf("%s: node %q: vcpus %d is more than %d per host CPU on this host of %d CPUs; lower it to at most %d or cap every node with E2E_MAX_VCPUS",
				t.At(fmt.Sprintf("nodes.%d.vcpus", i)), n.Name, vcpus, VCPUOvercommit, h.CPUs, h.CPUs*VCPUOvercommit))
		}
		if h.MemoryMiB > 0 && mem > guests {
			nodeMem = true
			errs = append(errs, fmt.Errorf("%s: node %q: memory_mib %d is more than %s; lower it or cap every node with E2E_MAX_MEMORY_MIB",
				t.At(fmt.Sprintf("nodes.%d.memory_mib", i)), n.Name, mem, has))
		}
	}
	if h.MemoryMiB > 0 && total > guests && !nodeMem {
		errs = append(errs, fmt.Errorf("%s: the nodes ask %d MiB of memory together, more than %s; lower memory_mib or cap every node with E2E_MAX_MEMORY_MIB",
			t.At("nodes"), total, has))
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
