package loadbalancer

import (
	"context"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
)

// LintPage is the web nodes' lint rule: a web node's page names that node's
// FQDN and no other web node's, each as a whole word, as the services
// check tells the web nodes apart by it.
func LintPage(_ context.Context, p *lint.Pass) {
	for _, d := range p.Drives {
		for _, c := range d.Content {
			if c.Name != indexPageFile || c.Data == nil {
				continue
			}
			var named []string
			for _, n := range p.Topology.NodesWithRole(RoleWeb) {
				if namesHost(string(c.Data), n.FQDN) {
					named = append(named, n.FQDN)
				}
			}
			if len(named) != 1 || named[0] != d.Node.FQDN {
				p.Reportf(d, render.ContentFile(c.ContentPath), firstLineNaming(c.Data, named), "the page names %s; it must name %s only (the services check tells the web nodes apart by it)", orNoWebNode(named), d.Node.FQDN)
			}
		}
	}
}

func firstLineNaming(data []byte, names []string) int {
	for _, n := range names {
		if line := render.LineOf(data, n); line > 0 {
			return line
		}
	}
	return 0
}

func orNoWebNode(names []string) string {
	if len(names) == 0 {
		return "no web node"
	}
	return strings.Join(names, ", ")
}
