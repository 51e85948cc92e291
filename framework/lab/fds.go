package lab

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// keepDescriptorsFromDaemons marks every descriptor this process inherited
// close-on-exec. The daemons the lab starts outlive it; without this they
// would hold whatever the caller left open: a lock taken by flock(1), or the
// write end of a CI runner's output pipe, which then never sees EOF.
func keepDescriptorsFromDaemons() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
