package render_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
)

// FuzzRenderNode: every node the topology accepts renders for both flavors
// into drives the guest reads as the topology says: meta_data's hostname
// and uuid, network_data's address and MAC, and the password handed to the
// setter exactly (make fuzz runs it longer).
func FuzzRenderNode(f *testing.F) {
	f.Add("test2", "test2", "test2", "52:54:00:64:00:19", byte(25))
	f.Add("a", "a-b", "p w;$(touch /tmp/x)", "02:00:00:00:00:01", byte(2))
	f.Add("web9", "web9", `it's "quoted" \ $HOME`, "52:54:00:aa:bb:cc", byte(254))
	f.Add("x", "x", "-n", "52:54:00:64:00:19", byte(30))
	f.Fuzz(func(t *testing.T, name, label, password, mac string, last byte) {
		topo := reference(t)
		n := &topo.Nodes[0]
		n.Name, n.FQDN, n.Password, n.MAC = name, label+".cloud.org", password, mac
		n.InstanceName = name
		n.IP = netip.AddrFrom4([4]byte{192, 168, 100, last})
		if topo.Validate() != nil {
			return
		}
		for _, flavor := range []string{"debian12", "centos7"} {
			ds, err := renderRef(t, render.Input{Topology: topo, Flavor: flavor})
			if err != nil {
				t.Fatalf("%s: a valid topology does not render: %v", flavor, err)
			}
			d := ds[0]
			var meta struct{ Hostname, Name, UUID string }
			if err := json.Unmarshal(d.MetaData, &meta); err != nil || meta.Hostname != n.FQDN || meta.UUID != n.UUID || meta.Name != n.Name {
				t.Errorf("%s: meta_data %s (%v)", flavor, d.MetaData, err)
			}
			if d.NetworkData != nil {
				var nd struct {
					Links []struct {
						EthernetMACAddress string `json:"ethernet_mac_address"`
					}
					Networks []struct {
						IPAddress string `json:"ip_address"`
					}
				}
				if err := json.Unmarshal(d.NetworkData, &nd); err != nil || nd.Links[0].EthernetMACAddress != n.MAC || nd.Networks[0].IPAddress != n.IP.String() {
					t.Errorf("%s: network_data %s (%v)", flavor, d.NetworkData, err)
				}
			}
			got, ok := passwordLine(t, d.UserData)
			want := password + "\n"
			if flavor == "debian12" {
				want = "root:" + want
			}
			if !ok || got != want {
				t.Errorf("%s: the setter reads %q, want %q:\n%s", flavor, got, want, d.UserData)
			}
		}
	})
}

// FuzzTemplate: any overlay template renders or is refused with an error
// naming the node or the template file; nothing panics.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"Greetings from {{.Node.FQDN}} !\n", "{{.Node.Fqdn}}", "{{range .Nodes}}{{.IP}} {{.FQDN}}\n{{end}}", "{{define \"x\"}}{{template \"x\"}}{{end}}{{template \"x\"}}", "{{.Path \"nope\"}}", "{{json .Node}}{{shq .Node.Password}}{{shword .Node.MAC}}{{netmask .Network.CIDR}}",
		// Runaway output is stopped at the limit, and named like any other error.
		"{{range 100000000}}" + strings.Repeat("x", 1024) + "{{end}}"} {
		f.Add(s)
	}
	overlay := f.TempDir()
	page := filepath.Join(overlay, "index.html.tmpl")
	f.Fuzz(func(t *testing.T, tmpl string) {
		if err := os.WriteFile(page, []byte(tmpl), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := render.Render(ctx, render.Input{Topology: reference(t), TemplatesDir: templatesDir, Flavor: "debian12", Overlay: overlay})
		if err == nil {
			return
		}
		var re *render.Error
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "index.html.tmpl") {
			t.Errorf("error not located in the template: %v", err)
		}
	})
}
