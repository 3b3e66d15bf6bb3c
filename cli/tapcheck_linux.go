package cli

import (
	"os"
	"strconv"
	"strings"
)

// tapProblem says why this process cannot make TAP devices, or "" when it
// can as far as one can tell without making one: /dev/net/tun must exist
// and the process needs CAP_NET_ADMIN (root has it).
func tapProblem() string {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return "no /dev/net/tun (load the tun module; in a container, pass the device)"
	}
	if !hasNetAdmin() {
		return "not root and no CAP_NET_ADMIN"
	}
	return ""
}

// hasNetAdmin reads the effective capabilities from /proc/self/status.
func hasNetAdmin() bool {
	const capNetAdmin = 12
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<capNetAdmin) != 0
		}
	}
	return os.Geteuid() == 0
}
