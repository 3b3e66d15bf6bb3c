package vl2wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

func TestSamples(t *testing.T) {
	for _, s := range samples(t) {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.parse(s.wire)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s.want) {
				t.Errorf("decoded\n got %+v\nwant %+v", got, s.want)
			}
			if enc := encode(got); !bytes.Equal(enc, s.wire) {
				t.Errorf("re-encoding differs\n got %x\nwant %x", enc, s.wire)
			}
			if enc := encode(s.want); !bytes.Equal(enc, s.wire) {
				t.Errorf("encoding the expected value differs\n got %x\nwant %x", enc, s.wire)
			}
			if m, ok := got.(wire.Message); ok && m.Verb() != s.verb {
				t.Errorf("Verb() = %v, want %v", m.Verb(), s.verb)
			}
		})
	}
}

// TestTruncation cuts every sample at every length: decoders must not
// panic, must reject exactly the prefixes the layout does not allow, and
// whatever they accept must re-encode to the same bytes.
func TestTruncation(t *testing.T) {
	for _, s := range samples(t) {
		t.Run(s.name, func(t *testing.T) {
			for n := 0; n <= len(s.wire); n++ {
				in := bytes.Clone(s.wire[:n])
				got, err := s.parse(in)
				wantOK := n >= s.min || slices.Contains(s.alsoOK, n)
				switch {
				case err != nil && !errors.Is(err, ErrMalformed):
					t.Fatalf("length %d: error %v does not wrap ErrMalformed", n, err)
				case err != nil && wantOK:
					t.Errorf("length %d rejected: %v", n, err)
				case err == nil && !wantOK:
					t.Errorf("length %d accepted: %+v", n, got)
				case err == nil && !bytes.Equal(encode(got), in):
					t.Errorf("length %d re-encodes as %x", n, encode(got))
				}
			}
		})
	}
}

// TestMutations flips bytes of every sample and feeds random bytes to every
// decoder: no panics, and every accepted input re-encodes exactly.
func TestMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ss := samples(t)
	for _, s := range ss {
		for range 2000 {
			in := bytes.Clone(s.wire)
			for range 1 + rng.IntN(4) {
				if len(in) > 0 {
					in[rng.IntN(len(in))] = byte(rng.Uint32())
				}
			}
			if rng.IntN(4) == 0 && len(in) > 0 {
				in = in[:rng.IntN(len(in))]
			}
			checkExact(t, s.name, &s, in)
		}
	}
	for range 20000 {
		in := make([]byte, rng.IntN(64))
		for i := range in {
			in[i] = byte(rng.Uint32())
		}
		s := ss[rng.IntN(len(ss))]
		checkExact(t, "random bytes as "+s.name, &s, in)
	}
}

func checkExact(t *testing.T, name string, s *sample, in []byte) {
	t.Helper()
	got, err := s.parse(in)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %x: error %v does not wrap ErrMalformed", name, in, err)
		}
		return
	}
	if enc := encode(got); !bytes.Equal(enc, in) {
		t.Fatalf("%s: %x re-encodes as %x", name, in, enc)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		verb wire.Verb
		in   string
		want string
	}{
		{wire.VerbMULTICAST_GATHER, `6a65e33cf6e2a383 00 ffffffffffff 0a93`,
			"malformed payload: MULTICAST_GATHER: group ADI truncated (2 of 4 bytes at offset 15)"},
		{wire.VerbFRAME, `6a65e33cf6e2a3`,
			"malformed payload: FRAME: network ID truncated (7 of 8 bytes at offset 0)"},
		{wire.VerbEXT_FRAME, `6a65e33cf6e2a383 01 01 0009`,
			"malformed payload: EXT_FRAME: COM qualifier count 9 exceeds 8"},
		{wire.VerbEXT_FRAME, `6a65e33cf6e2a383 01 02`,
			"malformed payload: EXT_FRAME: COM type 0x02 at offset 9 (want 0x01)"},
		{wire.VerbMULTICAST_FRAME, `6a65e33cf6e2a383 01 01 0002
				0000000000000001 0000000000000000 0000000000000000
				0000000000000000 0000000000000000 0000000000000000`,
			"malformed payload: MULTICAST_FRAME: COM qualifier 1 ID 0 at offset 36 is below the previous ID 1"},
		{wire.VerbMULTICAST_LIKE, `6a65e33cf6e2a383 ffffffffffff 0a9314f9 6a65`,
			"malformed payload: MULTICAST_LIKE: record network ID truncated (2 of 8 bytes at offset 18)"},
		{wire.VerbNETWORK_CONFIG, `6a65e33cf6e2a383 0000 00 1122334455667788 00000000 00000000 01 0040`,
			"malformed payload: NETWORK_CONFIG: signature length 64 at offset 28 (want 96)"},
		{wire.VerbNETWORK_CREDENTIALS, `00 0001 6a65e33cf6e2a383`,
			"malformed payload: NETWORK_CREDENTIALS: capability header truncated (8 of 20 bytes at offset 3)"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.verb, hx(t, tt.in))
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrMalformed) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%v %s:\n got %v\nwant %s", tt.verb, tt.in, err, tt.want)
		}
	}
}

func TestNotVL2(t *testing.T) {
	for _, v := range []wire.Verb{wire.VerbNOP, wire.VerbHELLO, wire.VerbOK, wire.VerbECHO, wire.VerbPUSH_DIRECT_PATHS} {
		if _, err := Parse(v, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}); !errors.Is(err, ErrNotVL2) {
			t.Errorf("Parse(%v): %v", v, err)
		}
	}
	for _, v := range []wire.Verb{wire.VerbFRAME, wire.VerbMULTICAST_LIKE, wire.VerbNETWORK_CREDENTIALS, wire.VerbHELLO} {
		if _, err := ParseOKBody(v, make([]byte, 32)); !errors.Is(err, ErrNotVL2) {
			t.Errorf("ParseOKBody(%v): %v", v, err)
		}
	}
	for _, c := range []wire.ErrorCode{wire.ErrorNone, wire.ErrorInvalidRequest, wire.ErrorIdentityCollision, 0x0a} {
		if _, err := ParseErrorBody(c, make([]byte, 32)); !errors.Is(err, ErrNotVL2) {
			t.Errorf("ParseErrorBody(%v): %v", c, err)
		}
	}
	// Every VL2 verb dispatches to its own type.
	for _, v := range []wire.Verb{wire.VerbFRAME, wire.VerbEXT_FRAME, wire.VerbMULTICAST_LIKE, wire.VerbNETWORK_CREDENTIALS,
		wire.VerbNETWORK_CONFIG_REQUEST, wire.VerbNETWORK_CONFIG, wire.VerbMULTICAST_GATHER, wire.VerbMULTICAST_FRAME} {
		if !v.IsVL2() {
			t.Fatalf("%v is not VL2 in package wire", v)
		}
	}
}

func TestExtFrameFlags(t *testing.T) {
	// The flag bytes 1.14.1 sends for each subtype (vl2.md §2.2).
	want := map[ExtFrameSubtype]uint8{
		SubtypeNormal: 0x00, SubtypeTeeOutbound: 0x02, SubtypeRedirectOutbound: 0x04, SubtypeWatchOutbound: 0x16,
		SubtypeTeeInbound: 0x08, SubtypeRedirectInbound: 0x0a, SubtypeWatchInbound: 0x1c,
	}
	for st, flags := range want {
		if got := ExtFrameFlags(st); got != flags {
			t.Errorf("ExtFrameFlags(%d) = %#02x, want %#02x", st, got, flags)
		}
		f := &ExtFrame{Flags: flags}
		if f.Subtype() != st {
			t.Errorf("flags %#02x: subtype %d, want %d", flags, f.Subtype(), st)
		}
		if f.OKRequested() != (st == SubtypeWatchOutbound || st == SubtypeWatchInbound) {
			t.Errorf("flags %#02x: OKRequested %v", flags, f.OKRequested())
		}
	}
}

func TestCredentialSizes(t *testing.T) {
	// Sizes vl2.md §4.2–4.5 gives for controller-issued credentials.
	for _, c := range []struct {
		name string
		b    []byte
		size int
		read func(*reader, string)
	}{
		{"capability", capabilityBytes(t), 141, readCapability},
		{"tag", tagBytes(t), 135, readTag},
		{"revocation", revocationBytes(t), 152, readRevocation},
		{"certificate of ownership", cooBytes(t), 158, readCOO},
	} {
		if len(c.b) != c.size {
			t.Errorf("%s: built %d bytes, spec says %d", c.name, len(c.b), c.size)
		}
		r := newReader(append(bytes.Clone(c.b), 0xee, 0xee), c.name)
		c.read(r, c.name)
		if r.Err() != nil || r.Off() != c.size {
			t.Errorf("%s: measured %d bytes (%v)", c.name, r.Off(), r.Err())
		}
	}
}

func TestCredentialLayouts(t *testing.T) {
	cap1 := capabilityBytes(t)
	tests := []struct {
		name string
		b    []byte
		read func(*reader, string)
		ok   bool
	}{
		// A second custody link within a chain of length 2, then the
		// terminator and 3 bytes of additional fields.
		{"capability two links", cat(cap1[:24], []byte{2}, cap1[25:141-7],
			hx(t, `203540ed5f a9a35b19f2 02 0003 aabbcc 0000000000 0003 010203`)), readCapability, true},
		{"capability chain too long", cat(cap1[:141-7],
			hx(t, `203540ed5f a9a35b19f2 02 0000 0000000000 0000`)), readCapability, false},
		{"capability chain length 0", cat(cap1[:24], []byte{0}, cap1[25:]), readCapability, false},
		{"capability chain length 8", cat(cap1[:24], []byte{8}, cap1[25:]), readCapability, false},
		{"capability 65 rules", cat(cap1[:20], []byte{0, 65}, bytes.Repeat([]byte{1, 0}, 65), cap1[24:]), readCapability, false},
		{"capability unknown rule kept by length", cat(cap1[:20], hx(t, `0002 3f03aabbcc 0100`), cap1[24:]), readCapability, true},
		{"tag signature type 1 length 64", cat(tagBytes(t)[:34], hx(t, `01 0040`), make([]byte, 64), []byte{0, 0}), readTag, false},
		{"tag other signature type", cat(tagBytes(t)[:34], hx(t, `02 0004 01020304 0000`)), readTag, true},
		{"revocation truncated extra", cat(revocationBytes(t)[:150], hx(t, `0004 0102`)), readRevocation, false},
		// 17 things: the 17th is counted but not consumed, as in the
		// reference, so its 17 bytes are read as what follows.
		{"COO 17 things", cat(cooBytes(t)[:28], hx(t, `0011`), bytes.Repeat(cooBytes(t)[30:47], 16), cooBytes(t)[47:]), readCOO, true},
	}
	for _, tt := range tests {
		r := newReader(tt.b, tt.name)
		tt.read(r, tt.name)
		if ok := r.Err() == nil && r.Off() == len(tt.b); ok != tt.ok {
			t.Errorf("%s: read %d of %d bytes, err %v", tt.name, r.Off(), len(tt.b), r.Err())
		}
	}
}

func TestNetworkCredentialsEncoding(t *testing.T) {
	// Lists beyond Lists are written when they hold credentials.
	rev := revocationBytes(t)
	m := &NetworkCredentials{Revocations: [][]byte{rev}}
	want := cat(hx(t, `00 0000 0000 0001`), rev)
	if got := m.AppendPayload(nil); !bytes.Equal(got, want) {
		t.Errorf("got %x\nwant %x", got, want)
	}
	// The zero value is the terminator alone.
	if got := (&NetworkCredentials{}).AppendPayload(nil); !bytes.Equal(got, []byte{0}) {
		t.Errorf("zero value encodes as %x", got)
	}
}

func TestConfigChunkSigning(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	c := &ConfigChunk{NetworkID: labNetwork, Chunk: []byte(specMetadata), UpdateID: 0x0102030405060708,
		TotalLength: uint32(len(specMetadata))}
	if err := c.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	p := c.AppendPayload(nil)
	if len(p) != 27+len(c.Chunk)+3+96 {
		t.Fatalf("payload %d bytes", len(p))
	}
	back, err := ParseConfigChunk(p)
	if err != nil {
		t.Fatal(err)
	}
	signed := back.SignedPortion(p)
	if len(signed) != 27+len(c.Chunk) || !bytes.Equal(signed, back.SigningMessage()) {
		t.Errorf("signed portion %d bytes", len(signed))
	}
	if !ctl.Verify(signed, back.Signature[:]) || !back.Verify(ctl) {
		t.Error("signature does not verify")
	}
	if back.Verify(loadIdentity(t, "za")) {
		t.Error("verifies with the wrong identity")
	}
	back.Offset++
	if back.Verify(ctl) {
		t.Error("verifies after changing the offset")
	}
	if back.SignedPortion(p[:20]) != nil {
		t.Error("SignedPortion of a short payload")
	}
	id := back.ChunkID()
	var want [8]byte
	for i := range 16 {
		want[i%8] ^= back.Signature[i]
	}
	if id != want {
		t.Errorf("ChunkID = %x", id)
	}
	legacy := &ConfigChunk{NetworkID: labNetwork, Chunk: c.Chunk, Legacy: true}
	if legacy.Verify(ctl) {
		t.Error("legacy chunk verifies")
	}
}
