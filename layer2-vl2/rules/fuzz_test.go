package rules

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz seed corpora")

// FuzzParseTable decodes arbitrary bytes as a rule table. Nothing may
// panic; a table that decodes re-encodes to the same bytes and decodes
// again to the same rules, ParseRules agrees with it, and evaluating it
// (with the input as the frame too) does not panic.
func FuzzParseTable(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseTable(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc := AppendTable(nil, rs)
		if !bytes.Equal(enc, b) {
			t.Fatalf("%x re-encodes as %x", b, enc)
		}
		again, err := ParseTable(enc)
		if err != nil || !reflect.DeepEqual(again, rs) {
			t.Fatalf("%x: second parse %v\n got %+v\nwant %+v", b, err, again, rs)
		}
		withTail := append(append([]byte{}, b...), 0x01)
		counted, n, err := ParseRules(withTail, len(rs))
		if err != nil || n != len(b) || !reflect.DeepEqual(counted, rs) {
			t.Fatalf("%x: ParseRules(%d) = %d bytes, %v", b, len(rs), n, err)
		}
		for _, r := range rs {
			if j, ok := FromJSON(r.JSON()); ok {
				if !reflect.DeepEqual(j.JSON(), r.JSON()) {
					t.Fatalf("%+v: JSON %v reads back as %+v", r, r.JSON(), j)
				}
			}
		}
		e := withEnv(func(e *testEnv) {
			e.local = map[uint32]uint32{0: 0, 1: 1}
			e.remote = map[uint32]uint32{1: 2}
		})
		for _, et := range []uint16{etherTypeIPv4, etherTypeIPv6, etherTypeARP} {
			for _, frame := range [][]byte{b, tcp4, tcp6Ext, icmp6Ext, ndpNA} {
				p := out(et, frame)
				Evaluate(rs, &p, e)
				p = in(et, frame)
				Evaluate(rs, &p, e)
			}
		}
	})
}

// FuzzCompile compiles arbitrary source. Nothing may panic; errors are
// *CompileError with a position; compiled rules are within the limits and
// already normalized.
func FuzzCompile(f *testing.F) {
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Compile(src)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Line < 1 || ce.Col < 1 || ce.Msg == "" {
				t.Fatalf("%q: bad error %#v", src, err)
			}
			return
		}
		if len(c.Rules) > MaxNetworkRules || !reflect.DeepEqual(NormalizeJSON(c.Rules), c.Rules) {
			t.Fatalf("%q: %d rules, normalized differently", src, len(c.Rules))
		}
		for name, cp := range c.Capabilities {
			rs, ok := cp["rules"].([]any)
			if !ok || len(rs) > MaxCapabilityRules || !reflect.DeepEqual(NormalizeJSON(rs), rs) {
				t.Fatalf("%q: capability %s: %v", src, name, cp)
			}
		}
	})
}

// fuzzSeeds are the checked-in seed corpora, regenerated with
// go test -run TestWriteFuzzSeeds -write-fuzz-seeds.
func fuzzSeeds(t *testing.T) map[string]map[string]string {
	t.Helper()
	table := func(b []byte) string { return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b) }
	source := func(s string) string { return fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s) }
	return map[string]map[string]string{
		"FuzzParseTable": {
			"spec_example":   table(unhex(t, specExampleHex)),
			"every_type":     table(AppendTable(nil, everyType)),
			"unknown_types":  table(unhex(t, "14 03 010203 bf 00 07 02 aabb 01 01 00")),
			"odd_lengths":    table(unhex(t, "25 01 08 1f 05 0a000000 28 33 13 0000000000000000 0000000100000000 0000 00")),
			"truncated_tee":  table(unhex(t, "02 0e 00 00 00 89 e9")),
			"integer_ranges": table(AppendTable(nil, []Rule{{Type: MatchIntegerRange, Start: 7, Format: 3}, {Type: MatchIntegerRange, Idx: 2, Format: 0x80 | 15}, {Type: ActionAccept}})),
		},
		"FuzzCompile": {
			"central_default": source(centralDefault),
			"caps_and_tags":   source(capsAndTags),
			"macros":          source("macro allow($p) accept ipprotocol tcp and dport $p; ;\ninclude allow(22)\ndrop;"),
			"error":           source("drop\n  ethertype foo;"),
		},
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	for target, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, want := range seeds {
			path := filepath.Join(dir, name)
			if *writeSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != want {
				t.Errorf("seed %s is missing or stale (run go test -run TestWriteFuzzSeeds -write-fuzz-seeds): %v", path, err)
			}
		}
	}
}
