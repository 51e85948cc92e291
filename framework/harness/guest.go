package harness

import (
	"fmt"

	"github.com/drivelab/drivelab/framework/image"
	"github.com/drivelab/drivelab/framework/vm"
)

// GuestInput selects what the nodes boot and which packages their drives carry.
type GuestInput struct {
	// CacheDir holds the built image; used when UserImage is empty.
	CacheDir string
	// UserImage is a bootable qcow2 or raw cloud image booted from its own disk.
	UserImage string
	// PackageDir overrides the built bundles (a user image's flavor brings its own).
	PackageDir string
}

// Guest resolves the image and package directory, failing with what to do
// when the built image is missing or a user image is not a disk image.
func Guest(in GuestInput) (vm.Image, string, error) {
	if in.UserImage != "" {
		if _, err := image.Inspect(in.UserImage); err != nil {
			return vm.Image{}, "", err
		}
		if in.PackageDir == "" {
			return vm.Image{}, "", fmt.Errorf("--image %s needs --packages DIR with the package files its flavor names (the packages: of the flavor's flavor.yaml, e.g. fixtures/templates/centos7/flavor.yaml)", in.UserImage)
		}
		return vm.Image{Disk: in.UserImage}, in.PackageDir, nil
	}
	a, err := image.Lookup(in.CacheDir)
	if err != nil {
		return vm.Image{}, "", err
	}
	pkgs := a.PackageDir
	if in.PackageDir != "" {
		pkgs = in.PackageDir
	}
	return vm.Image{Disk: a.Disk, Kernel: a.Kernel, Initrd: a.Initrd, Cmdline: a.Cmdline}, pkgs, nil
}
