package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
)

// Golden payloads of the multipath verbs, derived by hand from 1.14.1's
// source (there is no bonded peer in the lab capture):
//
//   - ACK: Buffer::append<uint32_t> writes big-endian, so 1500 acked bytes
//     are 000005dc (the sender is commented out in Bond::sendACK; the
//     layout is what _doACK would read with Utils::ntoh).
//   - QOS_MEASUREMENT: Bond::generateQoSPacket walks qosStatsIn, a std::map
//     ordered by packet ID, and memcpy's each uint64 ID and uint16 hold
//     time in host (little-endian) order. Two packets received with IDs
//     0x0102030405060709 and 0x00000000000000ff, reported 3 ms and 258 ms
//     after they arrived, come out lowest ID first.
//   - PATH_NEGOTIATION_REQUEST: Buffer::append<int16_t>(_localUtility)
//     writes big-endian; utility -3 is fffd.
var multipathGolden = []struct {
	name    string
	verb    Verb
	payload string
	msg     Message
}{
	{"ack 1500", VerbACK, "000005dc", &Ack{Bytes: 1500}},
	{"qos two records", VerbQOS_MEASUREMENT,
		"ff00000000000000" + "0201" + "0907060504030201" + "0300",
		&QoSMeasurement{Records: []QoSRecord{{PacketID: 0xff, HoldMS: 258}, {PacketID: 0x0102030405060709, HoldMS: 3}}}},
	{"path negotiation -3", VerbPATH_NEGOTIATION, "fffd", &PathNegotiation{Utility: -3}},
	{"path negotiation 1000", VerbPATH_NEGOTIATION, "03e8", &PathNegotiation{Utility: 1000}},
}

func TestMultipathGolden(t *testing.T) {
	for _, g := range multipathGolden {
		want := testutil.Hex(t, g.payload)
		if got := g.msg.AppendPayload(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: encodes as %x, want %x", g.name, got, want)
		}
		m, err := ParsePayload(g.verb, want)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if got := m.AppendPayload(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: decodes and re-encodes as %x", g.name, got)
		}
	}
	q, _ := ParseQoSMeasurement(testutil.Hex(t, multipathGolden[1].payload))
	if len(q.Records) != 2 || q.Records[1].PacketID != 0x0102030405060709 || q.Records[0].HoldMS != 258 {
		t.Errorf("QoS records %+v", q.Records)
	}
}

// TestMultipathPacketSuite0: a whole QOS_MEASUREMENT packet armored as
// 1.14.1 sends it (suite 0) keeps its records readable on the wire and
// dearmors back to them.
func TestMultipathPacketSuite0(t *testing.T) {
	k, _ := armorVectors(t)
	payload := testutil.Hex(t, multipathGolden[1].payload)
	p := NewPacket(nil, 0x1122334455667788, 0x0102030405, 0x0a0b0c0d0e, VerbQOS_MEASUREMENT)
	p = append(p, payload...)
	if err := Armor(p, k, MultipathSuite); err != nil {
		t.Fatal(err)
	}
	if p.Cipher() != SuitePoly1305None || !bytes.Equal(p.Payload(), payload) {
		t.Fatalf("suite %d, payload %x", p.Cipher(), p.Payload())
	}
	if _, err := Dearmor(p, k); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePayload(p.Verb(), p.Payload()); err != nil {
		t.Fatal(err)
	}
}

func TestMultipathRoundTrip(t *testing.T) {
	full := &QoSMeasurement{}
	for i := range QoSMaxRecords {
		full.Records = append(full.Records, QoSRecord{PacketID: uint64(i)*2 + 1, HoldMS: uint16(i)})
	}
	for _, m := range []Message{
		&Ack{Bytes: 0}, &Ack{Bytes: 0xffffffff, Extra: []byte{9}},
		&QoSMeasurement{Records: []QoSRecord{{PacketID: 1, HoldMS: 0xffff}}},
		&QoSMeasurement{Records: []QoSRecord{{PacketID: 3}}, Trailing: []byte{1, 2, 3}},
		full,
		&PathNegotiation{Utility: -32768}, &PathNegotiation{Utility: 32767}, &PathNegotiation{},
	} {
		enc := m.AppendPayload(nil)
		back, err := ParsePayload(m.Verb(), enc)
		if err != nil {
			t.Fatalf("%v %x: %v", m.Verb(), enc, err)
		}
		if again := back.AppendPayload(nil); !bytes.Equal(again, enc) {
			t.Errorf("%v: %x re-encodes as %x", m.Verb(), enc, again)
		}
	}
	if len(full.AppendPayload(nil)) != QoSMaxPayload {
		t.Errorf("%d records do not fill the %d-byte maximum", QoSMaxRecords, QoSMaxPayload)
	}
}

// TestMultipathMalformed: what 1.14.1 ignores is an error here, wrapping
// ErrMalformed; nothing panics.
func TestMultipathMalformed(t *testing.T) {
	for _, c := range []struct {
		verb Verb
		n    int
	}{
		{VerbACK, 0}, {VerbACK, 3},
		{VerbQOS_MEASUREMENT, 0}, {VerbQOS_MEASUREMENT, 8}, {VerbQOS_MEASUREMENT, QoSMaxPayload + 1},
		{VerbPATH_NEGOTIATION, 0}, {VerbPATH_NEGOTIATION, 1}, {VerbPATH_NEGOTIATION, 3},
	} {
		_, err := ParsePayload(c.verb, make([]byte, c.n))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%v with %d bytes: err %v", c.verb, c.n, err)
		}
	}
	// A 9-byte QoS payload is accepted: 1.14.1 reads one record (its last
	// byte from past the payload); ztgo keeps it as Trailing, no record.
	q, err := ParseQoSMeasurement(make([]byte, 9))
	if err != nil || len(q.Records) != 0 || len(q.Trailing) != 9 {
		t.Errorf("9-byte QoS: %+v %v", q, err)
	}
}

func TestQoSRecordsInPlaceAllocateNothing(t *testing.T) {
	payload := testutil.Hex(t, multipathGolden[1].payload)
	var sum uint64
	allocs := testing.AllocsPerRun(100, func() {
		if CheckQoSPayload(payload) != nil {
			t.Fatal("rejected")
		}
		for i := range QoSRecordCount(payload) {
			sum += QoSRecordAt(payload, i).PacketID
		}
		var buf [QoSRecordLength]byte
		_ = AppendQoSRecord(buf[:0], QoSRecord{PacketID: 1})
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

// FuzzMultipath: byte 0 picks the verb (ACK, QOS_MEASUREMENT,
// PATH_NEGOTIATION_REQUEST), the rest is its payload. Nothing panics; what
// decodes re-encodes to the same bytes; the in-place QoS reader agrees
// with the decoder.
func FuzzMultipath(f *testing.F) {
	verbs := [3]Verb{VerbACK, VerbQOS_MEASUREMENT, VerbPATH_NEGOTIATION}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v, payload := verbs[int(data[0])%len(verbs)], data[1:]
		m, err := ParsePayload(v, payload)
		if err != nil {
			return
		}
		if enc := m.AppendPayload(nil); !bytes.Equal(enc, payload) {
			t.Fatalf("%v: %x re-encodes as %x", v, payload, enc)
		}
		if q, ok := m.(*QoSMeasurement); ok {
			if QoSRecordCount(payload) != len(q.Records) {
				t.Fatalf("in-place count %d, decoded %d", QoSRecordCount(payload), len(q.Records))
			}
			for i, r := range q.Records {
				if QoSRecordAt(payload, i) != r {
					t.Fatalf("record %d differs", i)
				}
			}
		}
	})
}
