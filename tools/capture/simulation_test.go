package capture

import (
	"bytes"
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer0-transport/memnet"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// TestDecodesSimulationCapture: a pcap written by the in-memory internet
// during a harness run (first contact through a NAT, relayed then direct)
// decodes with every packet authenticated — the simulator and the decoder
// agree on the wire, and `ztdump` can read what a simulation did.
func TestDecodesSimulationCapture(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", memnet.PortRestricted)
	b := h.Add("b", 0)
	var buf bytes.Buffer
	w, err := memnet.NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	a.Host.Capture(w)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	for range 5 {
		a.Ping(b.Address())
		h.RunFor(time.Second)
	}
	a.Send(b.Address(), wire.VerbUSER_MESSAGE, make([]byte, 3000), false) // fragmented
	h.RunFor(time.Second)
	if !a.DirectPath(b.Address()) {
		t.Fatalf("no direct path:\n%s", h.Describe())
	}
	d := NewDecoder(Options{Identities: vl1test.Identities(t)})
	d.AddWorld(h.Planet)
	if err := d.DecodeFile("sim.pcap", bytes.NewReader(buf.Bytes()), func(*Record) {}); err != nil {
		t.Fatal(err)
	}
	d.Finish(func(*Record) {})
	s := d.Summary()
	if s.Failed != 0 || s.NoKey != 0 || s.Authenticated != s.Packets || s.Packets < 10 || s.Fragments == 0 {
		t.Fatalf("summary %+v", s)
	}
	for _, v := range []string{"HELLO", "OK", "WHOIS", "RENDEZVOUS", "ECHO", "USER_MESSAGE"} {
		if s.Verbs[v] == 0 {
			t.Errorf("no %s in %v", v, s.Verbs)
		}
	}
	if s.Other == 0 {
		t.Errorf("the hole-punching junk should count as other: %+v", s)
	}
}
