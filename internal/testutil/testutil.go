// Package testutil finds the repository's testdata and decodes the spec's
// known-answer vectors for tests. Only _test.go files import it.
package testutil

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
)

// Root returns the repository root: the nearest directory above the working
// directory that holds go.mod.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testutil: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path joins parts below the repository's testdata directory.
func Path(tb testing.TB, parts ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Root(tb), "testdata"}, parts...)...)
}

// ReadFile returns a file below testdata.
func ReadFile(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(tb, parts...))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Vectors decodes testdata/vectors/<name> into v.
func Vectors(tb testing.TB, name string, v any) {
	tb.Helper()
	if err := json.Unmarshal(ReadFile(tb, "vectors", name), v); err != nil {
		tb.Fatalf("vectors %s: %v", name, err)
	}
}

// Hex decodes a hex string or fails the test.
func Hex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// NoGoroutineLeak fails tb if, when it ends, more goroutines run than when
// this was called (after giving them a few seconds to finish).
func NoGoroutineLeak(tb testing.TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				tb.Errorf("goroutine leak: %d running, %d before\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Serialize builds a packet from gopacket layers with its lengths and
// checksums filled in.
func Serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// SyncBuffer is a bytes.Buffer that goroutines may write while a test
// reads it (a process's output, a logger's lines).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
