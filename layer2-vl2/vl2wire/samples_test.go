package vl2wire

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Lab values from captures/basic (README.md).
const (
	labNetwork    = 0x6a65e33cf6e2a383
	labController = identity.Address(0x6a65e33cf6)
	labZA         = identity.Address(0x203540ed5f)
	labZB         = identity.Address(0xa9a35b19f2)
	labMACZA      = MAC(0x8283d7b6d1bc)
	labMACZB      = MAC(0x820a41ad2511)
	labTimestamp  = 1795571501000 // ms; the lab clock read 2026-11
	labMaxDelta   = 1800000       // 30 min, the default credential max delta
)

// hx decodes hex written as annotated fragments: everything from '#' to the
// end of a line is a comment and white space is ignored.
func hx(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	var sb strings.Builder
	for _, p := range parts {
		for _, line := range strings.Split(p, "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			sb.WriteString(strings.Join(strings.Fields(line), ""))
		}
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		tb.Fatalf("bad hex: %v", err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func loadIdentity(tb testing.TB, role string) *identity.Identity {
	tb.Helper()
	id, err := identity.Parse(string(testutil.ReadFile(tb, "captures", "basic", role+".identity.secret")))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// labCOM is the certificate the lab controller would issue member to:
// seven qualifiers, signed (272 bytes, vl2.md §4.1).
func labCOM(tb testing.TB, member *identity.Identity) *COM {
	tb.Helper()
	h := member.PublicKeyHash()
	c := &COM{Qualifiers: []Qualifier{
		{QualifierTimestamp, labTimestamp, labMaxDelta},
		{QualifierNetworkID, labNetwork, 0},
		{QualifierIssuedTo, uint64(member.Address()), ^uint64(0)},
	}}
	for i := range 4 {
		c.Qualifiers = append(c.Qualifiers, Qualifier{uint64(QualifierPublicKeyHash0 + i), binary.BigEndian.Uint64(h[8*i:]), ^uint64(0)})
	}
	if err := c.Sign(loadIdentity(tb, "controller")); err != nil {
		tb.Fatal(err)
	}
	return c
}

// sig96 is a stand-in signature: a recognisable 96-byte pattern.
func sig96(seed byte) [96]byte {
	var s [96]byte
	for i := range s {
		s[i] = seed + byte(i)
	}
	return s
}

// Credential encodings assembled by hand from vl2.md §4.2–4.5; the sizes the
// spec gives for controller-issued credentials are checked in
// TestCredentialSizes.

func capabilityBytes(tb testing.TB) []byte {
	s := sig96(0x10)
	return cat(hx(tb, `
		6a65e33cf6e2a383          # network ID
		000001a21066c7c8          # timestamp
		00000007                  # capability ID
		0001                      # rule count
		0100                      # ACCEPT, L=0
		01                        # max custody chain length
		a9a35b19f2 6a65e33cf6     # to, from
		01 0060                   # signature type 1, length 96
	`), s[:], hx(tb, `
		0000000000                # chain terminator
		0000                      # no additional fields
	`))
}

func tagBytes(tb testing.TB) []byte {
	s := sig96(0x20)
	return cat(hx(tb, `
		6a65e33cf6e2a383 000001a21066c7c8 # network ID, timestamp
		00000001 0000002a                  # tag ID, value
		203540ed5f 6a65e33cf6              # issued to, signed by
		01 0060                            # signature type, length
	`), s[:], hx(tb, `0000`))
}

func revocationBytes(tb testing.TB) []byte {
	s := sig96(0x30)
	return cat(hx(tb, `
		00000000 0badc0de          # reserved, revocation ID
		6a65e33cf6e2a383           # network ID
		00000000 00000000          # reserved, credential ID
		000001a21066c7c8           # threshold
		0000000000000001           # flags: fast propagate
		a9a35b19f2 6a65e33cf6      # target, signed by
		01                         # credential type COM
		01 0060                    # signature type, length
	`), s[:], hx(tb, `0000`))
}

func cooBytes(tb testing.TB) []byte {
	s := sig96(0x40)
	return cat(hx(tb, `
		6a65e33cf6e2a383 000001a21066c7c8 0000000000000000 # network ID, timestamp, flags
		00000001                   # COO ID
		0001                       # thing count
		02 0a9314f9000000000000000000000000 # IPv4 10.147.20.249, zero padded
		203540ed5f 6a65e33cf6      # issued to, signed by
		01 0060                    # signature type, length
	`), s[:], hx(tb, `0000`))
}

// sample is one encoded VL2 structure and what it decodes to.
type sample struct {
	name string
	kind sampleKind
	verb wire.Verb      // verbPayload, okBody
	code wire.ErrorCode // errorBody
	wire []byte
	want any
	// Every prefix at least min bytes long decodes; of the shorter ones
	// exactly those in alsoOK do.
	min    int
	alsoOK []int
}

type sampleKind int

const (
	verbPayload sampleKind = iota
	okBody
	errorBody
	comBytes
)

func (s *sample) parse(b []byte) (any, error) {
	switch s.kind {
	case okBody:
		return ParseOKBody(s.verb, b)
	case errorBody:
		return ParseErrorBody(s.code, b)
	case comBytes:
		c, n, err := ParseCOM(b)
		if err != nil {
			return nil, err
		}
		if n != len(b) {
			return &COMWithRest{c, b[n:]}, nil
		}
		return c, nil
	}
	return Parse(s.verb, b)
}

// COMWithRest is a COM followed by bytes ParseCOM did not use.
type COMWithRest struct {
	*COM
	Rest []byte
}

func encode(v any) []byte {
	switch m := v.(type) {
	case wire.Message:
		return m.AppendPayload(nil)
	case *ErrorBody:
		return m.Append(nil)
	case *COMWithRest:
		return append(m.COM.Append(nil), m.Rest...)
	case *COM:
		return m.Append(nil)
	}
	panic("encode: unknown type")
}

var arpRequest = []byte{ // who-has 10.147.20.156 tell 10.147.20.249
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x82, 0x83, 0xd7, 0xb6, 0xd1, 0xbc, 0x0a, 0x93, 0x14, 0xf9,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x93, 0x14, 0x9c,
}

func samples(tb testing.TB) []sample {
	tb.Helper()
	za := loadIdentity(tb, "za")
	com := labCOM(tb, za)
	comWire := com.Append(nil)
	arpGroup := MulticastGroup{MAC: BroadcastMAC, ADI: 0x0a93149c}
	cap1, tag1, rev1, coo1 := capabilityBytes(tb), tagBytes(tb), revocationBytes(tb), cooBytes(tb)
	meta := []byte(specMetadata)
	chunk := []byte("v=0000000000000007\nnwid=6a65e33cf6e2a383")
	sig := sig96(0x55)

	return []sample{
		{name: "FRAME ARP reply", verb: wire.VerbFRAME, min: 10,
			wire: cat(hx(tb, `6a65e33cf6e2a383 0806`), arpRequest),
			want: &Frame{NetworkID: labNetwork, EtherType: 0x0806, Payload: arpRequest}},
		{name: "FRAME empty", verb: wire.VerbFRAME, min: 10,
			wire: hx(tb, `6a65e33cf6e2a383 86dd`),
			want: &Frame{NetworkID: labNetwork, EtherType: 0x86dd}},
		{name: "EXT_FRAME bridged", verb: wire.VerbEXT_FRAME, min: 23, alsoOK: []int{9},
			wire: cat(hx(tb, `
				6a65e33cf6e2a383 00     # network ID, flags
				820a41ad2511            # destination MAC (zb)
				0200deadbeef            # source MAC (behind za's bridge)
				0806                    # ethertype`), arpRequest),
			want: &ExtFrame{NetworkID: labNetwork, Dest: labMACZB, Source: 0x0200deadbeef, EtherType: 0x0806, Payload: arpRequest}},
		{name: "EXT_FRAME watch with COM", verb: wire.VerbEXT_FRAME, min: 9 + len(comWire) + 14, alsoOK: []int{9 + len(comWire)},
			wire: cat(hx(tb, `6a65e33cf6e2a383 17`), comWire, hx(tb, `ffffffffffff 8283d7b6d1bc 0806`), arpRequest),
			want: &ExtFrame{NetworkID: labNetwork, Flags: 0x17, COM: com, Dest: BroadcastMAC, Source: labMACZA, EtherType: 0x0806, Payload: arpRequest}},
		{name: "EXT_FRAME without frame", verb: wire.VerbEXT_FRAME, min: 9,
			wire: hx(tb, `6a65e33cf6e2a383 10`),
			want: &ExtFrame{NetworkID: labNetwork, Flags: 0x10, NoFrame: true}},
		{name: "MULTICAST_LIKE", verb: wire.VerbMULTICAST_LIKE, min: 54, alsoOK: []int{0, 18, 36},
			wire: hx(tb, `
				6a65e33cf6e2a383 01005e000001 00000000 # all-hosts IPv4
				6a65e33cf6e2a383 3333ffb6d1bc 00000000 # solicited-node of za's link-local
				6a65e33cf6e2a383 ffffffffffff 0a9314f9 # ARP group of 10.147.20.249`),
			want: &MulticastLike{Records: []Like{
				{labNetwork, MulticastGroup{0x01005e000001, 0}},
				{labNetwork, MulticastGroup{0x3333ffb6d1bc, 0}},
				{labNetwork, MulticastGroup{BroadcastMAC, 0x0a9314f9}},
			}}},
		{name: "MULTICAST_GATHER", verb: wire.VerbMULTICAST_GATHER, min: 23,
			wire: hx(tb, `6a65e33cf6e2a383 00 ffffffffffff 0a93149c 00000020`),
			want: &MulticastGather{NetworkID: labNetwork, Group: arpGroup, Limit: 32}},
		{name: "MULTICAST_GATHER with COM", verb: wire.VerbMULTICAST_GATHER, min: 23,
			wire: cat(hx(tb, `6a65e33cf6e2a383 01 ffffffffffff 0a93149c 00000020`), comWire),
			want: &MulticastGather{NetworkID: labNetwork, Flags: 1, Group: arpGroup, Limit: 32, COM: com}},
		{name: "MULTICAST_GATHER with bad COM", verb: wire.VerbMULTICAST_GATHER, min: 23,
			wire: hx(tb, `6a65e33cf6e2a383 01 ffffffffffff 0a93149c 00000020 02 0000`),
			want: &MulticastGather{NetworkID: labNetwork, Flags: 1, Group: arpGroup, Limit: 32, Trailing: []byte{2, 0, 0}}},
		{name: "MULTICAST_FRAME ARP", verb: wire.VerbMULTICAST_FRAME, min: 21,
			wire: cat(hx(tb, `6a65e33cf6e2a383 00 ffffffffffff 0a93149c 0806`), arpRequest),
			want: &MulticastFrame{NetworkID: labNetwork, Group: arpGroup, EtherType: 0x0806, Payload: arpRequest}},
		{name: "MULTICAST_FRAME all options", verb: wire.VerbMULTICAST_FRAME, min: 9 + len(comWire) + 4 + 6 + 12,
			wire: cat(hx(tb, `6a65e33cf6e2a383 0f`), comWire, hx(tb, `
				00000010      # gather limit
				0200deadbeef  # source MAC
				ffffffffffff 0a93149c 0806`), arpRequest),
			want: &MulticastFrame{NetworkID: labNetwork, Flags: 0x0f, COM: com, GatherLimit: 16, Source: 0x0200deadbeef,
				Group: arpGroup, EtherType: 0x0806, Payload: arpRequest}},
		{name: "NETWORK_CONFIG_REQUEST", verb: wire.VerbNETWORK_CONFIG_REQUEST, min: 10 + len(meta),
			wire: cat(hx(tb, `6a65e33cf6e2a383 0107`), meta, hx(tb, `0000000000000000 0000000000000000`)),
			want: &NetworkConfigRequest{NetworkID: labNetwork, Metadata: meta, HasRevision: true, HasTimestamp: true}},
		{name: "NETWORK_CONFIG_REQUEST held config", verb: wire.VerbNETWORK_CONFIG_REQUEST, min: 10 + len(meta),
			wire: cat(hx(tb, `6a65e33cf6e2a383 0107`), meta, hx(tb, `0000000000000003 000001a21066c7c8`)),
			want: &NetworkConfigRequest{NetworkID: labNetwork, Metadata: meta, HasRevision: true, Revision: 3,
				HasTimestamp: true, Timestamp: labTimestamp}},
		{name: "NETWORK_CONFIG_REQUEST no trailer", verb: wire.VerbNETWORK_CONFIG_REQUEST, min: 10,
			wire: hx(tb, `6a65e33cf6e2a383 0000`),
			want: &NetworkConfigRequest{NetworkID: labNetwork, Metadata: []byte{}}},
		{name: "NETWORK_CONFIG", verb: wire.VerbNETWORK_CONFIG, min: 10 + len(chunk) + 116, alsoOK: []int{10 + len(chunk)},
			wire: cat(hx(tb, `6a65e33cf6e2a383 0028`), chunk, hx(tb, `
				00                  # flags
				1122334455667788    # config update ID
				00000028 00000000   # total length, offset
				01 0060             # signature type, length`), sig[:]),
			want: &ConfigChunk{NetworkID: labNetwork, Chunk: chunk, UpdateID: 0x1122334455667788, TotalLength: 40,
				SignatureType: 1, Signature: sig}},
		{name: "NETWORK_CONFIG legacy", verb: wire.VerbNETWORK_CONFIG, min: 10 + len(chunk),
			wire: cat(hx(tb, `6a65e33cf6e2a383 0028`), chunk),
			want: &ConfigChunk{NetworkID: labNetwork, Chunk: chunk, Legacy: true}},
		{name: "NETWORK_CREDENTIALS 1.14.1 push", verb: wire.VerbNETWORK_CREDENTIALS, min: 281,
			alsoOK: []int{0, 272, 273, 275, 277, 279},
			wire:   cat(comWire, hx(tb, `00 0000 0000 0000 0000`)),
			want:   &NetworkCredentials{COMs: []*COM{com}, Lists: 4}},
		{name: "NETWORK_CREDENTIALS revocation push", verb: wire.VerbNETWORK_CREDENTIALS, min: 161,
			alsoOK: []int{0, 1, 3, 5, 159},
			wire:   cat(hx(tb, `00 0000 0000 0001`), rev1, hx(tb, `0000`)),
			want:   &NetworkCredentials{Lists: 4, Revocations: [][]byte{rev1}}},
		{name: "NETWORK_CREDENTIALS everything", verb: wire.VerbNETWORK_CREDENTIALS, min: 1274,
			alsoOK: []int{0, 272, 544, 545, 688, 960, 1114},
			wire: cat(comWire, comWire, hx(tb, `00 0001`), cap1, hx(tb, `0002`), tag1, tag1,
				hx(tb, `0001`), rev1, hx(tb, `0001`), coo1),
			want: &NetworkCredentials{COMs: []*COM{com, com}, Lists: 4, Capabilities: [][]byte{cap1},
				Tags: [][]byte{tag1, tag1}, Revocations: [][]byte{rev1}, COOs: [][]byte{coo1}}},
		{name: "NETWORK_CREDENTIALS old sender", verb: wire.VerbNETWORK_CREDENTIALS, min: 273, alsoOK: []int{0, 272},
			wire: cat(comWire, []byte{0}),
			want: &NetworkCredentials{COMs: []*COM{com}}},
		{name: "NETWORK_CREDENTIALS no terminator", verb: wire.VerbNETWORK_CREDENTIALS, min: 272, alsoOK: []int{0},
			wire: comWire,
			want: &NetworkCredentials{COMs: []*COM{com}, NoTerminator: true}},

		{name: "OK(EXT_FRAME)", kind: okBody, verb: wire.VerbEXT_FRAME, min: 8,
			wire: hx(tb, `6a65e33cf6e2a383`),
			want: &OKExtFrame{NetworkID: labNetwork}},
		{name: "OK(MULTICAST_GATHER)", kind: okBody, verb: wire.VerbMULTICAST_GATHER, min: 24 + 10,
			wire: hx(tb, `6a65e33cf6e2a383 ffffffffffff 0a93149c 00000002 0002 a9a35b19f2 203540ed5f`),
			want: &OKMulticastGather{NetworkID: labNetwork, Group: arpGroup,
				GatherResults: GatherResults{TotalKnown: 2, Members: []identity.Address{labZB, labZA}}}},
		{name: "OK(MULTICAST_FRAME)", kind: okBody, verb: wire.VerbMULTICAST_FRAME, min: 25 + 5,
			wire: hx(tb, `6a65e33cf6e2a383 ffffffffffff 0a93149c 02 00000001 0001 a9a35b19f2`),
			want: &OKMulticastFrame{NetworkID: labNetwork, Group: arpGroup, Flags: 2,
				GatherResults: GatherResults{TotalKnown: 1, Members: []identity.Address{labZB}}}},
		{name: "OK(MULTICAST_FRAME) with COM", kind: okBody, verb: wire.VerbMULTICAST_FRAME, min: 19 + len(comWire) + 6,
			wire: cat(hx(tb, `6a65e33cf6e2a383 ffffffffffff 0a93149c 03`), comWire, hx(tb, `00000000 0000`)),
			want: &OKMulticastFrame{NetworkID: labNetwork, Group: arpGroup, Flags: 3, COM: com}},
		{name: "OK(NETWORK_CONFIG_REQUEST)", kind: okBody, verb: wire.VerbNETWORK_CONFIG_REQUEST, min: 10 + len(chunk) + 116,
			alsoOK: []int{10 + len(chunk)},
			wire:   cat(hx(tb, `6a65e33cf6e2a383 0028`), chunk, hx(tb, `01 1122334455667788 00000028 00000000 01 0060`), sig[:]),
			want: &OKNetworkConfigRequest{ConfigChunk{NetworkID: labNetwork, Chunk: chunk, Flags: 1,
				UpdateID: 0x1122334455667788, TotalLength: 40, SignatureType: 1, Signature: sig}}},
		{name: "OK(NETWORK_CONFIG)", kind: okBody, verb: wire.VerbNETWORK_CONFIG, min: 16,
			wire: hx(tb, `6a65e33cf6e2a383 1122334455667788`),
			want: &OKNetworkConfig{NetworkID: labNetwork, UpdateID: 0x1122334455667788}},

		{name: "ERROR access denied", kind: errorBody, code: wire.ErrorNetworkAccessDenied, min: 8,
			wire: hx(tb, `6a65e33cf6e2a383`),
			want: &ErrorBody{Code: wire.ErrorNetworkAccessDenied, NetworkID: labNetwork}},
		{name: "ERROR need membership certificate", kind: errorBody, code: wire.ErrorNeedMembershipCert, min: 8,
			wire: hx(tb, `6a65e33cf6e2a383`),
			want: &ErrorBody{Code: wire.ErrorNeedMembershipCert, NetworkID: labNetwork}},
		{name: "ERROR unwanted multicast", kind: errorBody, code: wire.ErrorUnwantedMulticast, min: 18,
			wire: hx(tb, `6a65e33cf6e2a383 3333ffb6d1bc 00000000`),
			want: &ErrorBody{Code: wire.ErrorUnwantedMulticast, NetworkID: labNetwork, Group: MulticastGroup{MAC: 0x3333ffb6d1bc}}},
		{name: "ERROR authentication required", kind: errorBody, code: wire.ErrorNetworkAuthRequired, min: 37, alsoOK: []int{8},
			wire: cat(hx(tb, `6a65e33cf6e2a383 001b`), []byte("aV=0\naU=https://sso.example")),
			want: &ErrorBody{Code: wire.ErrorNetworkAuthRequired, NetworkID: labNetwork, HasAuthInfo: true,
				AuthInfo: []byte("aV=0\naU=https://sso.example")}},
		{name: "ERROR authentication required bare", kind: errorBody, code: wire.ErrorNetworkAuthRequired, min: 8,
			wire: hx(tb, `6a65e33cf6e2a383`),
			want: &ErrorBody{Code: wire.ErrorNetworkAuthRequired, NetworkID: labNetwork}},

		{name: "COM signed", kind: comBytes, min: len(comWire), wire: comWire, want: com},
		{name: "COM unsigned empty", kind: comBytes, min: 8, wire: hx(tb, `01 0000 0000000000`), want: &COM{}},
	}
}
