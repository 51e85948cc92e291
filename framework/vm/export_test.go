package vm

// GoodInput is a valid BootInput of the fixture topology with every file
// present, for the external tests (fake_test.go).
var GoodInput = goodInput

// WriteFakeSnapshot writes a snapshot with a save image as libvirt lays it
// out, for the external tests.
var WriteFakeSnapshot = writeFakeSnapshot
