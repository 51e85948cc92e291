package vm

import (
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// GoodInput is a valid BootInput of the fixture topology with every file
// present, for the external tests (fake_test.go).
var GoodInput = goodInput

// WriteFakeSnapshot writes a snapshot with a save image as libvirt lays it
// out, for the external tests.
var WriteFakeSnapshot = writeFakeSnapshot

// SampleOnce is one sample of dom on conn, as a boot's watch takes it.
func SampleOnce(conn Libvirt, dom libvirt.Domain) (Sample, error) {
	return (&Cluster{conn: conn}).sample(dom, time.Now(), 0)
}
