package vl2wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz seed corpora from the samples")

// FuzzParse takes a verb byte and a payload and decodes the payload as that
// VL2 verb, as the body of an OK answering it and as the body of an ERROR
// with that code. Nothing may panic; whatever decodes must re-encode to the
// same bytes.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		verb, payload := wire.Verb(data[0]&0x1f), data[1:]
		if m, err := Parse(verb, payload); checkFuzzErr(t, err) {
			if m.Verb() != verb {
				t.Fatalf("Parse(%v) gave a %v", verb, m.Verb())
			}
			if enc := m.AppendPayload(nil); !bytes.Equal(enc, payload) {
				t.Fatalf("%v %x re-encodes as %x", verb, payload, enc)
			}
		}
		if m, err := ParseOKBody(verb, payload); checkFuzzErr(t, err) {
			if enc := m.AppendPayload(nil); !bytes.Equal(enc, payload) {
				t.Fatalf("OK(%v) %x re-encodes as %x", verb, payload, enc)
			}
		}
		code := wire.ErrorCode(data[0] & 0x0f)
		if e, err := ParseErrorBody(code, payload); checkFuzzErr(t, err) {
			if enc := e.Append(nil); !bytes.Equal(enc, payload) {
				t.Fatalf("ERROR(%v) %x re-encodes as %x", code, payload, enc)
			}
		}
	})
}

func checkFuzzErr(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotVL2) {
		t.Fatalf("error %v wraps neither ErrMalformed nor ErrNotVL2", err)
	}
	return err == nil
}

// FuzzParseCOM decodes a COM at the start of the input.
func FuzzParseCOM(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		c, n, err := ParseCOM(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		if n > len(b) || c.Len() != n || !bytes.Equal(c.Append(nil), b[:n]) {
			t.Fatalf("%x: used %d bytes, Len %d, re-encodes as %x", b, n, c.Len(), c.Append(nil))
		}
		if len(c.Qualifiers) > MaxCOMQualifiers {
			t.Fatalf("%d qualifiers", len(c.Qualifiers))
		}
		for i := 1; i < len(c.Qualifiers); i++ {
			if c.Qualifiers[i].ID < c.Qualifiers[i-1].ID {
				t.Fatal("qualifier IDs decrease")
			}
		}
	})
}

// FuzzDictionary checks that accepted dictionaries re-encode exactly, that
// re-encoding the values canonically round-trips, and that every lookup
// agrees with refGet, a transcription of how the reference reader scans the
// raw bytes.
func FuzzDictionary(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDictionary(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		if enc := d.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("%q re-encodes as %q", b, enc)
		}
		var canon Dictionary
		for _, e := range d {
			canon.Add(e.Key, bytes.Clone(e.Value))
		}
		cb := canon.Append(nil)
		again, err := ParseDictionary(cb)
		if err != nil || len(again) != len(d) {
			t.Fatalf("canonical form %q: %v", cb, err)
		}
		for i := range d {
			if again[i].Key != d[i].Key || !bytes.Equal(again[i].Value, d[i].Value) {
				t.Fatalf("entry %d changed in canonical form %q", i, cb)
			}
		}
		probes := []string{""}
		for _, e := range d {
			probes = append(probes, e.Key, e.Key+"x")
			if len(e.Key) > 0 {
				probes = append(probes, e.Key[:len(e.Key)-1])
			}
		}
		for _, k := range probes {
			if strings.ContainsAny(k, "=\r\n\x00") {
				continue
			}
			got, ok := d.Get(k)
			want, wantOK := refGet(b, k)
			if ok != wantOK || !bytes.Equal(got, want) {
				t.Fatalf("%q: Get(%q) = %q %v, reference reads %q %v", b, k, got, ok, want, wantOK)
			}
		}
	})
}

// refGet looks key up the way Dictionary::get in 1.14.1 walks its buffer:
// compare the key at the start of each line, take the value after '=' up to
// CR, LF or NUL with backslash escapes, else skip past the next CR or LF.
func refGet(d []byte, key string) ([]byte, bool) {
	p := 0
	for p < len(d) && d[p] != 0 {
		k := 0
		for k < len(key) && p < len(d) && d[p] != 0 && d[p] == key[k] {
			k++
			p++
		}
		if k == len(key) && p < len(d) && d[p] == '=' {
			p++
			v := []byte{}
			esc := false
			for ; p < len(d) && d[p] != 0 && d[p] != '\r' && d[p] != '\n'; p++ {
				c := d[p]
				switch {
				case esc:
					esc = false
					switch c {
					case 'r':
						c = '\r'
					case 'n':
						c = '\n'
					case '0':
						c = 0
					case 'e':
						c = '='
					}
					v = append(v, c)
				case c == '\\':
					esc = true
				default:
					v = append(v, c)
				}
			}
			return v, true
		}
		for p < len(d) && d[p] != 0 && d[p] != '\r' && d[p] != '\n' {
			p++
		}
		if p >= len(d) || d[p] == 0 {
			break
		}
		p++
	}
	return nil, false
}

// TestWriteFuzzSeeds rewrites the seed corpora when run with
// -write-fuzz-seeds; otherwise it checks they are there.
func TestWriteFuzzSeeds(t *testing.T) {
	seeds := map[string]map[string][]byte{"FuzzParse": {}, "FuzzParseCOM": {}, "FuzzDictionary": {}}
	for _, s := range samples(t) {
		name := seedName(s.name)
		switch s.kind {
		case verbPayload, okBody:
			seeds["FuzzParse"][name] = append([]byte{byte(s.verb)}, s.wire...)
		case errorBody:
			seeds["FuzzParse"][name] = append([]byte{byte(s.code)}, s.wire...)
		case comBytes:
			seeds["FuzzParseCOM"][name] = s.wire
		}
	}
	// One captured payload of each kind (testdata/basic_vl2.tsv).
	for _, p := range loadCaptured(t) {
		var name string
		var data []byte
		switch p.kind {
		case "verb":
			name, data = "captured_"+p.verb.String(), append([]byte{byte(p.verb)}, p.payload...)
		case "ok":
			name, data = "captured_OK_"+wire.Verb(p.payload[0]&0x1f).String(), append([]byte{p.payload[0]}, p.payload[9:]...)
		case "error":
			name, data = "captured_ERROR_"+wire.ErrorCode(p.payload[9]).String(), append([]byte{p.payload[9]}, p.payload[10:]...)
		}
		if _, dup := seeds["FuzzParse"][name]; !dup {
			seeds["FuzzParse"][name] = data
		}
		if p.verb == wire.VerbNETWORK_CONFIG {
			if c, err := ParseConfigChunk(p.payload); err == nil {
				seeds["FuzzDictionary"]["captured_network_config"] = c.Chunk
				if d, err := ParseDictionary(c.Chunk); err == nil {
					com, _ := d.Get("C")
					seeds["FuzzParseCOM"]["captured_config_COM"] = com
				}
			}
		}
	}
	seeds["FuzzDictionary"]["request_metadata"] = []byte(specMetadata)
	seeds["FuzzDictionary"]["escapes"] = []byte("bin=\\0\\r\\n\\\\\\ex\xff\nt=1\nf=0\nempty=")
	seeds["FuzzDictionary"]["lenient"] = []byte("a=x\\qy\nb=p=q\nc=end\\\nv=1\nvend=2")
	seeds["FuzzDictionary"]["auth_info"] = []byte("aV=0000000000000001\niU=https://issuer.example/\naN=n0nce\naS=st\\eate")

	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, data := range files {
			path := filepath.Join(dir, name)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if *writeSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("seed %s is missing or stale (run go test -run TestWriteFuzzSeeds -write-fuzz-seeds): %v", path, err)
			}
		}
	}
}

func seedName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}
