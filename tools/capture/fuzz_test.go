package capture

import (
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
)

// FuzzDecodeFrame feeds raw Ethernet frames to a decoder that holds the lab
// identities: nothing may panic, and every frame gives records.
func FuzzDecodeFrame(f *testing.F) {
	ids, err := LoadIdentities(testutil.Path(f, "captures", "basic"))
	if err != nil {
		f.Fatal(err)
	}
	d := NewDecoder(Options{Identities: ids})
	f.Fuzz(func(t *testing.T, frame []byte) {
		n := 0
		d.frame(&Record{Frame: 1}, layers.LinkTypeEthernet, frame, func(*Record) { n++ })
		if n == 0 {
			t.Fatal("frame produced no record")
		}
	})
}
