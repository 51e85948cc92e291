package loadbalancer

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

func TestCheckHaproxyService(t *testing.T) {
	topo := checktest.Reference(t, root)
	lb := checktest.Node(t, topo, "haproxy")
	cfg := []byte("global\n  daemon\n")
	sums := "3a7b5b2c0f1e5c5d0d3a1c2b9f9c7b1d8e0a2f3c4d5e6f7a8b9c0d1e2f3a4b5c  /tmp/haproxy.cfg\n"
	listen := "LISTEN 0      100    192.168.100.26:80        0.0.0.0:*\n"
	checktest.WantErr(t, checkHaproxyService(lb, cfg, sums, listen), "config other than the injected one")
	good := sha256hex(cfg) + "  /tmp/haproxy.cfg\n"
	checktest.WantErr(t, checkHaproxyService(lb, cfg, good, listen), "")
	checktest.WantErr(t, checkHaproxyService(lb, cfg, good, "LISTEN 0 100 127.0.0.1:8080 0.0.0.0:*\n"), "nothing listens on 192.168.100.26:80")
	if got := haproxyConfigPaths("901 /usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid\n902 haproxy -f /tmp/haproxy.cfg\n"); strings.Join(got, ",") != "/etc/haproxy/haproxy.cfg,/tmp/haproxy.cfg" {
		t.Fatalf("config paths = %v", got)
	}
}

func TestCheckWebPage(t *testing.T) {
	topo := checktest.Reference(t, root)
	web02 := checktest.Node(t, topo, "web02")
	page := "Greetings from web02.cloud.org !\n"
	checktest.WantErr(t, checkWebPage(topo, web02, page, []byte(page)), "")
	checktest.WantErr(t, checkWebPage(topo, web02, "Greetings from web01.cloud.org !\n", nil), "expected it to name web02.cloud.org only")
	checktest.WantErr(t, checkWebPage(topo, web02, "<h1>It works!</h1>", nil), "expected it to name web02.cloud.org only")
	checktest.WantErr(t, checkWebPage(topo, web02, "web02.cloud.org\n", []byte(page)), "differs from the injected index page")
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
