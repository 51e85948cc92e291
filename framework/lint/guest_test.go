package lint

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// The harness's vendor_data as it was before cloud-init's schema was
// checked: every guest logged `Invalid cloud-config provided`. Lint refuses it.
// withCloudInit skips without Debian's cloud-init and loads the reference topology.
func withCloudInit(t *testing.T) *topology.Topology {
	t.Helper()
	err := exec.Command(SystemPython, "-c", "import cloudinit.config.schema").Run()
	testenv.Need(t, err == nil, "Debian's cloud-init is not importable from %s: %v", SystemPython, err)
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestVendorDataSchema(t *testing.T) {
	topo := withCloudInit(t)
	n, _ := topo.Node("web01")
	vendor := func(cc string) []byte {
		b, _ := json.Marshal(map[string]string{"cloud-init": cc})
		return b
	}
	for _, c := range []struct {
		name, cc, want string
	}{
		{"clean", "#cloud-config\ndisable_root: false\nssh_deletekeys: true\n", ""},
		{"empty genkeytypes", "#cloud-config\ndisable_root: false\nssh_genkeytypes: []\n", "ssh_genkeytypes: [] is too short (line 3 of its cloud-config)"},
		{"unknown ssh_keys entry", "#cloud-config\nssh_keys:\n  dsa_privat: x\n", "ssh_keys: 'dsa_privat' does not match any of the regexes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &Pass{Topology: topo, sources: map[string][]string{}}
			p.guest(context.Background(), []render.Drive{{Node: n, UserData: []byte("#!/bin/sh\n"), VendorData: vendor(c.cc), Templates: map[string]string{}}})
			got := p.report.Err()
			switch {
			case c.want == "" && got != nil:
				t.Fatalf("unexpected: %v", got)
			case c.want != "" && (got == nil || !strings.Contains(got.Error(), "node web01: "+render.VendorDataPath+": cloud-init ") || !strings.Contains(got.Error(), c.want)):
				t.Fatalf("error = %v, want it to name %s and %q", got, render.VendorDataPath, c.want)
			}
		})
	}
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{
		`root:web01`:        "root:web01",
		`'root:p w;$(x)'`:   "root:p w;$(x)",
		`"root:a b"`:        "root:a b",
		`root:a   b`:        "root:a b",
		`'root:it'\''s'`:    "",
		`root:$PW`:          "",
		`"root:$PW"`:        "",
		"root:`id`":         "",
		`$(cat /root/pw)`:   "",
		`root:a;touch /tmp`: "",
	} {
		got, ok := shellWord(in)
		if (want == "") == ok || ok && got != want {
			t.Errorf("shellWord(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
