package configdrive

// IsoPath exposes the name mangling to the external tests.
var IsoPath = isoPath
