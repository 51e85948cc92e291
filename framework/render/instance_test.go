package render_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
)

// A node given a new uuid carries exactly what rendering with that uuid
// gives, also through a template that prints .Node.UUID (the self-test's
// meta_data.json.tmpl); the other nodes and the result given stay as they were.
func TestReinstancedIsARenderingWithTheNewUUID(t *testing.T) {
	const fresh = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
	for _, c := range []struct{ flavor, overlay string }{{"debian12", ""}, {"centos7", ""}, {"debian12", "../../fixtures/selftest/hostname-typo"}, {"debian12-nova", ""}} {
		t.Run(c.flavor+c.overlay, func(t *testing.T) {
			in := render.Input{Topology: reference(t), TemplatesDir: templatesDir, Flavor: c.flavor, Overlay: c.overlay}
			res, err := render.Render(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			old := res.Drives[2].Node.UUID
			got, err := res.Reinstanced(map[string]string{"web01": fresh})
			if err != nil {
				t.Fatal(err)
			}
			topo := *in.Topology
			topo.Nodes = slices.Clone(topo.Nodes)
			topo.Nodes[2].UUID = fresh
			in.Topology = &topo
			want, err := render.Render(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range got.Drives {
				if !reflect.DeepEqual(d.Node, want.Drives[i].Node) || !sameFiles(d, want.Drives[i]) {
					t.Errorf("%s: reinstanced drive differs from a rendering with the new uuid", d.Node.Name)
				}
			}
			if n, _ := got.Topology.Node("web01"); n.UUID != fresh {
				t.Errorf("result's topology: web01 uuid %s", n.UUID)
			}
			var meta struct{ UUID string }
			if err := json.Unmarshal(got.Drives[2].MetaData, &meta); err != nil || meta.UUID != fresh {
				t.Errorf("web01 meta_data uuid %q (%v)", meta.UUID, err)
			}
			if res.Drives[2].Node.UUID != old || !bytes.Contains(res.Drives[2].MetaData, []byte(old)) {
				t.Error("Reinstanced changed the result it was given")
			}
		})
	}
}

func sameFiles(a, b render.Drive) bool {
	fa, fb := a.Files(), b.Files()
	return slices.EqualFunc(fa, fb, func(x, y render.File) bool { return x.Path == y.Path && bytes.Equal(x.Data, y.Data) })
}

// A uuid that is not one, a node with no drive, and a meta_data that does
// not carry the node's uuid as written are refused: a reboot would not run
// as a new instance.
func TestReinstancedRefuses(t *testing.T) {
	overlay := writeFiles(t, map[string]string{"nodes/web02/" + render.MetaDataTemplate: `{"uuid": {{json (print .Node.UUID "-x")}}, "hostname": {{json .Node.FQDN}}}` + "\n"})
	res, err := render.Render(context.Background(), render.Input{Topology: reference(t), TemplatesDir: templatesDir, Flavor: "debian12", Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	for uuids, want := range map[string]string{
		"web01=0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9": "is not a lower-case RFC 4122 UUID",
		"web09=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9": "node web09 has no drive",
		"web02=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9": "node web02: openstack/latest/meta_data.json does not carry its uuid",
	} {
		node, uuid, _ := strings.Cut(uuids, "=")
		if _, err := res.Reinstanced(map[string]string{node: uuid}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v, want %q", uuids, err, want)
		}
	}
}

// Text that quotes a drive loses every line of the private keys it
// carries, in the JSON of vendor_data too; other text stays.
func TestRedactorRemovesKeyLines(t *testing.T) {
	topo := reference(t)
	access := &render.Access{AuthorizedKeys: []string{newHostKey(t).Public}, HostKeys: map[string]render.HostKey{}}
	for _, n := range topo.Nodes {
		access.HostKeys[n.Name] = newHostKey(t)
	}
	res, err := render.Render(context.Background(), render.Input{Topology: topo, TemplatesDir: templatesDir, Flavor: "debian12", Access: access})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Redactor()
	for _, d := range res.Drives {
		key := access.HostKeys[d.Node.Name].Private
		got := r.Replace("vendor_data: " + string(d.VendorData) + "\nraw: " + key)
		lines := strings.Split(strings.TrimSpace(key), "\n")
		for _, l := range lines[1 : len(lines)-1] {
			if strings.Contains(got, l) {
				t.Errorf("%s: key line %q survives:\n%s", d.Node.Name, l, got)
			}
		}
		if !strings.Contains(got, render.RedactedKey) || !strings.Contains(got, `"cloud-init"`) || !strings.HasPrefix(got, "vendor_data: ") {
			t.Errorf("%s: redacted too much or nothing:\n%s", d.Node.Name, got)
		}
	}
	if got := r.Replace(string(res.Drives[1].UserData)); got != string(res.Drives[1].UserData) {
		t.Error("text without a key changed")
	}
}
