package vm

import (
	"testing"

	"github.com/drivelab/drivelab/framework/config"
)

const capsWithKVM = `<capabilities><host><cpu><arch>x86_64</arch></cpu></host>
<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize><domain type='qemu'/><domain type='kvm'/></arch></guest>
</capabilities>`

const capsTCGOnly = `<capabilities><host><cpu><arch>x86_64</arch></cpu></host>
<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize><domain type='qemu'/></arch></guest>
<guest><os_type>hvm</os_type><arch name='i686'><wordsize>32</wordsize><domain type='qemu'/><domain type='kvm'/></arch></guest>
</capabilities>`

func TestAccelFrom(t *testing.T) {
	for _, tc := range []struct {
		name   string
		caps   string
		device bool
		want   config.Accel
	}{
		{"kvm offered and usable", capsWithKVM, true, config.AccelKVM},
		{"kvm offered, device unusable", capsWithKVM, false, config.AccelTCG},
		{"only i686 has kvm", capsTCGOnly, true, config.AccelTCG},
		{"unreadable capabilities", "<nonsense", true, config.AccelTCG},
	} {
		if got := AccelFrom(tc.caps, tc.device); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestHasVirtFlag(t *testing.T) {
	for cpuinfo, want := range map[string]bool{
		"processor\t: 0\nflags\t\t: fpu vme vmx sse\n":          true,
		"processor\t: 0\nflags\t\t: fpu svm sse\n":              true,
		"processor\t: 0\nflags\t\t: fpu hypervisor sse\n":       false, // kvm_pvm sandboxes
		"processor\t: 0\nvmx flags\t: vnmi\nflags\t\t: fpu sse": false,
		"": false,
	} {
		if got := hasVirtFlag(cpuinfo); got != want {
			t.Errorf("hasVirtFlag(%q) = %v, want %v", cpuinfo, got, want)
		}
	}
}

func TestAccelOverride(t *testing.T) {
	if a, err := Accel(nil, config.AccelTCG); err != nil || a != config.AccelTCG {
		t.Errorf("forced qemu: %s, %v", a, err)
	}
	if _, err := Accel(nil, "xen"); err == nil {
		t.Error("forced xen accepted")
	}
}
