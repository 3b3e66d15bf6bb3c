package capture

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite the fuzz seed corpora of wire, identity and capture from the lab capture")

// TestFuzzSeeds builds fuzz seed corpora from real captured traffic: with
// -write-fuzz-seeds it writes them into each package's testdata/fuzz;
// otherwise it checks every one is there and current.
func TestFuzzSeeds(t *testing.T) {
	seeds := buildSeeds(t)
	root := testutil.Root(t)
	for dir, byTarget := range seeds {
		for target, files := range byTarget {
			for name, data := range files {
				path := filepath.Join(root, dir, "testdata", "fuzz", target, name)
				want := corpusFile(data)
				if *writeSeeds {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, want, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				got, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("seed %s missing or stale: run go test ./tools/capture -run FuzzSeeds -write-fuzz-seeds", path)
				}
			}
		}
	}
}

// corpusFile is Go's fuzz corpus format for a single []byte argument, or a
// string argument when data is a seedString.
func corpusFile(data any) []byte {
	switch v := data.(type) {
	case seedString:
		return []byte(fmt.Sprintf("go test fuzz v1\nstring(%q)\n", string(v)))
	case []byte:
		return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", v))
	}
	panic("unknown seed type")
}

type seedString string

func buildSeeds(t *testing.T) map[string]map[string]map[string]any {
	recs, _ := decodeBasic(t)
	s := map[string]map[string]map[string]any{
		"layer1-vl1/wire":     {"FuzzParsePayload": {}, "FuzzDecompress": {}, "FuzzReassembly": {}, "FuzzDearmor": {}, "FuzzInetAddress": {}},
		"layer1-vl1/identity": {"FuzzParse": {}, "FuzzFromBinary": {}},
		"tools/capture":       {"FuzzDecodeFrame": {}},
		"layer1-vl1/lz4":      {"FuzzDecompressBlock": {}, "FuzzRoundTrip": {}},
		"layer1-vl1/world":    {"FuzzDecode": {}},
	}
	add := func(dir, target, name string, data any) {
		if _, dup := s[dir][target][name]; !dup {
			s[dir][target][name] = data
		}
	}
	frames := map[int]string{}
	for _, r := range recs {
		if r.plain == nil {
			if r.Kind == KindOther {
				frames[r.Frame] = "other_" + strings.ReplaceAll(r.Note, " ", "_")
			}
			continue
		}
		name := "captured_" + r.Verb.String()
		switch m := r.message.(type) {
		case *wire.OK:
			name += "_" + m.InReVerb.String()
		case *wire.Error:
			name += "_" + m.Code.String()
		}
		add("layer1-vl1/wire", "FuzzParsePayload", name, append([]byte{byte(r.Verb)}, r.plain.Payload()...))
		if r.Compressed {
			c := wire.Compress(wire.Packet(bytes.Clone(r.plain)), make([]byte, 2*wire.MaxPacketLength))
			add("layer1-vl1/wire", "FuzzDecompress", name, []byte(c))
			add("layer1-vl1/lz4", "FuzzDecompressBlock", name, bytes.Clone(c.Payload()))
			add("layer1-vl1/lz4", "FuzzRoundTrip", name, bytes.Clone(r.plain.Payload()))
		}
		if len(r.datagrams) > 1 {
			var seq []byte
			for i := len(r.datagrams) - 1; i >= 0; i-- { // fragments before the head
				seq = binary.BigEndian.AppendUint16(seq, uint16(len(r.datagrams[i])))
				seq = append(seq, r.datagrams[i]...)
			}
			add("layer1-vl1/wire", "FuzzReassembly", "captured_"+r.Kind+"_"+r.Verb.String(), seq)
		}
		if h, ok := r.message.(*wire.Hello); ok {
			add("layer1-vl1/identity", "FuzzFromBinary", "captured_"+h.Identity.Address().String(), h.Identity.AppendBinary(nil, false))
			add("layer1-vl1/identity", "FuzzParse", "captured_"+h.Identity.Address().String(), seedString(h.Identity.String()))
			add("layer1-vl1/wire", "FuzzInetAddress", "captured_hello_destination", wire.AppendInetAddress(nil, h.PhysicalDestination))
		}
		frames[r.Frame] = name
	}
	for _, f := range []string{"za.identity.secret", "root.identity.secret"} {
		add("layer1-vl1/identity", "FuzzParse", f, seedString(testutil.ReadFile(t, "captures", "basic", f)))
	}
	add("layer1-vl1/world", "FuzzDecode", "lab_planet", testutil.ReadFile(t, "captures", "basic", "planet"))
	var wv struct {
		DefaultPlanet struct{ Hex string } `json:"default_planet"`
		TestMoon      struct{ Hex string } `json:"test_moon"`
	}
	testutil.Vectors(t, "world.json", &wv)
	add("layer1-vl1/world", "FuzzDecode", "default_planet", testutil.Hex(t, wv.DefaultPlanet.Hex))
	add("layer1-vl1/world", "FuzzDecode", "test_moon", testutil.Hex(t, wv.TestMoon.Hex))
	var av struct{ Vectors []armorVectorSeed }
	testutil.Vectors(t, "packet_armor.json", &av)
	for i, v := range av.Vectors {
		add("layer1-vl1/wire", "FuzzDearmor", fmt.Sprintf("vector_%d_suite%d", i, v.Cipher), testutil.Hex(t, v.Wire))
	}

	// Whole Ethernet frames for the decoder: the first of each kind.
	f, err := os.Open(testutil.Path(t, "captures", "basic", "basic.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	nums := make([]int, 0, len(frames))
	for n := range frames {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for n := 1; ; n++ {
		data, _, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		if name, ok := frames[n]; ok {
			add("tools/capture", "FuzzDecodeFrame", name, bytes.Clone(data))
		}
	}
	return s
}

type armorVectorSeed struct {
	Cipher int
	Wire   string
}
