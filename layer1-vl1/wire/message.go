package wire

// Message is a decoded verb payload (everything after the verb byte).
// AppendPayload re-encodes it; for every payload a 1.14.1 node sends,
// decoding and re-encoding gives back the same bytes.
type Message interface {
	Verb() Verb
	AppendPayload(b []byte) []byte
}

// ParsePayload decodes the payload of a dearmored, decompressed packet.
// Unassigned verbs decode as Unknown (1.14.1 treats them as NOP).
func ParsePayload(v Verb, payload []byte) (Message, error) {
	switch v {
	case VerbNOP:
		return &Nop{Data: payload}, nil
	case VerbHELLO:
		return ParseHello(payload)
	case VerbOK:
		return ParseOK(payload)
	case VerbERROR:
		return ParseError(payload)
	case VerbWHOIS:
		return ParseWhois(payload)
	case VerbRENDEZVOUS:
		return ParseRendezvous(payload)
	case VerbECHO:
		return &Echo{Data: payload}, nil
	case VerbPUSH_DIRECT_PATHS:
		return ParsePushDirectPaths(payload)
	case VerbUSER_MESSAGE:
		return ParseUserMessage(payload)
	case VerbREMOTE_TRACE:
		return &RemoteTrace{Data: payload}, nil
	case VerbACK:
		return ParseAck(payload)
	case VerbQOS_MEASUREMENT:
		return ParseQoSMeasurement(payload)
	case VerbPATH_NEGOTIATION:
		return ParsePathNegotiation(payload)
	}
	if v.IsVL2() {
		return ParseVL2(v, payload)
	}
	return &Unknown{V: v, Data: payload}, nil
}

// Nop is NOP (0x00); any payload is ignored by receivers.
type Nop struct{ Data []byte }

func (*Nop) Verb() Verb                      { return VerbNOP }
func (m *Nop) AppendPayload(b []byte) []byte { return append(b, m.Data...) }

// Echo is ECHO (0x08); the reply echoes Data.
type Echo struct{ Data []byte }

func (*Echo) Verb() Verb                      { return VerbECHO }
func (m *Echo) AppendPayload(b []byte) []byte { return append(b, m.Data...) }

// Unknown is an unassigned verb, carried as raw bytes.
type Unknown struct {
	V    Verb
	Data []byte
}

func (m *Unknown) Verb() Verb                    { return m.V }
func (m *Unknown) AppendPayload(b []byte) []byte { return append(b, m.Data...) }
