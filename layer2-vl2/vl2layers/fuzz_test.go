package vl2layers

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
)

// FuzzDecode decodes data[1:] as the layer type data[0] picks (modulo the
// number of types), through gopacket.NewPacket with panic recovery off and
// through a DecodingLayerParser: nothing may panic or change its input,
// and a layer that decodes must serialize back to the same bytes. Seeds in
// testdata/fuzz/FuzzDecode are the lab capture's payloads.
func FuzzDecode(f *testing.F) {
	types := allTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		lt, payload := types[int(data[0])%len(types)], data[1:]
		orig := slices.Clone(payload)
		p := gopacket.NewPacket(payload, lt, strict)
		if l := p.Layer(lt); l != nil {
			roundTrip(t, l, payload)
		}
		var decoded []gopacket.LayerType
		parser := gopacket.NewDecodingLayerParser(lt, DecodingLayers()...)
		parser.IgnoreUnsupported = true
		_ = parser.DecodeLayers(payload, &decoded)
		if !bytes.Equal(payload, orig) {
			t.Fatalf("decoding changed its input")
		}
	})
}

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzDecode from the lab capture")

// TestFuzzSeeds checks that every VL2 payload of the lab capture is a seed
// of FuzzDecode (its layer type's index, then the payload); with
// -write-fuzz-seeds it writes them.
func TestFuzzSeeds(t *testing.T) {
	index := map[gopacket.LayerType]int{}
	for i, lt := range allTypes() {
		index[lt] = i
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for _, c := range loadCaptured(t) {
		name := filepath.Join(dir, fmt.Sprintf("captured-%03d-%v", c.frame, c.t))
		want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", append([]byte{byte(index[c.t])}, c.data...))
		if *writeSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %s missing or stale (run with -write-fuzz-seeds): %v", name, err)
		}
	}
}
