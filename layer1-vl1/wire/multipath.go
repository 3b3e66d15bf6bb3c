package wire

import "encoding/binary"

// The multipath verbs: ACK (0x12), QOS_MEASUREMENT (0x13) and
// PATH_NEGOTIATION_REQUEST (0x16), as 1.14.1 lays them out (vl1.md §7.10,
// §7.11, §7.12). 1.14.1 sends QOS_MEASUREMENT and PATH_NEGOTIATION_REQUEST
// armored with suite 0 (authenticated, not encrypted) straight onto the path
// they describe; ArmorSuite says so for callers.

// QOS_MEASUREMENT bounds (ZT_QOS_MIN_PACKET_SIZE, ZT_QOS_MAX_PACKET_SIZE,
// ZT_QOS_TABLE_SIZE): receivers drop payloads outside [QoSMinPayload,
// QoSMaxPayload] and read at most QoSMaxRecords records.
const (
	QoSRecordLength = 8 + 2
	QoSMinPayload   = 8 + 1
	QoSMaxPayload   = 1400
	QoSMaxRecords   = QoSMaxPayload * 8 / (64 + 16)
)

// MultipathSuite is the cipher suite 1.14.1 armors QOS_MEASUREMENT and
// PATH_NEGOTIATION_REQUEST with: Packet::armor(..., encrypt=false, ...)
// always falls back to suite 0 (vl1.md §4.3).
const MultipathSuite = SuitePoly1305None

// Ack is ACK (0x12): the number of bytes received since the previous ACK,
// big-endian. 1.14.1 never sends it and ignores it on receipt; Extra keeps
// any bytes past the count so that re-encoding is exact.
type Ack struct {
	Bytes uint32
	Extra []byte
}

func (*Ack) Verb() Verb { return VerbACK }

// ParseAck decodes an ACK; fewer than 4 bytes is an error.
func ParseAck(payload []byte) (*Ack, error) {
	r := NewReader(payload, VerbACK)
	m := &Ack{Bytes: r.U32("byte count")}
	if r.err != nil {
		return nil, r.err
	}
	m.Extra = r.Rest()
	return m, nil
}

func (m *Ack) AppendPayload(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, m.Bytes), m.Extra...)
}

// QoSRecord is one sample of QOS_MEASUREMENT: a packet the reporter
// received on this path and how long it held it before reporting.
type QoSRecord struct {
	PacketID uint64 // the packet's ID as a big-endian reading of its bytes 0..7
	HoldMS   uint16 // ms between receiving that packet and sending the report
}

// QoSMeasurement is QOS_MEASUREMENT (0x13).
//
// Quirk: the records are memcpy'd in the sender's host byte order
// (Bond::generateQoSPacket) and read back the same way
// (_doQOS_MEASUREMENT), so two hosts agree only if their byte orders do.
// Every platform 1.14.1 ships for is little-endian, and so is this codec.
type QoSMeasurement struct {
	Records []QoSRecord
	// Trailing is a partial last record. 1.14.1 still reads a whole record
	// there, past the end of the payload; ztgo keeps the bytes (so that
	// re-encoding is exact) and does not use them.
	Trailing []byte
}

func (*QoSMeasurement) Verb() Verb { return VerbQOS_MEASUREMENT }

// ParseQoSMeasurement decodes the records of a payload 1.14.1 would accept.
func ParseQoSMeasurement(payload []byte) (*QoSMeasurement, error) {
	if err := CheckQoSPayload(payload); err != nil {
		return nil, err
	}
	n := QoSRecordCount(payload)
	m := &QoSMeasurement{Records: make([]QoSRecord, n)}
	for i := range m.Records {
		m.Records[i] = QoSRecordAt(payload, i)
	}
	if rest := payload[n*QoSRecordLength:]; len(rest) > 0 {
		m.Trailing = rest
	}
	return m, nil
}

// CheckQoSPayload says why 1.14.1 would ignore a QOS_MEASUREMENT payload,
// or nil. Together with QoSRecordCount and QoSRecordAt it reads a payload
// in place, without allocating.
func CheckQoSPayload(payload []byte) error {
	if len(payload) < QoSMinPayload || len(payload) > QoSMaxPayload {
		r := NewReader(payload, VerbQOS_MEASUREMENT)
		r.Fail("%d bytes (1.14.1 reads only %d..%d)", len(payload), QoSMinPayload, QoSMaxPayload)
		return r.err
	}
	return nil
}

// QoSRecordCount is the number of whole records in payload (at most
// QoSMaxRecords, which a payload of QoSMaxPayload bytes holds exactly).
func QoSRecordCount(payload []byte) int {
	return min(len(payload)/QoSRecordLength, QoSMaxRecords)
}

// QoSRecordAt decodes record i; the caller keeps i < QoSRecordCount.
func QoSRecordAt(payload []byte, i int) QoSRecord {
	rec := payload[i*QoSRecordLength:]
	return QoSRecord{
		PacketID: binary.LittleEndian.Uint64(rec),
		HoldMS:   binary.LittleEndian.Uint16(rec[8:]),
	}
}

// AppendQoSRecord appends one record in 1.14.1's (little-endian) layout.
func AppendQoSRecord(b []byte, r QoSRecord) []byte {
	b = binary.LittleEndian.AppendUint64(b, r.PacketID)
	return binary.LittleEndian.AppendUint16(b, r.HoldMS)
}

func (m *QoSMeasurement) AppendPayload(b []byte) []byte {
	for _, r := range m.Records {
		b = AppendQoSRecord(b, r)
	}
	return append(b, m.Trailing...)
}

// PathNegotiation is PATH_NEGOTIATION_REQUEST (0x16): the sender's utility
// for the path the request travels on, a signed big-endian 16-bit integer.
type PathNegotiation struct{ Utility int16 }

func (*PathNegotiation) Verb() Verb { return VerbPATH_NEGOTIATION }

// ParsePathNegotiation decodes the 2-byte utility; 1.14.1 ignores any other
// length, so that is an error here.
func ParsePathNegotiation(payload []byte) (*PathNegotiation, error) {
	if len(payload) != 2 {
		r := NewReader(payload, VerbPATH_NEGOTIATION)
		r.Fail("%d bytes (want 2)", len(payload))
		return nil, r.err
	}
	return &PathNegotiation{Utility: int16(binary.BigEndian.Uint16(payload))}, nil
}

func (m *PathNegotiation) AppendPayload(b []byte) []byte {
	return binary.BigEndian.AppendUint16(b, uint16(m.Utility))
}
