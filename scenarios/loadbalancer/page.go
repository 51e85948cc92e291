package loadbalancer

import (
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
)

// indexPageFile is the topology's logical name for the web nodes' page.
const indexPageFile = "index-page"

// pageOwner returns the single web node whose FQDN the page names, or "".
func pageOwner(topo *topology.Topology, page string) string {
	owner := ""
	for _, n := range topo.NodesWithRole(RoleWeb) {
		if namesHost(page, n.FQDN) {
			if owner != "" {
				return ""
			}
			owner = n.Name
		}
	}
	return owner
}

// namesHost reports whether text names host as a whole word: not as part
// of a longer name (web1.cloud.org in myweb1.cloud.org or
// web1.cloud.org.uk); a sentence's full stop after it still counts.
func namesHost(text, host string) bool {
	label := func(i int) bool {
		if i < 0 || i >= len(text) {
			return false
		}
		c := text[i]
		return c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for from := 0; host != ""; {
		i := strings.Index(text[from:], host)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(host)
		before := label(start-1) || start > 0 && text[start-1] == '.'
		after := label(end) || end < len(text) && text[end] == '.' && label(end+1)
		if !before && !after {
			return true
		}
		from = start + 1
	}
	return false
}
