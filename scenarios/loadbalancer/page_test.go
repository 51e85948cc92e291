package loadbalancer

import "testing"

// A page names a web node only by its whole FQDN: the services check and
// LintPage must tell web.cloud.org from myweb.cloud.org.
func TestNamesHost(t *testing.T) {
	for _, c := range []struct {
		text, host string
		want       bool
	}{
		{"Greetings from web.cloud.org !", "web.cloud.org", true},
		{"Greetings from web.cloud.org.", "web.cloud.org", true},
		{"<h1>web.cloud.org</h1>", "web.cloud.org", true},
		{"web.cloud.org", "web.cloud.org", true},
		{"Greetings from myweb.cloud.org !", "web.cloud.org", false},
		{"Greetings from my-web.cloud.org !", "web.cloud.org", false},
		{"Greetings from x.web.cloud.org !", "web.cloud.org", false},
		{"Greetings from web.cloud.org.uk !", "web.cloud.org", false},
		{"Greetings from web.cloud.org-2 !", "web.cloud.org", false},
		{"myweb.cloud.org, then web.cloud.org", "web.cloud.org", true},
		{"", "web.cloud.org", false},
	} {
		if got := namesHost(c.text, c.host); got != c.want {
			t.Errorf("namesHost(%q, %q) = %v, want %v", c.text, c.host, got, c.want)
		}
	}
}
