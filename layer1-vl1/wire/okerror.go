package wire

import (
	"encoding/binary"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// OK is OK (0x03): a reply naming the verb and wire packet ID it answers.
// Reply holds the decoded body: *OKHello, *OKWhois, *Echo (for ECHO), *VL2
// (for VL2 verbs: network ID and the rest), or *Unknown.
type OK struct {
	InReVerb Verb
	InReID   uint64
	Reply    Message
}

func (*OK) Verb() Verb { return VerbOK }

// ParseOK decodes an OK payload and its verb-specific body.
func ParseOK(payload []byte) (*OK, error) {
	r := NewReader(payload, VerbOK)
	o := &OK{InReVerb: Verb(r.U8("in-re verb") & verbMask), InReID: r.U64("in-re packet ID")}
	if r.err != nil {
		return nil, r.err
	}
	body := r.Rest()
	var err error
	switch o.InReVerb {
	case VerbHELLO:
		o.Reply, err = ParseOKHello(body)
	case VerbWHOIS:
		o.Reply, err = ParseOKWhois(body)
	case VerbECHO:
		o.Reply = &Echo{Data: body}
	default:
		if o.InReVerb.IsVL2() {
			o.Reply, err = ParseVL2(o.InReVerb, body)
		} else {
			o.Reply = &Unknown{V: o.InReVerb, Data: body}
		}
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// AppendPayload appends the OK payload.
func (o *OK) AppendPayload(b []byte) []byte {
	b = append(b, byte(o.InReVerb))
	b = binary.BigEndian.AppendUint64(b, o.InReID)
	if o.Reply != nil {
		b = o.Reply.AppendPayload(b)
	}
	return b
}

// OKWhois is the body of OK(WHOIS): the identities the responder knew.
type OKWhois struct{ Identities []*identity.Identity }

func (*OKWhois) Verb() Verb { return VerbWHOIS }

// ParseOKWhois decodes back-to-back public identities.
func ParseOKWhois(body []byte) (*OKWhois, error) {
	r := NewReader(body, VerbOK)
	o := &OKWhois{}
	for r.err == nil && r.Left() > 0 {
		if id := r.Identity("WHOIS identity"); id != nil {
			o.Identities = append(o.Identities, id)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return o, nil
}

// AppendPayload appends the identities, public parts only.
func (o *OKWhois) AppendPayload(b []byte) []byte {
	for _, id := range o.Identities {
		b = id.AppendBinary(b, false)
	}
	return b
}

// Error is ERROR (0x02). Body holds what follows the code: for most VL2
// codes a network ID first (see NetworkID).
type Error struct {
	InReVerb Verb
	InReID   uint64
	Code     ErrorCode
	Body     []byte
}

func (*Error) Verb() Verb { return VerbERROR }

// ParseError decodes an ERROR payload.
func ParseError(payload []byte) (*Error, error) {
	r := NewReader(payload, VerbERROR)
	e := &Error{
		InReVerb: Verb(r.U8("in-re verb") & verbMask),
		InReID:   r.U64("in-re packet ID"),
		Code:     ErrorCode(r.U8("error code")),
	}
	if r.err != nil {
		return nil, r.err
	}
	e.Body = r.Rest()
	return e, nil
}

// AppendPayload appends the ERROR payload.
func (e *Error) AppendPayload(b []byte) []byte {
	b = append(b, byte(e.InReVerb))
	b = binary.BigEndian.AppendUint64(b, e.InReID)
	b = append(b, byte(e.Code))
	return append(b, e.Body...)
}

// NetworkID returns the network ID the error names, for the codes that
// carry one (vl2.md §2.9).
func (e *Error) NetworkID() (uint64, bool) {
	switch e.Code {
	case ErrorObjectNotFound, ErrorUnsupportedOperation, ErrorNeedMembershipCert,
		ErrorNetworkAccessDenied, ErrorUnwantedMulticast, ErrorNetworkAuthRequired:
		if len(e.Body) >= 8 {
			return binary.BigEndian.Uint64(e.Body), true
		}
	}
	return 0, false
}
