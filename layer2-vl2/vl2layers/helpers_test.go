package vl2layers

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// captured is one VL2 payload or OK body of captures/basic, as listed in
// vl2wire's testdata/basic_vl2.tsv (dearmored and decompressed by the
// capture decoder when the file was made).
type captured struct {
	frame int
	t     gopacket.LayerType
	data  []byte
}

// loadCaptured reads the VL2 payloads and the OK bodies this package has a
// layer for (the acknowledgement 1.14.1 sends as OK in re ECHO decodes as
// OK(NETWORK_CONFIG)).
func loadCaptured(t *testing.T) []captured {
	t.Helper()
	f, err := os.Open("../vl2wire/testdata/basic_vl2.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []captured
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 6 || strings.HasPrefix(c[0], "#") {
			continue
		}
		frame, err1 := strconv.Atoi(c[0])
		b, err2 := hex.DecodeString(c[5])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		var lt gopacket.LayerType
		var ok bool
		switch c[4] {
		case "verb":
			lt, ok = LayerTypeOf(verbNamed(c[3]))
		case "ok":
			inRe := wire.Verb(b[0] & 0x1f)
			if inRe == wire.VerbECHO {
				inRe = wire.VerbNETWORK_CONFIG
			}
			lt, ok = OKLayerTypeOf(inRe)
			b = b[9:]
		}
		if ok {
			out = append(out, captured{frame, lt, b})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func verbNamed(name string) wire.Verb {
	for v := range wire.Verb(32) {
		if v.String() == name {
			return v
		}
	}
	return 0xff
}

// roundTrip serializes l followed by its payload and compares with data.
func roundTrip(t *testing.T, l gopacket.Layer, data []byte) {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, l.(gopacket.SerializableLayer), gopacket.Payload(l.LayerPayload()))
	if err != nil {
		t.Fatalf("serialize %v from %x: %v", l.LayerType(), data, err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("round trip of %v:\n got %x\nwant %x", l.LayerType(), buf.Bytes(), data)
	}
}

// allTypes is every layer type of the package, in a fixed order (the fuzz
// target picks one by index).
func allTypes() []gopacket.LayerType {
	return append(typesOf(byVerb), typesOf(byOK)...)
}
