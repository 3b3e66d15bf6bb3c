package cli

import (
	"os"
	"os/signal"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
)

// TestDemo runs `ztgo demo` as `make demo` does: every step must pass.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes ~15 s")
	}
	// The runtime's signal loop starts with the first signal.Notify and
	// lives for the process; start it before counting goroutines.
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	signal.Stop(c)
	testutil.NoGoroutineLeak(t)
	r := run(t, "demo")
	if r.code != 0 || !strings.Contains(r.stdout, "summary: 10 steps OK") || !strings.Contains(r.stdout, `200 "Hello from bob`) {
		t.Fatalf("demo failed (%d):\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
