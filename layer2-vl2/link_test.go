package vl2_test

import (
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/rules"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// The engine is VL2's link; the switch is VL1's upper layer.
var (
	_ vl2.Link  = (*vl1.Node)(nil)
	_ vl1.Upper = (*vl2.Switch)(nil)
)

// sentPacket is one Send the fake link saw.
type sentPacket struct {
	to       identity.Address
	verb     wire.Verb
	payload  []byte
	compress bool
	id       uint64
}

// fakeLink is a vl2.Link with no engine behind it: it keeps what VL2 sent
// and asked, and knows the peers the test tells it about.
type fakeLink struct {
	self *identity.Identity
	now  time.Time

	mu      sync.Mutex
	peers   map[identity.Address]*identity.Identity
	sent    []sentPacket
	whois   []identity.Address
	lastID  uint64
	counted int  // sends while countOnly
	countOn bool // count sends without keeping them (allocation test)
}

func newFakeLink(self *identity.Identity) *fakeLink {
	return &fakeLink{self: self, now: time.UnixMilli(1_700_000_000_000), peers: map[identity.Address]*identity.Identity{}, lastID: 0x1000}
}

func (f *fakeLink) Address() identity.Address    { return f.self.Address() }
func (f *fakeLink) Identity() *identity.Identity { return f.self }
func (f *fakeLink) Now() time.Time               { return f.now }
func (f *fakeLink) IsRoot() bool                 { return false }
func (f *fakeLink) Upstreams() []identity.Address {
	return nil
}
func (f *fakeLink) BestUpstream() identity.Address { return 0 }

func (f *fakeLink) Send(dst identity.Address, verb wire.Verb, payload []byte, compress bool) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastID++
	if f.countOn {
		f.counted++
		return f.lastID, nil
	}
	f.sent = append(f.sent, sentPacket{dst, verb, slices.Clone(payload), compress, f.lastID})
	return f.lastID, nil
}

func (f *fakeLink) PeerIdentity(a identity.Address) *identity.Identity {
	if a == f.self.Address() {
		return f.self.Public()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peers[a]
}

func (f *fakeLink) RequestWhois(a identity.Address) {
	f.mu.Lock()
	f.whois = append(f.whois, a)
	f.mu.Unlock()
}

func (f *fakeLink) learn(id *identity.Identity) {
	f.mu.Lock()
	f.peers[id.Address()] = id.Public()
	f.mu.Unlock()
}

// take returns and forgets what was sent.
func (f *fakeLink) take() []sentPacket {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

func fixtureIdentity(tb testing.TB, role string) *identity.Identity {
	tb.Helper()
	id, err := identity.Parse(string(testutil.ReadFile(tb, "captures", "basic", role+".identity.secret")))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// recordingDevice is a FrameDevice that keeps the frames written to it.
type recordingDevice struct {
	mu     sync.Mutex
	frames [][]byte
}

func (d *recordingDevice) Read([][]byte, []int, int) (int, error) { select {} }
func (d *recordingDevice) Write(bufs [][]byte, offset int) (int, error) {
	d.mu.Lock()
	for _, b := range bufs {
		d.frames = append(d.frames, slices.Clone(b[offset:]))
	}
	d.mu.Unlock()
	return len(bufs), nil
}
func (d *recordingDevice) MTU() int       { return 2800 }
func (d *recordingDevice) Name() string   { return "fake0" }
func (d *recordingDevice) Close() error   { return nil }
func (d *recordingDevice) BatchSize() int { return 1 }

func (d *recordingDevice) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.frames)
}

func frameFrom(nwid uint64, payload []byte) []byte {
	f := vl2wire.Frame{NetworkID: nwid, EtherType: 0x0800, Payload: payload}
	return f.AppendPayload(nil)
}

// TestSwitchOnFakeLink runs VL2 on a fake link, no VL1 engine: making the
// switch sends nothing; joining asks the network's controller for a config
// through the link, and only a refusal answering that request (by the ID
// the link returned) counts; frames for networks not joined, or not yet
// configured, reach no device.
func TestSwitchOnFakeLink(t *testing.T) {
	self, ctl := fixtureIdentity(t, "za"), fixtureIdentity(t, "controller")
	link := newFakeLink(self)
	s := vl2.New(vl2.Config{Link: link})
	if got := link.take(); len(got) != 0 {
		t.Fatalf("vl2.New sent %d packets", len(got))
	}

	nwid := uint64(ctl.Address())<<24 | 0x000abc
	dev := &recordingDevice{}
	nw, err := s.Join(nwid, dev)
	if err != nil {
		t.Fatal(err)
	}
	sent := link.take()
	if len(sent) != 1 {
		t.Fatalf("join sent %d packets, want 1 config request", len(sent))
	}
	req := sent[0]
	if req.to != ctl.Address() || req.verb != wire.VerbNETWORK_CONFIG_REQUEST || !req.compress {
		t.Fatalf("join sent %v to %v (compress %v), want NETWORK_CONFIG_REQUEST to the controller %v", req.verb, req.to, req.compress, ctl.Address())
	}
	r, err := vl2wire.ParseNetworkConfigRequest(req.payload)
	if err != nil || r.NetworkID != nwid {
		t.Fatalf("config request: %+v, %v", r, err)
	}

	// Frames: another network's is ignored outright; the joined network
	// has no config yet, so the sender is asked for credentials and the
	// frame kept back, not delivered.
	stranger := identity.Address(0x0102030405)
	if s.HandleVL2(vl1.Inbound{From: stranger, Verb: wire.VerbFRAME, PacketID: 7, Payload: frameFrom(nwid+1, []byte("x"))}) {
		t.Fatal("a frame for a network not joined was trusted")
	}
	if got := link.take(); len(got) != 0 {
		t.Fatalf("a frame for a network not joined made %d packets", len(got))
	}
	if s.HandleVL2(vl1.Inbound{From: stranger, Verb: wire.VerbFRAME, PacketID: 8, Payload: frameFrom(nwid, []byte("x"))}) {
		t.Fatal("a frame on an unconfigured network was trusted")
	}
	s.FlushVL2()
	if dev.count() != 0 {
		t.Fatal("a frame on an unconfigured network reached the device")
	}
	if got := link.take(); len(got) != 1 || got[0].to != stranger || got[0].verb != wire.VerbERROR {
		t.Fatalf("unconfigured network: sent %+v, want one ERROR to the sender", got)
	}

	// The controller refuses: only in reply to the request the link sent.
	refusal := func(inReID uint64) vl1.Inbound {
		body := (&vl2wire.ErrorBody{Code: wire.ErrorObjectNotFound, NetworkID: nwid}).Append(nil)
		e := wire.Error{InReVerb: wire.VerbNETWORK_CONFIG_REQUEST, InReID: inReID, Code: wire.ErrorObjectNotFound, Body: body}
		return vl1.Inbound{From: ctl.Address(), Verb: wire.VerbERROR, Payload: e.AppendPayload(nil)}
	}
	s.HandleVL2(refusal(req.id + 100))
	if st := nw.Status(); st != vl2.StatusRequestingConfiguration {
		t.Fatalf("a refusal of no request of ours changed the status to %v", st)
	}
	s.HandleVL2(refusal(req.id))
	if st := nw.Status(); st != vl2.StatusNotFound {
		t.Fatalf("status after the controller's refusal: %v, want NOT_FOUND", st)
	}
}

// TestSwitchOnFakeLinkConfigAndFrames delivers a config over the fake link
// (asking WHOIS for the controller first), then checks the frame paths
// both ways, and that sending a unicast frame through the link interface
// allocates nothing.
func TestSwitchOnFakeLinkConfigAndFrames(t *testing.T) {
	self, ctl := fixtureIdentity(t, "za"), fixtureIdentity(t, "controller")
	link := newFakeLink(self)
	s := vl2.New(vl2.Config{Link: link})
	nwid := uint64(ctl.Address())<<24 | 0x000abd
	dev := &recordingDevice{}
	nw, err := s.Join(nwid, dev)
	if err != nil {
		t.Fatal(err)
	}
	link.take()

	now := link.Now().UnixMilli()
	cfg := &vl2wire.NetworkConfig{
		NetworkID: nwid, Timestamp: now, CredentialTimeMaxDelta: 7200000, Revision: 1,
		IssuedTo: self.Address(), Type: vl2wire.NetworkPublic, MTU: 2800, MulticastLimit: 32,
		Rules: rules.AppendTable(nil, []rules.Rule{{Type: rules.ActionAccept}}),
	}
	com := vl2wire.NewCOM(now, cfg.CredentialTimeMaxDelta, nwid, self.Public())
	if err := com.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	cfg.COM = com
	dict := cfg.Dictionary()
	chunks, err := vl2wire.ConfigChunks(nwid, dict.Append(nil), 42, ctl)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("%d chunks, %v", len(chunks), err)
	}
	push := vl1.Inbound{From: ctl.Address(), Verb: wire.VerbNETWORK_CONFIG, PacketID: 99, Payload: chunks[0].AppendPayload(nil)}

	// The controller is not known yet: the switch asks the link for it.
	s.HandleVL2(push)
	if !slices.Contains(link.whois, ctl.Address()) || nw.Status() != vl2.StatusRequestingConfiguration {
		t.Fatalf("config from an unknown controller: WHOIS %v, status %v", link.whois, nw.Status())
	}
	link.learn(ctl)
	s.HandleVL2(push)
	if st := nw.Status(); st != vl2.StatusOK {
		t.Fatalf("status after the config: %v", st)
	}
	var acked bool
	for _, p := range link.take() {
		acked = acked || (p.to == ctl.Address() && p.verb == wire.VerbOK)
	}
	if !acked {
		t.Fatal("the pushed config was not acknowledged through the link")
	}

	// In: a member's frame reaches the device once flushed.
	member := identity.Address(0x0a0b0c0d0e)
	if !s.HandleVL2(vl1.Inbound{From: member, Verb: wire.VerbFRAME, PacketID: 5, Payload: frameFrom(nwid, []byte("hello"))}) {
		t.Fatal("a member's frame on a public network was not trusted")
	}
	s.FlushVL2()
	if dev.count() != 1 {
		t.Fatalf("device got %d frames, want 1", dev.count())
	}

	// Out: a frame from the OS to the member's MAC goes out as a FRAME.
	dst, src := vl2wire.MACFor(member, nwid), nw.Info().MAC
	frame := make([]byte, 14+64)
	copy(frame[0:6], dst.Append(nil))
	copy(frame[6:12], src.Append(nil))
	binary.BigEndian.PutUint16(frame[12:14], 0x0800)
	nw.HandleFrame(frame)
	var framed bool
	for _, p := range link.take() {
		framed = framed || (p.to == member && p.verb == wire.VerbFRAME)
	}
	if !framed {
		t.Fatal("a frame from the OS was not sent to the member through the link")
	}
	link.mu.Lock()
	link.countOn = true
	link.mu.Unlock()
	if a := testing.AllocsPerRun(100, func() { nw.HandleFrame(frame) }); a != 0 {
		t.Errorf("sending a unicast frame through the link: %v allocations per frame", a)
	}
	if link.counted < 100 {
		t.Fatalf("%d frames sent", link.counted)
	}
}
