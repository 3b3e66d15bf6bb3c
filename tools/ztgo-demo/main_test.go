package main

import (
	"bytes"
	"os"
	"os/signal"
	"strings"
	"testing"

	ztcli "github.com/ztgo/ztgo/cli"
	"github.com/ztgo/ztgo/internal/testutil"
)

// TestDemo runs ztgo-demo as `make demo` does: every step must pass.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes ~2 s")
	}
	// The runtime's signal loop starts with the first signal.Notify and
	// lives for the process; start it before counting goroutines.
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	signal.Stop(c)
	testutil.NoGoroutineLeak(t)
	var stdout, stderr bytes.Buffer
	code := ztcli.Tool(command(), []string{"ztgo-demo"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "summary: 10 steps OK") || !strings.Contains(stdout.String(), `200 "Hello from bob`) {
		t.Fatalf("demo failed (%d):\n%s\n%s", code, &stdout, &stderr)
	}
}
