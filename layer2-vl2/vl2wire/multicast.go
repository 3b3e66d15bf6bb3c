package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// LikeRecordLength is the size of one MULTICAST_LIKE record.
const LikeRecordLength = 8 + GroupLength

// Like is one MULTICAST_LIKE record: a subscription to Group on NetworkID.
type Like struct {
	NetworkID uint64
	Group     MulticastGroup
}

// MulticastLike is MULTICAST_LIKE (0x09): 18-byte records to the end of the
// payload (vl2.md §2.3).
type MulticastLike struct {
	Records []Like
}

func (*MulticastLike) Verb() wire.Verb { return wire.VerbMULTICAST_LIKE }

// ParseMulticastLike decodes the records; a partial record is an error.
func ParseMulticastLike(payload []byte) (*MulticastLike, error) {
	r := newReader(payload, "MULTICAST_LIKE")
	m := &MulticastLike{}
	if n := len(payload) / LikeRecordLength; n > 0 {
		m.Records = make([]Like, 0, n)
	}
	for r.Err() == nil && r.Left() > 0 {
		m.Records = append(m.Records, Like{NetworkID: r.U64("record network ID"), Group: r.group("record group MAC", "record group ADI")})
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	return m, nil
}

func (m *MulticastLike) AppendPayload(b []byte) []byte {
	for _, l := range m.Records {
		b = l.Group.Append(appendU64(b, l.NetworkID))
	}
	return b
}

// MULTICAST_GATHER flag (vl2.md §2.4).
const GatherFlagCOM = 0x01

// MulticastGather is MULTICAST_GATHER (0x0d): a request for up to Limit
// members of Group (vl2.md §2.4).
//
// When GatherFlagCOM is set the COM follows the limit. The reference
// ignores a COM that does not decode and still answers, so such a payload
// decodes with COM nil and the bytes in Trailing. Flags is written as
// given.
type MulticastGather struct {
	NetworkID uint64
	Flags     uint8
	Group     MulticastGroup
	Limit     uint32
	COM       *COM
	Trailing  []byte // bytes after the fixed fields and COM, ignored by receivers
}

func (*MulticastGather) Verb() wire.Verb { return wire.VerbMULTICAST_GATHER }

// ParseMulticastGather decodes a MULTICAST_GATHER payload.
func ParseMulticastGather(payload []byte) (*MulticastGather, error) {
	r := newReader(payload, "MULTICAST_GATHER")
	m := &MulticastGather{NetworkID: r.U64("network ID"), Flags: r.U8("flags"), Group: r.group("group MAC", "group ADI"),
		Limit: r.U32("gather limit")}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if m.Flags&GatherFlagCOM != 0 {
		sub := newReader(payload[r.Off():], "COM")
		if c := parseCOM(sub, ""); sub.Err() == nil {
			m.COM = c
			r.Skip(sub.Off(), "COM")
		}
	}
	m.Trailing = r.Rest()
	return m, nil
}

func (m *MulticastGather) AppendPayload(b []byte) []byte {
	b = append(appendU64(b, m.NetworkID), m.Flags)
	b = appendU32(m.Group.Append(b), m.Limit)
	if m.Flags&GatherFlagCOM != 0 && m.COM != nil {
		b = m.COM.Append(b)
	}
	return append(b, m.Trailing...)
}

// GatherResults is the tail of OK(MULTICAST_GATHER) and of
// OK(MULTICAST_FRAME) with flag 0x02: the responder's count of known members
// and the addresses it chose to list.
type GatherResults struct {
	TotalKnown uint32
	Members    []identity.Address
}

func (g *GatherResults) parse(r *reader) {
	g.TotalKnown = r.U32("total known members")
	g.Members = r.addresses("member addresses")
}

func (g *GatherResults) append(b []byte) []byte {
	return appendAddresses(appendU32(b, g.TotalKnown), g.Members)
}

// OKMulticastGather is the body of OK(MULTICAST_GATHER) (vl2.md §2.4).
type OKMulticastGather struct {
	NetworkID uint64
	Group     MulticastGroup
	GatherResults
	Trailing []byte // ignored by receivers
}

func (*OKMulticastGather) Verb() wire.Verb { return wire.VerbMULTICAST_GATHER }

// ParseOKMulticastGather decodes an OK(MULTICAST_GATHER) body.
func ParseOKMulticastGather(body []byte) (*OKMulticastGather, error) {
	r := newReader(body, "OK(MULTICAST_GATHER)")
	o := &OKMulticastGather{NetworkID: r.U64("network ID"), Group: r.group("group MAC", "group ADI")}
	o.GatherResults.parse(r)
	o.Trailing = r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return o, nil
}

func (o *OKMulticastGather) AppendPayload(b []byte) []byte {
	b = o.Group.Append(appendU64(b, o.NetworkID))
	return append(o.GatherResults.append(b), o.Trailing...)
}

// MULTICAST_FRAME flag bits (vl2.md §2.5).
const (
	MulticastFlagCOM         = 0x01 // COM after the flags byte (deprecated)
	MulticastFlagGatherLimit = 0x02 // gather limit present; OK with results wanted
	MulticastFlagSourceMAC   = 0x04 // explicit (bridged) source MAC present
	MulticastFlagReplicate   = 0x08 // please replicate to the group
)

// MulticastFrame is MULTICAST_FRAME (0x0e) (vl2.md §2.5). Optional fields
// are present as Flags says; Flags is written as given.
type MulticastFrame struct {
	NetworkID   uint64
	Flags       uint8
	COM         *COM   // MulticastFlagCOM
	GatherLimit uint32 // MulticastFlagGatherLimit
	Source      MAC    // MulticastFlagSourceMAC; otherwise MACFor(sender, NetworkID)
	Group       MulticastGroup
	EtherType   uint16
	Payload     []byte
}

func (*MulticastFrame) Verb() wire.Verb { return wire.VerbMULTICAST_FRAME }

// ParseMulticastFrame decodes a MULTICAST_FRAME payload. Payload aliases the
// input.
func ParseMulticastFrame(payload []byte) (*MulticastFrame, error) {
	m := new(MulticastFrame)
	if err := m.DecodeFromBytes(payload); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeFromBytes decodes a MULTICAST_FRAME payload into m; it allocates
// only for an inlined COM. Payload aliases the input.
func (m *MulticastFrame) DecodeFromBytes(payload []byte) error {
	r := reader{wire.NewReader(payload, "MULTICAST_FRAME")}
	*m = MulticastFrame{NetworkID: r.U64("network ID"), Flags: r.U8("flags")}
	if r.Err() == nil && m.Flags&MulticastFlagCOM != 0 {
		m.COM = parseCOM(&r, "COM ")
	}
	if m.Flags&MulticastFlagGatherLimit != 0 {
		m.GatherLimit = r.U32("gather limit")
	}
	if m.Flags&MulticastFlagSourceMAC != 0 {
		m.Source = r.mac("source MAC")
	}
	m.Group = r.group("group MAC", "group ADI")
	m.EtherType = r.U16("ethertype")
	m.Payload = r.Rest()
	return r.Err()
}

func (m *MulticastFrame) AppendPayload(b []byte) []byte {
	b = append(appendU64(b, m.NetworkID), m.Flags)
	if m.Flags&MulticastFlagCOM != 0 && m.COM != nil {
		b = m.COM.Append(b)
	}
	if m.Flags&MulticastFlagGatherLimit != 0 {
		b = appendU32(b, m.GatherLimit)
	}
	if m.Flags&MulticastFlagSourceMAC != 0 {
		b = m.Source.Append(b)
	}
	b = m.Group.Append(b)
	return append(appendU16(b, m.EtherType), m.Payload...)
}

// OK(MULTICAST_FRAME) flag bits.
const (
	OKMulticastFlagCOM    = 0x01 // a COM follows (never sent by 1.14.1)
	OKMulticastFlagGather = 0x02 // gather results follow
)

// OKMulticastFrame is the body of OK(MULTICAST_FRAME): implicit gather
// results for the group the frame went to (vl2.md §2.5). Flags is written
// as given; GatherResults is meaningful when OKMulticastFlagGather is set.
type OKMulticastFrame struct {
	NetworkID uint64
	Group     MulticastGroup
	Flags     uint8
	COM       *COM
	GatherResults
	Trailing []byte // ignored by receivers
}

func (*OKMulticastFrame) Verb() wire.Verb { return wire.VerbMULTICAST_FRAME }

// ParseOKMulticastFrame decodes an OK(MULTICAST_FRAME) body.
func ParseOKMulticastFrame(body []byte) (*OKMulticastFrame, error) {
	r := newReader(body, "OK(MULTICAST_FRAME)")
	o := &OKMulticastFrame{NetworkID: r.U64("network ID"), Group: r.group("group MAC", "group ADI"), Flags: r.U8("flags")}
	if r.Err() == nil && o.Flags&OKMulticastFlagCOM != 0 {
		o.COM = parseCOM(r, "COM ")
	}
	if o.Flags&OKMulticastFlagGather != 0 {
		o.GatherResults.parse(r)
	}
	o.Trailing = r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return o, nil
}

func (o *OKMulticastFrame) AppendPayload(b []byte) []byte {
	b = append(o.Group.Append(appendU64(b, o.NetworkID)), o.Flags)
	if o.Flags&OKMulticastFlagCOM != 0 && o.COM != nil {
		b = o.COM.Append(b)
	}
	if o.Flags&OKMulticastFlagGather != 0 {
		b = o.GatherResults.append(b)
	}
	return append(b, o.Trailing...)
}
