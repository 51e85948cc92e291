package vm

// GoodInput is a valid BootInput of the fixture topology with every file
// present, for the external tests (fake_test.go).
var GoodInput = goodInput
