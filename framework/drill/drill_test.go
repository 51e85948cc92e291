package drill

import (
	"errors"
	"fmt"
	"testing"

	"github.com/drivelab/drivelab/framework/vm"
)

func TestJudge(t *testing.T) {
	panicDrill := Drill{Name: "kernel-panic", Node: "web01", Cause: "guest fault (kernel panic)"}
	hostWide := Drill{Name: "libvirtd-restarted", Node: "test2", Cause: "lost the connection to libvirtd", HostWide: true}
	on := func(node, msg string) error {
		return fmt.Errorf("boot: %w", &vm.BootError{Node: node, Cause: errors.New(msg)})
	}
	for _, tc := range []struct {
		name          string
		d             Drill
		err           error
		caught, wrong string
	}{
		{"right cause, right node", panicDrill, on("web01", "guest fault (kernel panic)"), "kernel panic", ""},
		{"wrong cause", panicDrill, on("web01", "stuck: no progress"), "", `wrong cause: want "guest fault (kernel panic)"`},
		{"wrong node", panicDrill, on("web02", "guest fault (kernel panic)"), "", "blamed node web02, want web01"},
		{"host-wide, any node", hostWide, on("web02", "lost the connection to libvirtd"), "lost the connection to libvirtd", ""},
		{"no error", panicDrill, nil, "", ""},
	} {
		caught, wrong := judge(tc.d, tc.err)
		if caught != tc.caught || wrong != tc.wrong {
			t.Errorf("%s: judge = %q, %q; want %q, %q", tc.name, caught, wrong, tc.caught, tc.wrong)
		}
	}
}
