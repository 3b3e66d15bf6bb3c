package bond

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// sim drives one Bond the way the engine will, in virtual time: a tick
// every 20 ms; the peer sends something on every link that is up every
// 100 ms, answers our ECHOs on links that are up, and every second reports
// there, in QOS_MEASUREMENT, the sampled packets we sent (held 5 ms) — the
// balance policies drop a path the peer stops reporting on.
type sim struct {
	t     *testing.T
	b     *Bond
	now   int64
	paths []PathIndex
	down  map[PathIndex]bool
	id    uint64
	acts  []Action
	sent  map[PathIndex][]uint64 // sampled IDs the peer has yet to report
}

const (
	simTick    = 20
	simTraffic = 100
	simQoS     = 1000
	simHold    = 5
)

func newSim(t *testing.T, tp *Template, links ...string) *sim {
	t.Helper()
	s := &sim{t: t, b: New(tp, 0x0102030405, 0x0a0b0c0d0e, 42), now: 1_000_000, down: map[PathIndex]bool{}, sent: map[PathIndex][]uint64{}}
	for n, l := range links {
		k := PathKey{Link: l, Socket: n, Remote: netip.MustParseAddrPort(fmt.Sprintf("198.51.100.%d:9993", n+1))}
		i, ok := s.b.AddPath(s.now, k)
		if !ok {
			t.Fatalf("AddPath %v refused", k)
		}
		s.paths = append(s.paths, i)
	}
	return s
}

// nextID is a packet ID; like real ones they look random (an LCG here).
func (s *sim) nextID() uint64 {
	s.id = s.id*6364136223846793005 + 1442695040888963407
	return s.id
}

// run advances ms milliseconds.
func (s *sim) run(ms int64) {
	for end := s.now + ms; s.now < end; {
		s.now += simTick
		if s.now%simTraffic == 0 {
			for _, p := range s.paths {
				if !s.down[p] {
					s.b.Received(s.now, p, s.nextID(), wire.VerbNOP, 8, NoFlow)
				}
			}
		}
		if s.now%simQoS == 0 {
			for _, p := range s.paths {
				if !s.down[p] {
					s.peerReportsQoS(p)
				}
			}
		}
		s.acts = s.b.Tick(s.now, s.acts[:0])
		for _, a := range s.acts {
			if a.Kind == SendEcho {
				s.send(a.Path, wire.VerbECHO, NoFlow)
				if !s.down[a.Path] {
					s.b.Received(s.now, a.Path, s.nextID(), wire.VerbOK, 8, NoFlow)
				}
			}
		}
	}
}

// runUntil advances until cond holds, failing after limit ms; it returns
// how long that took.
func (s *sim) runUntil(limit int64, cond func() bool) int64 {
	s.t.Helper()
	start := s.now
	for !cond() {
		if s.now-start > limit {
			s.t.Fatalf("condition not met within %d ms", limit)
		}
		s.run(simTick)
	}
	return s.now - start
}

// pick is the path of one packet of flow f.
func (s *sim) pick(f FlowID) PathIndex {
	p := s.b.Pick(s.now, wire.VerbFRAME, f, nil)
	if len(p) != 1 {
		return NoPath
	}
	s.send(p[0], wire.VerbFRAME, f)
	return p[0]
}

func (s *sim) send(p PathIndex, v wire.Verb, f FlowID) {
	id := s.nextID()
	s.b.Sent(s.now, p, id, v, 100, f)
	if id&1 != 0 && !s.down[p] && len(s.sent[p]) < wire.QoSMaxRecords {
		s.sent[p] = append(s.sent[p], id)
	}
}

func (s *sim) peerReportsQoS(p PathIndex) {
	var payload []byte
	for _, id := range s.sent[p] {
		payload = wire.AppendQoSRecord(payload, wire.QoSRecord{PacketID: id, HoldMS: simHold})
	}
	if len(payload) == 0 { // nothing to report: one record of a packet we never sent
		payload = wire.AppendQoSRecord(payload, wire.QoSRecord{PacketID: 2})
	}
	s.sent[p] = s.sent[p][:0]
	s.b.ReceivedQoS(s.now, p, payload)
}

func (s *sim) eligible(p PathIndex) bool { return s.b.paths[p].eligible }

func custom(p Policy, edit func(*Template)) *Template {
	t := StandardTemplate(p)
	t.Alias = "test"
	if edit != nil {
		edit(t)
	}
	return t
}

func links(ls ...Link) func(*Template) {
	return func(t *Template) {
		for _, l := range ls {
			l.Enabled, l.userSpecified = true, true
			t.Links = append(t.Links, l)
		}
	}
}
