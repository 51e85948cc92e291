// Package configdrive_test is the drive suite: it renders and builds every
// node's config drive for each flavor and proves, with no VM, that the
// drives are what the guests need, using cloud-init's own reader.
package configdrive_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestConfigDrives(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Config drive suite")
}
