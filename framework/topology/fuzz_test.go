package topology_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/drivelab/drivelab/framework/topology"
)

// FuzzParse: any bytes are refused with a message naming the file, or give
// a topology that holds what Validate promises (make fuzz runs it longer).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../fixtures/bad/*/topology.yaml")
	seeds = append(seeds, "../../fixtures/topology.yaml", "../../fixtures/topology-web3.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topology.Parse("t.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "t.yaml") {
				t.Fatalf("the error does not start with the file: %v", err)
			}
			return
		}
		if err := topo.Validate(); err != nil {
			t.Fatalf("accepted, then Validate fails: %v", err)
		}
		nw := topo.Network
		seen := map[string]bool{}
		for _, n := range topo.Nodes {
			hw, err := net.ParseMAC(n.MAC)
			if err != nil || hw.String() != n.MAC {
				t.Errorf("node %s: mac %q accepted in another form than %q", n.Name, n.MAC, hw)
			}
			if !nw.CIDR.Contains(n.IP) || n.IP == nw.Gateway || n.IP == nw.CIDR.Addr() {
				t.Errorf("node %s: ip %s accepted", n.Name, n.IP)
			}
			if strings.IndexFunc(n.Password, unicode.IsControl) >= 0 || n.VCPUs < 1 || n.MemoryMiB < 256 {
				t.Errorf("node %s accepted: %+v", n.Name, n)
			}
			for _, k := range []string{"n" + n.Name, "i" + n.IP.String(), "m" + n.MAC, "s" + n.ShortName(), "u" + n.UUID} {
				if seen[k] {
					t.Errorf("node %s: %s is used twice", n.Name, k[1:])
				}
				seen[k] = true
			}
		}
		if nw.Gateway == nw.CIDR.Addr() || !nw.CIDR.Contains(nw.Gateway) {
			t.Errorf("gateway %s accepted for %s", nw.Gateway, nw.CIDR)
		}
		for name, r := range topo.Roles {
			for _, f := range topology.RequiredFiles {
				if !strings.Contains(" "+strings.Join(r.Files, " ")+" ", " "+f+" ") {
					t.Errorf("role %s accepted without %s", name, f)
				}
			}
		}
	})
}
