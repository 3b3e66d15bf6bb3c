package vl1_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "regenerate testdata/fuzz/FuzzReceive from a harness run")

// TestWriteFuzzSeeds records the datagrams of a short harness run (HELLO,
// OK, WHOIS, RENDEZVOUS, ECHO, fragments) as the seeds of FuzzReceive.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-fuzz-seeds to regenerate the corpus")
	}
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", 0)
	b := h.Add("b", 0)
	var seeds [][]byte
	a.Bind.Tap(func(_ transport.Endpoint, d []byte) { seeds = append(seeds, append([]byte(nil), d...)) })
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	pingUntil(h, a, b, func() bool { return a.DirectPath(b.Address()) }, 20*time.Second)
	a.Send(b.Address(), wire.VerbFRAME, frame(3000), false)
	h.RunFor(time.Second)
	dir := filepath.Join("testdata", "fuzz", "FuzzReceive")
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("harness_%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzReceive feeds arbitrary datagrams to a node and to a root that both
// know a peer: nothing may panic, and both must keep working.
func FuzzReceive(f *testing.F) {
	h := vl1test.New(f, vl1test.Options{})
	a := h.Add("a", 0)
	b := h.Add("b", 0)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	pingUntil(h, b, a, func() bool { return b.DirectPath(a.Address()) }, 20*time.Second)
	root := h.Roots[0]
	from := transport.Endpoint{Addr: b.Endpoint()}
	f.Fuzz(func(t *testing.T, data []byte) {
		root.Receive(from, append([]byte(nil), data...))
		a.Receive(from, data)
	})
}
