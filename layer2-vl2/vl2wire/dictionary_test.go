package vl2wire

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// specMetadata is the NETWORK_CONFIG_REQUEST metadata a 1.14.1 node on
// Linux x86-64 sends, as printed in vl2.md §2.7.
const specMetadata = `v=0000000000000007
vend=0000000000000001
pv=000000000000000c
majv=0000000000000001
minv=000000000000000e
revv=0000000000000001
mr=0000000000000400
mc=0000000000000080
mcr=0000000000000040
mt=0000000000000080
f=0000000000000000
revr=0000000000000001
o=linux/x86_64`

func TestDictionaryRequestMetadata(t *testing.T) {
	raw := []byte(specMetadata)
	d, err := ParseDictionary(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 13 {
		t.Fatalf("%d entries, want 13", len(d))
	}
	wantInts := map[string]uint64{"v": 7, "vend": 1, "pv": 12, "majv": 1, "minv": 14, "revv": 1,
		"mr": 1024, "mc": 128, "mcr": 64, "mt": 128, "f": 0, "revr": 1}
	for k, want := range wantInts {
		if got, ok := d.GetUint64(k); !ok || got != want {
			t.Errorf("GetUint64(%q) = %d, %v; want %d", k, got, ok, want)
		}
	}
	if o, ok := d.GetString("o"); !ok || o != "linux/x86_64" {
		t.Errorf("o = %q, %v", o, ok)
	}
	if _, ok := d.Get("a"); ok {
		t.Error("absent key a found")
	}
	if got := d.Append(nil); !bytes.Equal(got, raw) {
		t.Errorf("re-encoding differs:\n%s", got)
	}

	// Building it the way the reference writer does gives the same bytes.
	var w Dictionary
	for _, k := range []string{"v", "vend", "pv", "majv", "minv", "revv", "mr", "mc", "mcr", "mt", "f", "revr"} {
		w.AddUint64(k, wantInts[k])
	}
	w.AddString("o", "linux/x86_64")
	if got := w.Append(nil); !bytes.Equal(got, raw) {
		t.Errorf("built dictionary differs:\n%s", got)
	}

	// And it travels in a NETWORK_CONFIG_REQUEST unchanged.
	req := &NetworkConfigRequest{NetworkID: 0x6a65e33cf6e2a383, Metadata: raw, HasRevision: true, HasTimestamp: true}
	p := req.AppendPayload(nil)
	if len(p) != 8+2+len(raw)+16 || len(raw) != 263 {
		t.Errorf("request payload %d bytes, metadata %d", len(p), len(raw))
	}
	back, err := ParseNetworkConfigRequest(p)
	if err != nil || !bytes.Equal(back.Metadata, raw) {
		t.Fatalf("request round trip: %v", err)
	}
}

func TestDictionaryEscaping(t *testing.T) {
	var d Dictionary
	d.Add("bin", []byte{0, '\r', '\n', '\\', '=', 'x', 0xff})
	d.AddBool("t", true)
	d.AddBool("f", false)
	d.AddString("empty", "")
	enc := d.Append(nil)
	const want = "bin=\\0\\r\\n\\\\\\ex\xff\nt=1\nf=0\nempty="
	if string(enc) != want {
		t.Fatalf("encoded %q, want %q", enc, want)
	}
	back, err := ParseDictionary(enc)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get("bin"); !bytes.Equal(v, d[0].Value) {
		t.Errorf("bin = %q", v)
	}
	if v, ok := back.GetBool("t"); !v || !ok {
		t.Error("t is not true")
	}
	if v, ok := back.GetBool("f"); v || !ok {
		t.Error("f is not false")
	}
	if v, ok := back.Get("empty"); !ok || len(v) != 0 {
		t.Errorf("empty = %q %v", v, ok)
	}
	if _, ok := back.GetUint64("empty"); ok {
		t.Error("empty value read as a number")
	}
}

func TestDictionaryLenientValues(t *testing.T) {
	// Escapes the writer never produces decode as the reference reads them
	// and are written back as they came.
	in := []byte("a=x\\qy\nb=p=q\nc=end\\\nv=1\nvend=2")
	d, err := ParseDictionary(in)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a": "xqy", "b": "p=q", "c": "end", "v": "1", "vend": "2"} {
		if got, _ := d.GetString(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := d.Append(nil); !bytes.Equal(got, in) {
		t.Errorf("re-encoded %q", got)
	}
	// A changed value is written canonically.
	d[1].Value = []byte("p=r")
	if got := d.Append(nil); !bytes.Contains(got, []byte("\nb=p\\er\n")) {
		t.Errorf("changed value encoded as %q", got)
	}
}

func TestDictionaryRejects(t *testing.T) {
	for _, in := range []string{"a=1\n", "a=1\n\nb=2", "\na=1", "a=1\nb", "a=1\x00", "a=1\r\nb=2", "noequals"} {
		if _, err := ParseDictionary([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
	if d, err := ParseDictionary(nil); err != nil || len(d) != 0 {
		t.Errorf("empty: %v %v", d, err)
	}
	_, err := ParseDictionary([]byte("a=1\nb=2\n"))
	if err == nil || !strings.Contains(err.Error(), "dictionary: empty line at offset 8") {
		t.Errorf("error text: %v", err)
	}
}

func TestDictionaryNumbers(t *testing.T) {
	tests := []struct {
		v    string
		want uint64
	}{
		{"0000000000000af0", 0xaf0},
		{"AF0", 0xaf0},
		{"0x10", 16},
		{"0xg", 0},
		{"  12zz", 0x12},
		{"-1", math.MaxUint64},
		{"+ff", 0xff},
		{"ffffffffffffffff", math.MaxUint64},
		{"10000000000000000", math.MaxUint64},
		{"zz", 0},
		{strings.Repeat("0", 127) + "1", 0}, // only 127 bytes are read
	}
	for _, tt := range tests {
		var d Dictionary
		d.AddString("n", tt.v)
		if got, ok := d.GetUint64("n"); !ok || got != tt.want {
			t.Errorf("%q: %#x %v, want %#x", tt.v, got, ok, tt.want)
		}
	}
}
