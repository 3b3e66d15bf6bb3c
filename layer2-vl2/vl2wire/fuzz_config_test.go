package vl2wire

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// FuzzParseNetworkConfig parses a config dictionary. Nothing may panic,
// errors wrap ErrMalformed, and a parsed config re-encodes to a dictionary
// that parses to the same config.
func FuzzParseNetworkConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseNetworkConfigBytes(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		enc := c.Dictionary().Append(nil)
		again, err := ParseNetworkConfigBytes(enc)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%q re-encodes as %q: %v\n got %+v\nwant %+v", b, enc, err, again, c)
		}
		if c.MTU < MinMTU || c.MTU > MaxMTU || len(c.Name) > MaxNetworkNameLength || len(c.COOs) > MaxNetworkCOOs ||
			len(c.Routes) > MaxNetworkRoutes || len(c.StaticIPs) > MaxStaticIPs || c.NetworkID == 0 || c.IssuedTo == 0 {
			t.Fatalf("limits not applied: %+v", c)
		}
		if n, err := CountRules(c.Rules); err != nil || n > MaxNetworkRules {
			t.Fatalf("%d rules, %v", n, err)
		}
	})
}

// FuzzParseCredential decodes the input after its first byte as the
// credential of that type code (1 COM, 2 capability, 3 tag, 4 COO, 6
// revocation). Nothing may panic; what decodes re-encodes to bytes that
// decode to the same value, uses exactly the bytes NETWORK_CREDENTIALS
// measures for it, and verifies with no identity.
func FuzzParseCredential(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		b := data[1:]
		var v interface{ Append([]byte) []byte }
		var n int
		var err error
		var measure func(*reader, string)
		var reparse func([]byte) (any, int, error)
		switch data[0] {
		case CredentialCOM:
			v, n, err = ParseCOM(b)
			reparse = wrapParse(ParseCOM)
		case CredentialCapability:
			v, n, err = ParseCapability(b)
			measure, reparse = readCapability, wrapParse(ParseCapability)
		case CredentialTag:
			v, n, err = ParseTag(b)
			measure, reparse = readTag, wrapParse(ParseTag)
		case CredentialCOO:
			v, n, err = ParseCOO(b)
			measure, reparse = readCOO, wrapParse(ParseCOO)
		case CredentialRevocation:
			v, n, err = ParseRevocation(b)
			measure, reparse = readRevocation, wrapParse(ParseRevocation)
		default:
			return
		}
		if measure != nil {
			r := newReader(b, "credential")
			measure(r, "credential")
			if (r.Err() == nil) != (err == nil) || (err == nil && r.Off() != n) {
				t.Fatalf("%x: parsed %d bytes (%v), measured %d (%v)", data, n, err, r.Off(), r.Err())
			}
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		enc := v.Append(nil)
		back, m, err := reparse(enc)
		if err != nil || m != len(enc) || !reflect.DeepEqual(back, v) {
			t.Fatalf("%x re-encodes as %x: %v", data, enc, err)
		}
		switch c := v.(type) {
		case *COM:
			_ = c.Verify(nil)
		case *Capability:
			if c.Verify(func(identity.Address) *identity.Identity { return nil }) {
				t.Fatal("capability verifies without identities")
			}
		case *Tag:
			_ = c.Verify(nil)
		case *COO:
			_ = c.Verify(nil)
		case *Revocation:
			_ = c.Verify(nil)
		}
	})
}

// TestWriteConfigFuzzSeeds rewrites the seeds of the two fuzz targets above
// when run with -write-fuzz-seeds; otherwise it checks they are there.
func TestWriteConfigFuzzSeeds(t *testing.T) {
	seeds := map[string]map[string][]byte{"FuzzParseNetworkConfig": {}, "FuzzParseCredential": {}}
	cfg, cred := seeds["FuzzParseNetworkConfig"], seeds["FuzzParseCredential"]
	cfg["spec_example"] = specExampleConfig(t).Dictionary().Append(nil)
	cfg["every_key"] = fullConfig(t).Dictionary().Append(nil)
	for _, p := range loadCaptured(t) {
		if p.kind == "verb" && p.verb == wire.VerbNETWORK_CONFIG {
			c, err := ParseConfigChunk(p.payload)
			if err != nil {
				t.Fatal(err)
			}
			cfg["captured_"+p.dst.String()] = c.Chunk
		}
		if p.kind == "verb" && p.verb == wire.VerbNETWORK_CREDENTIALS {
			m, err := ParseNetworkCredentials(p.payload)
			if err != nil {
				t.Fatal(err)
			}
			cred["captured_COO_"+p.src.String()] = append([]byte{CredentialCOO}, m.COOs[0]...)
			cred["captured_COM_"+p.src.String()] = append([]byte{CredentialCOM}, m.COMs[0].Append(nil)...)
		}
	}
	cred["capability"] = append([]byte{CredentialCapability}, capabilityBytes(t)...)
	cred["tag"] = append([]byte{CredentialTag}, tagBytes(t)...)
	cred["revocation"] = append([]byte{CredentialRevocation}, revocationBytes(t)...)
	cred["COO"] = append([]byte{CredentialCOO}, cooBytes(t)...)
	two := labCapability()
	two.MaxCustody = 3
	two.Custody = append(two.Custody, CustodyLink{To: labZA, From: labZB, Signature: sig96(7)})
	cred["capability_two_links"] = append([]byte{CredentialCapability}, two.Append(nil)...)
	tag := tagBytes(t)
	cred["tag_other_signature"] = cat([]byte{CredentialTag}, tag[:34], hx(t, `02 0003 aabbcc 0002 eeff`))

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
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, []byte(want)) {
				t.Errorf("seed %s is missing or stale (run go test -run TestWriteConfigFuzzSeeds -write-fuzz-seeds): %v", path, err)
			}
		}
	}
}
