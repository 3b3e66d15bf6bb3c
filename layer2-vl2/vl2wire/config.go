package vl2wire

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// MetadataCapacity is the capacity of the request metadata dictionary,
// including the terminating NUL the reference keeps in memory (vl2.md §2.7).
const MetadataCapacity = 1024

// NetworkConfigRequest is NETWORK_CONFIG_REQUEST (0x0b) (vl2.md §2.7).
//
// The revision and timestamp of the config the requester holds are
// optional on receipt and ignored by the 1.14.1 controller; HasRevision and
// HasTimestamp record whether they were present so re-encoding is exact.
type NetworkConfigRequest struct {
	NetworkID    uint64
	Metadata     []byte // the metadata dictionary as sent; see ParseDictionary
	HasRevision  bool
	Revision     uint64
	HasTimestamp bool // only with HasRevision
	Timestamp    int64
	Trailing     []byte // anything after, including a partial u64
}

func (*NetworkConfigRequest) Verb() wire.Verb { return wire.VerbNETWORK_CONFIG_REQUEST }

// ParseNetworkConfigRequest decodes a NETWORK_CONFIG_REQUEST payload.
// Metadata aliases the input.
func ParseNetworkConfigRequest(payload []byte) (*NetworkConfigRequest, error) {
	r := newReader(payload, "NETWORK_CONFIG_REQUEST")
	m := &NetworkConfigRequest{NetworkID: r.U64("network ID")}
	m.Metadata = r.Take(int(r.U16("metadata length")), "metadata dictionary")
	if r.Err() != nil {
		return nil, r.Err()
	}
	if r.Left() >= 8 {
		m.HasRevision, m.Revision = true, r.U64("revision")
		if r.Left() >= 8 {
			m.HasTimestamp, m.Timestamp = true, int64(r.U64("timestamp"))
		}
	}
	m.Trailing = r.Rest()
	return m, nil
}

func (m *NetworkConfigRequest) AppendPayload(b []byte) []byte {
	b = appendU64(b, m.NetworkID)
	b = append(appendU16(b, uint16(len(m.Metadata))), m.Metadata...)
	if m.HasRevision {
		b = appendU64(b, m.Revision)
		if m.HasTimestamp {
			b = appendU64(b, uint64(m.Timestamp))
		}
	}
	return append(b, m.Trailing...)
}

// Config chunk constants (vl2.md §2.8).
const (
	ConfigFlagFastPropagate = 0x01
	// ConfigSignatureType is the only signature type receivers accept.
	ConfigSignatureType = 1
	// MaxConfigChunkLength is the most dictionary bytes 1.14.1 puts in one
	// chunk: 10024 − (28 + 256).
	MaxConfigChunkLength = 9740
	// configSignedFixed is the signed length minus the chunk: network ID,
	// chunk length, flags, update ID, total length, offset.
	configSignedFixed = 8 + 2 + 1 + 8 + 4 + 4
)

// ConfigChunk is one piece of a network config dictionary as carried by
// OK(NETWORK_CONFIG_REQUEST) and NETWORK_CONFIG (vl2.md §2.8).
//
// The legacy form ends right after the chunk bytes (Legacy true; receivers
// accept it only from the controller, as the whole dictionary). Otherwise
// the signed trailer follows. SignatureType is kept as sent; receivers drop
// chunks whose type is not ConfigSignatureType. A signature length other
// than 96 does not decode.
type ConfigChunk struct {
	NetworkID     uint64
	Chunk         []byte
	Legacy        bool
	Flags         uint8
	UpdateID      uint64
	TotalLength   uint32
	Offset        uint32
	SignatureType uint8
	Signature     [identity.SignatureLength]byte
	Trailing      []byte // after the signature; not signed, forwarded as is
}

// NETWORK_CONFIG carries a chunk as its whole payload.
func (*ConfigChunk) Verb() wire.Verb { return wire.VerbNETWORK_CONFIG }

// ParseConfigChunk decodes a NETWORK_CONFIG payload or the body of an
// OK(NETWORK_CONFIG_REQUEST). Chunk aliases the input.
func ParseConfigChunk(payload []byte) (*ConfigChunk, error) {
	return parseConfigChunk(payload, "NETWORK_CONFIG")
}

func parseConfigChunk(payload []byte, ctx string) (*ConfigChunk, error) {
	r := newReader(payload, ctx)
	c := &ConfigChunk{NetworkID: r.U64("network ID")}
	c.Chunk = r.Take(int(r.U16("chunk length")), "chunk")
	if r.Err() != nil {
		return nil, r.Err()
	}
	if r.Left() == 0 {
		c.Legacy = true
		return c, nil
	}
	c.Flags = r.U8("flags")
	c.UpdateID = r.U64("config update ID")
	c.TotalLength = r.U32("total length")
	c.Offset = r.U32("chunk offset")
	c.SignatureType = r.U8("signature type")
	at := r.Off()
	if n := r.U16("signature length"); r.Err() == nil && n != identity.SignatureLength {
		r.Fail("signature length %d at offset %d (want %d)", n, at, identity.SignatureLength)
	}
	copy(c.Signature[:], r.Take(identity.SignatureLength, "signature"))
	c.Trailing = r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return c, nil
}

// SignedLength is the number of leading payload bytes the signature covers:
// 27 + len(Chunk).
func (c *ConfigChunk) SignedLength() int { return configSignedFixed + len(c.Chunk) }

// SignedPortion returns the bytes of payload (this chunk's encoding) that
// the controller signs, [0, 27+C), or nil if payload is shorter.
func (c *ConfigChunk) SignedPortion(payload []byte) []byte {
	n := c.SignedLength()
	if len(payload) < n {
		return nil
	}
	return payload[:n]
}

// SigningMessage encodes the signed portion from the fields.
func (c *ConfigChunk) SigningMessage() []byte {
	b := make([]byte, 0, c.SignedLength())
	return c.appendSigned(b)
}

func (c *ConfigChunk) appendSigned(b []byte) []byte {
	b = appendU64(b, c.NetworkID)
	b = append(appendU16(b, uint16(len(c.Chunk))), c.Chunk...)
	b = appendU64(append(b, c.Flags), c.UpdateID)
	return appendU32(appendU32(b, c.TotalLength), c.Offset)
}

// Sign signs the chunk with the controller's identity, setting the
// signature type; Legacy is cleared.
func (c *ConfigChunk) Sign(controller *identity.Identity) error {
	c.Legacy = false
	sig, err := controller.Sign(c.SigningMessage())
	if err != nil {
		return err
	}
	c.SignatureType, c.Signature = ConfigSignatureType, sig
	return nil
}

// Verify checks the signature with the controller's identity. Legacy chunks
// carry none and never verify; the caller decides whether to accept them.
func (c *ConfigChunk) Verify(controller *identity.Identity) bool {
	if c.Legacy || c.SignatureType != ConfigSignatureType || controller == nil {
		return false
	}
	return controller.Verify(c.SigningMessage(), c.Signature[:])
}

// ChunkID is the de-duplication ID receivers derive from the signature:
// bytes 0..15 XOR-folded into 8, read in memory order as the reference does
// (vl2.md §2.8).
func (c *ConfigChunk) ChunkID() [8]byte {
	var id [8]byte
	for i := range 16 {
		id[i&7] ^= c.Signature[i]
	}
	return id
}

func (c *ConfigChunk) AppendPayload(b []byte) []byte {
	if c.Legacy {
		b = appendU64(b, c.NetworkID)
		return append(appendU16(b, uint16(len(c.Chunk))), c.Chunk...)
	}
	b = append(c.appendSigned(b), c.SignatureType)
	b = append(appendU16(b, identity.SignatureLength), c.Signature[:]...)
	return append(b, c.Trailing...)
}

// OKNetworkConfigRequest is the body of OK(NETWORK_CONFIG_REQUEST): a config
// chunk answering the request.
type OKNetworkConfigRequest struct {
	ConfigChunk
}

func (*OKNetworkConfigRequest) Verb() wire.Verb { return wire.VerbNETWORK_CONFIG_REQUEST }

// ParseOKNetworkConfigRequest decodes an OK(NETWORK_CONFIG_REQUEST) body.
func ParseOKNetworkConfigRequest(body []byte) (*OKNetworkConfigRequest, error) {
	c, err := parseConfigChunk(body, "OK(NETWORK_CONFIG_REQUEST)")
	if err != nil {
		return nil, err
	}
	return &OKNetworkConfigRequest{ConfigChunk: *c}, nil
}

// OKNetworkConfig is the acknowledgement of a fully applied NETWORK_CONFIG:
// network ID and config update ID. 1.14.1 sends it as OK in re ECHO (0x08)
// by a quirk; either in-re verb carries this body (vl2.md §2.8).
type OKNetworkConfig struct {
	NetworkID uint64
	UpdateID  uint64
	Trailing  []byte
}

func (*OKNetworkConfig) Verb() wire.Verb { return wire.VerbNETWORK_CONFIG }

// ParseOKNetworkConfig decodes the acknowledgement body.
func ParseOKNetworkConfig(body []byte) (*OKNetworkConfig, error) {
	r := newReader(body, "OK(NETWORK_CONFIG)")
	o := &OKNetworkConfig{NetworkID: r.U64("network ID"), UpdateID: r.U64("config update ID")}
	o.Trailing = r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return o, nil
}

func (o *OKNetworkConfig) AppendPayload(b []byte) []byte {
	return append(appendU64(appendU64(b, o.NetworkID), o.UpdateID), o.Trailing...)
}
