package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/netlab"
)

// TestE2EDemoNetns runs `ztgo-demo --netns` with the ztgo beside it, as
// `make build` lays them out: it must succeed and leave no namespace behind.
func TestE2EDemoNetns(t *testing.T) {
	lab := netlab.New(t, "ping")
	dir := t.TempDir()
	for bin, pkg := range map[string]string{"ztgo": "../../cli/ztgo", "ztgo-demo": "."} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, bin), pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", bin, err, out)
		}
	}
	before, _ := lab.Run("", "ip", "netns", "list")
	out, err := lab.Run("", filepath.Join(dir, "ztgo-demo"), "--netns")
	if err != nil || !strings.Contains(out, "steps OK") || !strings.Contains(out, "Hello from bob") {
		t.Fatalf("ztgo-demo --netns: %v\n%s", err, out)
	}
	after, _ := lab.Run("", "ip", "netns", "list")
	for _, line := range strings.Split(after, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "ztd") && !strings.Contains(before, f[0]) {
			t.Fatalf("namespace %s left behind", f[0])
		}
	}
}
