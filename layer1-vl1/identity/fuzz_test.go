package identity

import (
	"bytes"
	"testing"
)

// FuzzParse: the string form never panics, and anything accepted prints back
// to a string that parses to the same identity.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(id.SecretString())
		if err != nil || back.SecretString() != id.SecretString() {
			t.Fatalf("%q: printed form does not round-trip: %v", s, err)
		}
	})
}

// FuzzFromBinary: the binary form never panics and re-encodes exactly.
func FuzzFromBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		id, n, err := FromBinary(b)
		if err != nil {
			return
		}
		if enc := id.AppendBinary(nil, true); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("%x re-encodes as %x", b[:n], enc)
		}
	})
}
