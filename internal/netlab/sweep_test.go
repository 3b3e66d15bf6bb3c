package netlab

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestSweep: a namespace named after a process that cannot exist (a PID
// above pid_max) is deleted; one named after this process, alive, is not.
func TestSweep(t *testing.T) {
	New(t) // root and ip, or skip
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	dead := "zte" + strconv.Itoa(pidMax+1) + "n3-sweep"
	live := "zte" + strconv.Itoa(os.Getpid()) + "n99-sweep"
	for _, ns := range []string{dead, live} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v %s", ns, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	sweep(t)
	if _, err := os.Stat("/run/netns/" + dead); !os.IsNotExist(err) {
		t.Errorf("%s, of a process that cannot exist, not swept: %v", dead, err)
	}
	if _, err := os.Stat("/run/netns/" + live); err != nil {
		t.Errorf("%s, of this live process, swept: %v", live, err)
	}
}
