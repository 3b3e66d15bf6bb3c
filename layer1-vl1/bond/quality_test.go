package bond

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

func twoPathBond(t *testing.T, p Policy) (*Bond, PathIndex, PathIndex) {
	t.Helper()
	b := New(custom(p, func(t *Template) { t.FailoverInterval = 1000 }), 1, 2, 3)
	a, _ := b.AddPath(0, PathKey{Link: "eth0", Remote: netip.MustParseAddrPort("198.51.100.1:9993")})
	c, _ := b.AddPath(0, PathKey{Link: "eth1", Socket: 1, Remote: netip.MustParseAddrPort("[2001:db8::1]:9993")})
	return b, a, c
}

// TestLatencyFromQoS: latency is half of (round trip − the peer's hold
// time), averaged once four samples are in; only odd packet IDs are
// sampled; the spread is 1.14's (see latencyStats).
func TestLatencyFromQoS(t *testing.T) {
	b, a, _ := twoPathBond(t, PolicyBalanceXOR)
	var payload []byte
	for id := uint64(1); id <= 16; id++ {
		b.Sent(100, a, id, wire.VerbFRAME, 100, NoFlow)
		if id%2 == 1 {
			payload = wire.AppendQoSRecord(payload, wire.QoSRecord{PacketID: id, HoldMS: 10})
		}
	}
	if n := b.paths[a].nQoSOut; n != 8 {
		t.Fatalf("%d packets sampled of 16, want the 8 odd ones", n)
	}
	// Received 110 ms after sending, held 10: one-way latency 50.
	if !b.ReceivedQoS(210, a, payload) {
		t.Fatal("QoS refused")
	}
	b.estimateQuality(210)
	if s := b.paths[a]; s.latency != 50 || s.latencyStddev != 0 || s.nQoSOut != 0 {
		t.Errorf("latency %v ± %v, %d unanswered", s.latency, s.latencyStddev, s.nQoSOut)
	}
	if b.ReceivedQoS(211, a, payload[:8]) {
		t.Error("an 8-byte QoS payload was used")
	}
}

// TestUnansweredQoSExpire: sampled packets never reported are forgotten
// after 3 × qosSendInterval, so the table never fills with the lost.
func TestUnansweredQoSExpire(t *testing.T) {
	b, a, _ := twoPathBond(t, PolicyBalanceXOR)
	for id := uint64(1); id < 2000; id += 2 {
		b.Sent(0, a, id, wire.VerbFRAME, 100, NoFlow)
	}
	if b.paths[a].nQoSOut != qosMaxPending {
		t.Fatalf("%d pending, want the cap %d", b.paths[a].nQoSOut, qosMaxPending)
	}
	b.estimateQuality(6000)
	if b.paths[a].nQoSOut != 0 {
		t.Errorf("%d pending after 3 × qosSendInterval", b.paths[a].nQoSOut)
	}
}

// TestQoSReport: what we report to the peer, and when: every 2 ×
// failoverInterval, or as soon as 140 sampled packets wait; records lowest
// packet ID first with their hold times, in 1.14's byte layout.
func TestQoSReport(t *testing.T) {
	b, a, _ := twoPathBond(t, PolicyActiveBackup)
	b.Received(1000, a, 0x0102030405060709, wire.VerbFRAME, 100, NoFlow)
	b.Received(1255, a, 0xff, wire.VerbNOP, 8, NoFlow)
	b.Received(1256, a, 0x10, wire.VerbFRAME, 100, NoFlow)         // even: not sampled
	b.Received(1257, a, 0x11, wire.VerbQOS_MEASUREMENT, 0, NoFlow) // QoS itself: not sampled
	if acts := b.Tick(1500, nil); hasAction(acts, SendQoS, a) {
		t.Error("QoS due before qosSendInterval")
	}
	acts := b.Tick(1000+2001, nil)
	if !hasAction(acts, SendQoS, a) {
		t.Fatalf("no QoS after qosSendInterval: %v", acts)
	}
	if p := b.AppendQoS(3001, a, nil); len(p) != 2*wire.QoSRecordLength {
		t.Errorf("report of %d bytes, want the 2 sampled packets", len(p))
	}
	if hasAction(b.Tick(3100, nil), SendQoS, a) {
		t.Error("QoS due again right after a report")
	}
	b2, a2, _ := twoPathBond(t, PolicyActiveBackup)
	b2.Received(1000, a2, 0x0102030405060709, wire.VerbFRAME, 100, NoFlow)
	b2.Received(745, a2, 0xff, wire.VerbNOP, 8, NoFlow)
	got := b2.AppendQoS(1003, a2, nil)
	// The golden payload of wire's TestMultipathGolden: 0xff held 258 ms,
	// then 0x0102030405060709 held 3 ms.
	golden := []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0x09, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x03, 0x00}
	if !bytes.Equal(got, golden) {
		t.Errorf("QoS payload\n got %x\nwant %x", got, golden)
	}
	if again := b2.AppendQoS(1004, a2, nil); len(again) != 0 {
		t.Errorf("records reported twice: %x", again)
	}
	for id := uint64(1); id < 2*wire.QoSMaxRecords+1; id += 2 {
		b2.Received(2000, a2, id, wire.VerbFRAME, 100, NoFlow)
	}
	if !hasAction(b2.Tick(2000, nil), SendQoS, a2) {
		t.Error("no QoS with 140 records waiting")
	}
	if p := b2.AppendQoS(2000, a2, nil); len(p) != wire.QoSMaxPayload {
		t.Errorf("full report is %d bytes", len(p))
	}
}

func hasAction(acts []Action, k ActionKind, p PathIndex) bool {
	for _, a := range acts {
		if a.Kind == k && a.Path == p {
			return true
		}
	}
	return false
}

// TestEchoHeartbeat: a path silent for failoverInterval/3 gets an ECHO.
func TestEchoHeartbeat(t *testing.T) {
	b, a, c := twoPathBond(t, PolicyActiveBackup)
	b.Received(10000, a, 2, wire.VerbNOP, 0, NoFlow)
	b.Received(10000, c, 4, wire.VerbNOP, 0, NoFlow)
	b.Tick(10000, nil)
	if acts := b.Tick(10200, nil); len(acts) != 0 {
		t.Errorf("ECHO before failoverInterval/3: %v", acts)
	}
	b.Received(10300, c, 6, wire.VerbNOP, 0, NoFlow)
	acts := b.Tick(10334, nil)
	if !hasAction(acts, SendEcho, a) || hasAction(acts, SendEcho, c) {
		t.Errorf("ECHOs %v, want one on path %d", acts, a)
	}
}

// TestStatusJSON: the fields and JSON names 1.14 serves for a bonded peer.
func TestStatusJSON(t *testing.T) {
	s := newSim(t, custom(PolicyBalanceXOR, func(t *Template) { t.UpDelay, t.DownDelay, t.PacketsPerLink = 10, 20, 64 }), "eth0", "eth1")
	s.run(1000)
	st := s.b.Status(s.now)
	if !st.IsBonded || st.PolicyCode != 4 || st.PolicyStr != "balance-xor" || st.NumTotalLinks != 2 || st.NumAliveLinks != 2 ||
		st.FailoverInterval != 5000 || st.UpDelay != 10 || st.DownDelay != 20 || len(st.Paths) != 2 || st.Paths[0].Ifname != "eth0" {
		t.Errorf("%+v", st)
	}
	j, _ := json.Marshal(st)
	for _, k := range []string{"isBonded", "bondingPolicyCode", "bondingPolicyStr", "numAliveLinks", "numTotalLinks",
		"failoverInterval", "downDelay", "upDelay", "packetsPerLink"} {
		if !strings.Contains(string(j), `"`+k+`":`) {
			t.Errorf("peer JSON lacks %s: %s", k, j)
		}
	}
	pj, _ := json.Marshal(st.Paths[0])
	for _, k := range []string{"ifname", "latencyMean", "latencyVariance", "packetLossRatio", "packetErrorRatio",
		"assignedFlowCount", "lastInAge", "lastOutAge", "bonded", "eligible", "givenLinkSpeed", "relativeQuality"} {
		if !strings.Contains(string(pj), `"`+k+`":`) {
			t.Errorf("path JSON lacks %s: %s", k, pj)
		}
	}
	var m map[string]any
	_ = json.Unmarshal(pj, &m)
	if len(m) != 12 {
		t.Errorf("path JSON has %d fields, want 1.14's 12: %s", len(m), pj)
	}
}

// TestTwoBondsMeasureEachOther: two bonds exchange packets and each
// other's QOS_MEASUREMENT payloads, through the wire encoding, over a
// link of 30 ms one way out and 20 ms back: each measures half the round
// trip net of the other's hold time, and stays eligible past the trial
// period because reports keep coming.
func TestTwoBondsMeasureEachOther(t *testing.T) {
	tp := custom(PolicyBalanceXOR, func(t *Template) { t.FailoverInterval = 1000 })
	x, y := New(tp, 2, 1, 7), New(tp, 1, 2, 8)
	k := PathKey{Link: "eth0", Remote: netip.MustParseAddrPort("198.51.100.1:9993")}
	px, _ := x.AddPath(0, k)
	py, _ := y.AddPath(0, k)
	type inflight struct {
		at  int64
		id  uint64
		qos []byte
		toY bool
	}
	var onLink []inflight
	id := uint64(1)
	var acts []Action
	for now := int64(0); now < 40000; now += 10 {
		// x sends a frame every 10 ms, y every 50 ms.
		x.Sent(now, px, id, wire.VerbFRAME, 100, NoFlow)
		onLink = append(onLink, inflight{at: now + 30, id: id, toY: true})
		id += 2
		if now%50 == 0 {
			y.Sent(now, py, id, wire.VerbFRAME, 100, NoFlow)
			onLink = append(onLink, inflight{at: now + 20, id: id})
			id += 2
		}
		for _, side := range []struct {
			b    *Bond
			p    PathIndex
			toY  bool
			late int64
		}{{x, px, true, 30}, {y, py, false, 20}} {
			acts = side.b.Tick(now, acts[:0])
			for _, a := range acts {
				if a.Kind == SendQoS {
					onLink = append(onLink, inflight{at: now + side.late, qos: side.b.AppendQoS(now, a.Path, nil), toY: side.toY})
				}
			}
		}
		rest := onLink[:0]
		for _, m := range onLink {
			switch {
			case m.at > now:
				rest = append(rest, m)
			case m.qos != nil && m.toY:
				y.ReceivedQoS(now, py, m.qos)
			case m.qos != nil:
				x.ReceivedQoS(now, px, m.qos)
			case m.toY:
				y.Received(now, py, m.id, wire.VerbFRAME, 100, NoFlow)
			default:
				x.Received(now, px, m.id, wire.VerbFRAME, 100, NoFlow)
			}
		}
		onLink = rest
	}
	for _, b := range []*Bond{x, y} {
		s := b.paths[0]
		if s.latency < 24 || s.latency > 26 || !s.eligible || s.nLatency < latencyMinSamples {
			t.Errorf("latency %v (want 25), eligible %v, %d samples", s.latency, s.eligible, s.nLatency)
		}
	}
}
