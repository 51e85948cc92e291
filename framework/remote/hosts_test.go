package remote

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testConfig = `# the lab's hosts
Host kvm1
    HostName 10.0.0.1
    User admin
    Port 2222
    IdentityFile ~/.ssh/lab_%r_%h
    IdentityFile "/keys/with space"

Host kvm* !kvm9
    User ignored-for-kvm1
    ProxyJump jumper
    UserKnownHostsFile ~/.ssh/lab_known %d/other

Host kvm9
    HostName %h.example.net

Host jumper
    HostName=bastion.example.net
    User jump
    ProxyJump none   # a jump's own jump is not followed

Host kvm? # one more letter
    Port 2200

Host unpinned
    StrictHostKeyChecking no

Host learning
    StrictHostKeyChecking accept-new

Host badtoken
    IdentityFile ~/.ssh/%C

Host *
    User everyone
    Port 22
`

func testSSHConfig(t *testing.T) SSHConfig {
	t.Helper()
	cfg, err := ParseSSHConfig("/home/me/.ssh/config", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home, cfg.User = t.TempDir(), "me"
	return cfg
}

func TestParseHostsGood(t *testing.T) {
	cfg := testSSHConfig(t)
	home := cfg.Home
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Only existing default keys are offered.
	for _, k := range []string{"id_ed25519", "id_rsa"} {
		if err := os.WriteFile(filepath.Join(home, ".ssh", k), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	jumper := Host{URI: "ssh://jumper", User: "jump", Hostname: "bastion.example.net", Port: "22",
		KeyFiles:   []string{home + "/.ssh/id_ed25519", home + "/.ssh/id_rsa"},
		KnownHosts: []string{home + "/.ssh/known_hosts"}, Name: "bastion.example.net:22"}
	for _, tc := range []struct {
		entry string
		want  Host
	}{
		{"qemu:///system", Host{URI: "qemu:///system", Local: true, Socket: DefaultSocket, Name: "local"}},
		{"local", Host{URI: "local", Local: true, Socket: DefaultSocket, Name: "local"}},
		{"qemu:///system?socket=/run/x.sock", Host{URI: "qemu:///system?socket=/run/x.sock", Local: true, Socket: "/run/x.sock", Name: "local"}},
		// ssh_config fills what the URI leaves out; the URI wins.
		{"qemu+ssh://kvm1/system", Host{URI: "qemu+ssh://kvm1/system", User: "admin", Hostname: "10.0.0.1", Port: "2222",
			KeyFiles:   []string{home + "/.ssh/lab_admin_10.0.0.1", "/keys/with space"},
			KnownHosts: []string{home + "/.ssh/lab_known", home + "/other"},
			ProxyJump:  "jumper", Jumps: []Host{jumper}, Socket: DefaultSocket, Name: "kvm1:2222"}},
		{"qemu+libssh2://root@kvm1:22/system?keyfile=/k&known_hosts=/kh&socket=/s&known_hosts_verify=normal",
			Host{URI: "qemu+libssh2://root@kvm1:22/system?keyfile=/k&known_hosts=/kh&socket=/s&known_hosts_verify=normal",
				User: "root", Hostname: "10.0.0.1", Port: "22", KeyFiles: []string{"/k"}, KnownHosts: []string{"/kh"},
				ProxyJump: "jumper", Jumps: []Host{jumper}, Socket: "/s", Name: "kvm1"}},
		// Negation: kvm9 gets neither the kvm* block nor its jump; %h in HostName.
		{"qemu+ssh://kvm9/system", Host{URI: "qemu+ssh://kvm9/system", User: "everyone", Hostname: "kvm9.example.net", Port: "2200",
			KeyFiles: jumper.KeyFiles, KnownHosts: jumper.KnownHosts, Socket: DefaultSocket, Name: "kvm9:2200"}},
		// accept-new still means pinned: the harness never learns a key.
		{"qemu+libssh://learning/system", Host{URI: "qemu+libssh://learning/system", User: "everyone", Hostname: "learning", Port: "22",
			KeyFiles: jumper.KeyFiles, KnownHosts: jumper.KnownHosts, Socket: DefaultSocket, Name: "learning"}},
		{"qemu+ssh://[fd00::1]:2022/system", Host{URI: "qemu+ssh://[fd00::1]:2022/system", User: "everyone", Hostname: "fd00::1", Port: "2022",
			KeyFiles: jumper.KeyFiles, KnownHosts: jumper.KnownHosts, Socket: DefaultSocket, Name: "[fd00::1]:2022"}},
	} {
		hosts, err := ParseHosts(tc.entry, cfg)
		if err != nil {
			t.Errorf("%s: %v", tc.entry, err)
			continue
		}
		if len(hosts) != 1 || !reflect.DeepEqual(hosts[0], tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.entry, hosts, tc.want)
		}
		if strings.Contains(hosts[0].Name, "/") {
			t.Errorf("%s: name %q has a /", tc.entry, hosts[0].Name)
		}
	}
	hosts, err := ParseHosts("qemu+ssh://a/system, qemu+ssh://a:2022/system,local", cfg)
	if err != nil || len(hosts) != 3 || hosts[1].Name != "a:2022" {
		t.Errorf("a list: %+v, %v", hosts, err)
	}
}

func TestParseHostsBad(t *testing.T) {
	cfg := testSSHConfig(t)
	for _, tc := range []struct {
		list string
		want []string // each in the error
	}{
		{"qemu:///session", []string{`"qemu:///session"`, "/system"}},
		{"qemu+ssh://h/session", []string{`"qemu+ssh://h/session"`, "write .../system"}},
		{"qemu+ssh://h/", []string{"/system"}},
		{"qemu+tcp://h/system", []string{`transport "tcp"`, "use qemu+ssh://h/system"}},
		{"qemu+tls://h/system", []string{`transport "tls"`, "use qemu+ssh"}},
		{"qemu://h/system", []string{"TLS", "use qemu+ssh://h/system"}},
		{"xen+ssh://h/system", []string{`driver "xen"`}},
		{"qemu+ssh://h/system?no_verify=1", []string{"no_verify=1", "never ignores", "ssh-keyscan -H h >> ~/.ssh/known_hosts", "fingerprint"}},
		{"qemu+ssh://h/system?known_hosts_verify=ignore", []string{"known_hosts_verify=ignore", "ssh-keyscan -H h"}},
		{"qemu+ssh://h/system?known_hosts_verify=auto", []string{"known_hosts_verify=auto", "pinned"}},
		{"qemu+ssh://h/system?command=/x&mode=legacy", []string{"parameter command, mode is not supported"}},
		{"qemu:///system?keyfile=/k", []string{"parameter keyfile", "local host"}},
		{"qemu+ssh://h/system?socket=relative", []string{"socket=[relative]", "absolute"}},
		{"qemu+ssh://u:pw@h/system", []string{"password"}},
		{"qemu+ssh://h:99999/system", []string{`port "99999"`}},
		{"qemu+ssh://unpinned/system", []string{`"qemu+ssh://unpinned/system"`, "StrictHostKeyChecking no", "/home/me/.ssh/config:26", "ssh-keyscan -H unpinned"}},
		{"qemu+ssh://badtoken/system", []string{"%C", "not supported", "write the path out"}},
		{"qemu+ssh://a/system,qemu+ssh://x@a:22/system", []string{`"qemu+ssh://x@a:22/system"`, `same host as "qemu+ssh://a/system"`}},
		{"local,qemu:///system", []string{"same host"}},
		{"qemu+ssh://a/system,,", []string{"same host"}},
		{"just-a-name", []string{"not a libvirt URI", "qemu+ssh://"}},
	} {
		_, err := ParseHosts(tc.list, cfg)
		if err == nil {
			t.Errorf("%s: accepted", tc.list)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.list, err, w)
			}
		}
	}
}

func TestSSHConfigRefusesWhatItCannotHonour(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"Host a\n  User x\nMatch host b\n  User y\n", "cfg:3: Match is not supported"},
		{"Include ~/.ssh/config.d/*\n", "cfg:1: Include is not supported"},
		{"Host\n", "cfg:1: Host without a pattern"},
		{"Host a\n  HostName\n", "cfg:2: hostname without a value"},
		{"Host a\n  IdentityFile \"/open\n", "cfg:2: unterminated quote"},
	} {
		_, err := ParseSSHConfig("cfg", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.text, err, tc.want)
		}
	}
}

func TestSSHConfigFirstValueWins(t *testing.T) {
	cfg, err := ParseSSHConfig("cfg", []byte("User top\nHost a b\n  User ab\n  IdentityFile /1\nHost a\n  User a\n  IdentityFile /2\n  Port 1\nHost *\n  Port 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.lookup("a")
	if s.user != "top" || s.port != "1" || !reflect.DeepEqual(s.identityFiles, []string{"/1", "/2"}) {
		t.Errorf("a: %+v", s)
	}
	if s := cfg.lookup("b"); s.port != "2" || !reflect.DeepEqual(s.identityFiles, []string{"/1"}) {
		t.Errorf("b: %+v", s)
	}
}

func TestMatchHost(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		host     string
		want     bool
	}{
		{[]string{"*"}, "x", true},
		{[]string{"kvm?"}, "kvm1", true},
		{[]string{"kvm?"}, "kvm12", false},
		{[]string{"*.lab", "!bad.lab"}, "bad.lab", false},
		{[]string{"*.lab", "!bad.lab"}, "good.lab", true},
		{[]string{"!bad"}, "good", false}, // a negation alone matches nothing
		{[]string{"KVM1"}, "kvm1", true},
		{[]string{"a[1]"}, "a1", false}, // no brackets in ssh patterns
		{[]string{"a[1]"}, "a[1]", true},
	} {
		if got := matchHost(tc.patterns, tc.host); got != tc.want {
			t.Errorf("%v ~ %s: %v, want %v", tc.patterns, tc.host, got, tc.want)
		}
	}
}

func TestLoadSSHConfigMissingFileIsEmpty(t *testing.T) {
	cfg, err := LoadSSHConfig(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(cfg.blocks) != 0 || cfg.Home == "" || cfg.User == "" {
		t.Fatalf("%+v, %v", cfg, err)
	}
}
