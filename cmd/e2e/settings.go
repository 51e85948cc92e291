package main

import (
	"sync"

	"github.com/drivelab/drivelab/framework/config"
)

// settings are the environment's E2E_* settings, read once for the command
// and passed down from here: framework/ reads no environment of its own.
var settings = sync.OnceValues(config.FromEnv)
