package lint_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/drivelab/drivelab/framework/harness/linttest"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/testenv"
)

// Every fact the topology determines is read back from the drive the way the
// guest reads it, and a wrong one names node, template, line and the fact.
func TestLintReadsFactsAsTheGuestDoes(t *testing.T) {
	metaData := func(hostname, uuid string) string {
		return `{"files": [{{range $i, $f := .Files}}{{if $i}},{{end}}{"path": {{json $f.Path}}, "content_path": {{json $f.ContentPath}}}{{end}}],
"hostname": ` + hostname + `,
"launch_index": 0, "name": {{json .Node.InstanceName}},
"uuid": ` + uuid + `}
`
	}
	cases := []struct {
		name, flavor string
		files        map[string]string
		node, file   string
		line         int // expected line in file; 0: any
		msg          string
		cloudInit    bool // needs the host's cloud-init
		warning      bool // a warning, not a problem
	}{
		{
			name: "network_data: wrong gateway", flavor: "debian12", cloudInit: true,
			files: map[string]string{"nodes/web02/network_data.json.tmpl": linttest.Template(t, root, "debian12", "network_data.json.tmpl", `"gateway": {{json $s.Gateway}}`, `"gateway": "192.168.100.254"`)},
			node:  "web02", file: "nodes/web02/network_data.json.tmpl", line: 41,
			msg: "cloud-init sets default gateway 192.168.100.254 on eth0; the topology's gateway is 192.168.100.1",
		},
		{
			name: "network_data: wrong netmask", flavor: "debian12", cloudInit: true,
			files: map[string]string{"nodes/web01/network_data.json.tmpl": linttest.Template(t, root, "debian12", "network_data.json.tmpl", `{{json (netmask $s.Prefix)}}`, `"255.255.0.0"`)},
			node:  "web01", file: "nodes/web01/network_data.json.tmpl",
			msg: "cloud-init gives eth0 prefix /16; the topology's network is 192.168.100.0/24 (/24)",
		},
		{
			name: "network_data: wrong address", flavor: "debian12", cloudInit: true,
			files: map[string]string{"nodes/test2/network_data.json.tmpl": linttest.Template(t, root, "debian12", "network_data.json.tmpl", `{{json $s.Addr}}`, `"192.168.100.99"`)},
			node:  "test2", file: "nodes/test2/network_data.json.tmpl", line: 38,
			msg: "cloud-init gives eth0 address 192.168.100.99; the topology says 192.168.100.25",
		},
		{
			name: "network_data: wrong MAC", flavor: "debian12", cloudInit: true,
			files: map[string]string{"nodes/web01/network_data.json.tmpl": linttest.Template(t, root, "debian12", "network_data.json.tmpl", `"ethernet_mac_address": {{json $c.HWAddr}}`, `"ethernet_mac_address": "52:54:00:64:00:99"`)},
			node:  "web01", file: "nodes/web01/network_data.json.tmpl",
			msg: "cannot apply openstack/latest/network_data.json on a guest whose NIC is 52:54:00:64:00:1b: ValueError: Unable to find a system nic",
		},
		{
			name: "network_data: default route as a route", flavor: "debian12", cloudInit: true,
			files: map[string]string{"network_data.json.tmpl": linttest.Template(t, root, "debian12", "network_data.json.tmpl", `"gateway": {{json $s.Gateway}}`,
				`"routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": {{json $.Network.Gateway}}}]`)},
			node: "haproxy", file: "network_data.json.tmpl",
			msg: "only as `post-up route add ... || true`, which does nothing without net-tools",
		},
		{
			name: "network_data: no gateway", flavor: "debian12", cloudInit: true,
			files: map[string]string{"network_data.json.tmpl": linttest.Template(t, root, "debian12", "network_data.json.tmpl", `{{- if $s.Gateway.IsValid}},
            "gateway": {{json $s.Gateway}}
{{- end}}`, ``)},
			node: "web01", file: "network_data.json.tmpl",
			msg: "cloud-init sets no default gateway on eth0; the topology's gateway is 192.168.100.1",
		},
		{
			name: "ifcfg: wrong gateway", flavor: "centos7", cloudInit: true,
			files: map[string]string{"nodes/web02/ifcfg-eth0.tmpl": linttest.Template(t, root, "centos7", "ifcfg-eth0.tmpl", "GATEWAY0={{.Network.Gateway}}", "GATEWAY0=192.168.100.254")},
			node:  "web02", file: "nodes/web02/ifcfg-eth0.tmpl", line: 17,
			msg: `GATEWAY0="192.168.100.254"; the topology's gateway is 192.168.100.1`,
		},
		{
			name: "ifcfg: wrong prefix", flavor: "centos7", cloudInit: true,
			files: map[string]string{"ifcfg-eth0.tmpl": linttest.Template(t, root, "centos7", "ifcfg-eth0.tmpl", "PREFIX0={{.Network.CIDR.Bits}}", `PREFIX0="16"`)},
			node:  "haproxy", file: "ifcfg-eth0.tmpl", line: 16,
			msg: `PREFIX0="16"; the topology's network is 192.168.100.0/24 (/24)`,
		},
		{
			name: "ifcfg: wrong address and MAC", flavor: "centos7", cloudInit: true,
			files: map[string]string{"nodes/web01/ifcfg-eth0.tmpl": linttest.Template(t, root, "centos7", "ifcfg-eth0.tmpl", "IPADDR0={{.Node.IP}}", "IPADDR0=192.168.100.28\nHWADDR=52:54:00:64:00:1c")},
			node:  "web01", file: "nodes/web01/ifcfg-eth0.tmpl", line: 16,
			msg: `HWADDR="52:54:00:64:00:1c"; the node's NIC is 52:54:00:64:00:1b`,
		},
		{
			name: "ifcfg: dhcp", flavor: "centos7", cloudInit: true,
			files: map[string]string{"ifcfg-eth0.tmpl": linttest.Template(t, root, "centos7", "ifcfg-eth0.tmpl", "BOOTPROTO=static", "BOOTPROTO=dhcp")},
			node:  "test2", file: "ifcfg-eth0.tmpl", line: 2,
			msg: `BOOTPROTO="dhcp": the interface would not take the topology's static address 192.168.100.25`,
		},
		{
			name: "user_data cloud-config fails the schema", flavor: "debian12", cloudInit: true,
			files: map[string]string{"nodes/test2/user_data.client.tmpl": "#cloud-config\nchpasswd:\n  users: [{name: root, password: {{.Node.Password}}}]\nssh_genkeytypes: []\n"},
			node:  "test2", file: "nodes/test2/user_data.client.tmpl", line: 4,
			msg: "cloud-init 22.4.2 schema rejects this cloud-config: ssh_genkeytypes: [] is too short",
		},
		{
			name: "user_data cloud-config is not YAML", flavor: "debian12", cloudInit: true,
			files: map[string]string{"nodes/test2/user_data.client.tmpl": "#cloud-config\nchpasswd: {users: [{name: root, password: {{.Node.Password}}}]\n"},
			node:  "test2", file: "nodes/test2/user_data.client.tmpl",
			msg: "not valid cloud-config YAML",
		},
		{
			name: "user_data cloud-config deprecated key", flavor: "debian12", cloudInit: true, warning: true,
			files: map[string]string{"nodes/test2/user_data.client.tmpl": "#cloud-config\nchpasswd:\n  expire: false\n  list: |\n    root:{{.Node.Password}}\n"},
			node:  "test2", file: "nodes/test2/user_data.client.tmpl", line: 4,
			msg: "deprecated in this cloud-config: chpasswd.list: DEPRECATED",
		},
		{
			name: "meta_data hostname", flavor: "debian12",
			files: map[string]string{"nodes/web01/meta_data.json.tmpl": metaData(`"web0l.cloud.org"`, `{{json .Node.UUID}}`)},
			node:  "web01", file: "nodes/web01/meta_data.json.tmpl", line: 2,
			msg: `hostname "web0l.cloud.org"; the topology names node web01 web01.cloud.org`,
		},
		{
			name: "meta_data uuid", flavor: "centos7",
			files: map[string]string{"nodes/web02/meta_data.json.tmpl": metaData(`{{json .Node.FQDN}}`, `"9478337b-b970-4cfe-ad07-53c8b99c831d"`)},
			node:  "web02", file: "nodes/web02/meta_data.json.tmpl", line: 4,
			msg: "uuid 9478337b-b970-4cfe-ad07-53c8b99c831d; the topology gives node web02 uuid 0b7e4bd6-3c1f-4a8e-9d52-6f1f0c2a7e28",
		},
		{
			name: "password: another one", flavor: "debian12",
			files: map[string]string{"nodes/test2/user_data.client.tmpl": "#!/bin/bash\nset -euo pipefail\necho 'root:123456' | chpasswd\n"},
			node:  "test2", file: "nodes/test2/user_data.client.tmpl", line: 3,
			msg: "user_data sets root's password to something other than node test2's password in the topology",
		},
		{
			name: "password: centos7 passwd --stdin", flavor: "centos7",
			files: map[string]string{"nodes/web01/user_data.web.tmpl": linttest.Template(t, root, "centos7", "user_data.web.tmpl", "echo {{shword .Node.Password}} | passwd", "echo web02 | passwd")},
			node:  "web01", file: "nodes/web01/user_data.web.tmpl",
			msg: "user_data sets root's password to something other than node web01's password",
		},
		{
			name: "password: a shell expression", flavor: "centos7",
			files: map[string]string{"nodes/haproxy/user_data.loadbalancer.tmpl": linttest.Template(t, root, "centos7", "user_data.loadbalancer.tmpl", "echo {{shword .Node.Password}} | passwd", "echo $(cat /root/pw) | passwd")},
			node:  "haproxy", file: "nodes/haproxy/user_data.loadbalancer.tmpl", line: 2,
			msg: "root's password is a shell expression lint cannot read",
		},
		{
			name: "password: not set", flavor: "debian12",
			files: map[string]string{"user_data.client.tmpl": "#!/bin/bash\ntrue\n"},
			node:  "test2", file: "user_data.client.tmpl",
			msg: "user_data sets no root password lint can read",
		},
		{
			name: "password: cloud-config", flavor: "debian12",
			files: map[string]string{"user_data.client.tmpl": "#cloud-config\nchpasswd:\n  users: [{name: root, password: nope, type: text}]\n"},
			node:  "test2", file: "user_data.client.tmpl",
			msg: "user_data sets root's password to something other than node test2's password",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each case waits mostly on Python and haproxy
			if c.cloudInit {
				testenv.Need(t, haveCloudInit(), "Debian's cloud-init is not importable from %s", lint.SystemPython)
			}
			r, dir := run(t, c.flavor, c.files)
			found := r.Errors()
			if c.warning {
				found = r.Warnings()
				if err := r.Err(); err != nil {
					t.Errorf("a deprecation must not fail lint: %v", err)
				}
			}
			prefix := "node " + c.node + ": " + filepath.Join(dir, c.file)
			if c.line > 0 {
				prefix += ":" + itoa(c.line) + ": "
			}
			if ok, all := linttest.Find(found, prefix, c.msg); !ok {
				t.Errorf("no problem starting %q and containing %q in:\n%s", prefix, c.msg, all)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
