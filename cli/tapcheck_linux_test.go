package cli

import (
	"os"
	"strings"
	"testing"
)

// TestTapProblem: ztgo run warns unless it can make TAP devices.
func TestTapProblem(t *testing.T) {
	_, err := os.Stat("/dev/net/tun")
	got := tapProblem()
	switch {
	case err != nil:
		if !strings.Contains(got, "no /dev/net/tun") {
			t.Fatalf("tapProblem() = %q without /dev/net/tun", got)
		}
	case os.Geteuid() == 0:
		if got != "" {
			t.Fatalf("tapProblem() = %q as root", got)
		}
	default:
		if hasNetAdmin() == (got != "") {
			t.Fatalf("tapProblem() = %q, CAP_NET_ADMIN %v", got, hasNetAdmin())
		}
	}
}
