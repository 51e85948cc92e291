package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

func init() {
	register(command{
		name:    "lab up",
		summary: "create the lab: netns, bridge, virtlogd and libvirtd inside it (idempotent)",
		run: func(ctx context.Context, args []string) error {
			env, err := settings()
			if err != nil {
				return err
			}
			fs := newFlags("lab up")
			cfg := labFlags(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			c, err := cfg()
			if err != nil {
				return err
			}
			if local, err := harness.UsesThisMachine(env); err != nil || !local {
				if err == nil {
					fmt.Println("lab: nothing to bring up here: the hosts (E2E_HOSTS) are remote, and each run makes its network there")
				}
				return err
			}
			return lab.Up(ctx, c)
		},
	})
	register(command{
		name:    "lab down",
		summary: "stop the lab's daemons and delete its netns (after `e2e down`)",
		run: func(ctx context.Context, args []string) error {
			fs := newFlags("lab down")
			cfg := labFlags(fs)
			force := fs.Bool("force", false, "kill processes still running in the netns (guests) instead of refusing")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			c, err := cfg()
			if err != nil {
				return err
			}
			if !*force {
				if err := refuseWhileDomains(ctx, c); err != nil {
					return err
				}
			}
			return lab.Down(ctx, c, *force)
		},
	})
}

// refuseWhileDomains fails while the harness has domains, running or not:
// they would outlive the lab's libvirtd and bridge.
func refuseWhileDomains(ctx context.Context, c lab.Config) error {
	conn, err := vm.Connect(ctx, c.LibvirtSocket)
	if err != nil {
		return nil // no libvirtd: nothing to ask, lab.Down checks the netns itself
	}
	defer conn.Disconnect()
	names, err := vm.Domains(conn)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("the harness still has %d domain(s) (%s): remove them with `e2e down` first, or take the lab down anyway with --force",
			len(names), strings.Join(names, ", "))
	}
	return nil
}

// labFlags adds the flags that locate the lab and returns its config once parsed.
func labFlags(fs *flag.FlagSet) func() (lab.Config, error) {
	topo := fs.String("topology", "fixtures/topology.yaml", "topology file; its network gives the bridge and gateway")
	mode := fs.String("mode", "", "netns (create the lab) or host (use this host's libvirtd and bridge); default $E2E_LAB_MODE or netns")
	netns := fs.String("netns", "drivelab", "network namespace of the lab")
	return func() (lab.Config, error) {
		t, err := topology.Load(*topo)
		if err != nil {
			return lab.Config{}, err
		}
		env, err := settings()
		if err != nil {
			return lab.Config{}, err
		}
		c, err := lab.DefaultConfig(env, t)
		if err != nil {
			return c, err
		}
		if *mode != "" {
			c.Mode = lab.Mode(*mode)
		}
		c.Namespace = *netns
		c.Progress = os.Stdout
		return c, nil
	}
}
