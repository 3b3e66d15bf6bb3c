// Package memnet is an in-memory internet for tests and simulations: hosts
// with IP addresses, NAT routers of the classic kinds in front of private
// LANs, per-link loss and latency, and a pcap writer on any link so that
// `ztdump` can read what a simulation did. Each Host is a transport.Bind.
//
// Time is virtual when the Internet is made with Virtual: datagrams wait in
// a queue until the test advances the clock (Advance, Step), so a run is
// deterministic and needs no sleeps. Otherwise datagrams are delivered in
// real time.
package memnet

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// Options configure an Internet.
type Options struct {
	// Virtual makes time advance only through Advance and Step.
	Virtual bool
	// Seed makes packet loss reproducible.
	Seed uint64
}

// Link describes a host's or NAT's attachment: one-way latency added to
// every datagram crossing it and the probability a datagram is lost.
type Link struct {
	Latency time.Duration
	Loss    float64
}

// Stats count what the internet did with datagrams.
type Stats struct {
	Delivered, Lost, Unroutable, Filtered, TTLExpired uint64
}

// Internet is the whole simulated network.
type Internet struct {
	mu      sync.Mutex
	virtual bool
	start   time.Time
	now     time.Duration // virtual time since start
	rng     *rand.Rand
	queue   eventQueue
	seq     uint64
	public  map[netip.Addr]*Host // hosts reachable without NAT
	nats    map[netip.Addr]*NAT  // by public address
	private map[netip.Addr]*Host // hosts behind a NAT, by private address
	stats   Stats
}

// New makes an empty internet.
func New(opts Options) *Internet {
	return &Internet{
		virtual: opts.Virtual,
		start:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		public:  map[netip.Addr]*Host{},
		nats:    map[netip.Addr]*NAT{},
		private: map[netip.Addr]*Host{},
	}
}

// Now is the internet's clock: virtual time, or the wall clock.
func (in *Internet) Now() time.Time {
	if !in.virtual {
		return time.Now()
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.start.Add(in.now)
}

// wallEpoch anchors elapsedLocked on a wall-clock internet.
var wallEpoch = time.Now()

// elapsedLocked is the internet's time as a duration, with in.mu held:
// virtual time, or wall time since the package loaded.
func (in *Internet) elapsedLocked() time.Duration {
	if in.virtual {
		return in.now
	}
	return time.Since(wallEpoch)
}

// Elapsed is the virtual time since the internet was made.
func (in *Internet) Elapsed() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.now
}

// Stats returns the datagram counters.
func (in *Internet) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

// AddHost attaches a host with a public address (no NAT).
func (in *Internet) AddHost(ip netip.Addr, link Link) (*Host, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.public[ip] != nil || in.nats[ip] != nil {
		return nil, fmt.Errorf("memnet: address %v in use", ip)
	}
	h := newHost(in, ip, nil, link)
	in.public[ip] = h
	return h, nil
}

// AddNAT puts a NAT router of the given kind on public address ip.
func (in *Internet) AddNAT(ip netip.Addr, kind NATType, link Link) (*NAT, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.public[ip] != nil || in.nats[ip] != nil {
		return nil, fmt.Errorf("memnet: address %v in use", ip)
	}
	n := &NAT{in: in, Public: ip, Kind: kind, link: link, byInside: map[mapKey]*mapping{}, byPort: map[uint16]*mapping{}, nextPort: 40000, lan: map[netip.Addr]*Host{}}
	in.nats[ip] = n
	return n, nil
}

// AddHost attaches a host with private address ip to the NAT's LAN.
func (n *NAT) AddHost(ip netip.Addr, link Link) (*Host, error) {
	in := n.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if n.lan[ip] != nil {
		return nil, fmt.Errorf("memnet: address %v in use behind %v", ip, n.Public)
	}
	h := newHost(in, ip, n, link)
	n.lan[ip] = h
	return h, nil
}

// event is one datagram in flight.
type event struct {
	at   time.Duration
	seq  uint64
	to   *Host
	port uint16
	from netip.AddrPort
	data []byte
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// route carries one datagram from host h's port towards dst. It runs with
// in.mu held and schedules the delivery.
func (in *Internet) route(h *Host, srcPort uint16, dst netip.AddrPort, data []byte, ttl int) {
	src := netip.AddrPortFrom(h.ip, srcPort)
	if h.ip.Is4() != dst.Addr().Is4() {
		in.stats.Unroutable++
		return
	}
	h.capture(in.start.Add(in.now), src, dst, data)
	latency := h.link.Latency
	if in.lost(h.link) {
		return
	}
	// Same LAN: straight across, no translation.
	if h.nat != nil {
		if peer := h.nat.lan[dst.Addr()]; peer != nil {
			in.schedule(latency+peer.link.Latency, peer, dst.Port(), src, data, peer.link)
			return
		}
		if ttl > 0 && ttl <= 1 {
			in.stats.TTLExpired++
			return
		}
		var ok bool
		src, ok = h.nat.outbound(src, dst)
		if !ok {
			in.stats.Unroutable++
			return
		}
		h.nat.capture(in.start.Add(in.now), src, dst, data)
		latency += h.nat.link.Latency
		if in.lost(h.nat.link) {
			return
		}
	}
	// A short TTL opens the sender's own NAT mapping and dies on the way.
	if ttl > 0 && ttl <= 2 {
		in.stats.TTLExpired++
		return
	}
	if peer := in.public[dst.Addr()]; peer != nil {
		in.schedule(latency+peer.link.Latency, peer, dst.Port(), src, data, peer.link)
		return
	}
	if n := in.nats[dst.Addr()]; n != nil {
		inside, ok := n.inbound(src, dst)
		if !ok {
			in.stats.Filtered++
			return
		}
		peer := n.lan[inside.Addr()]
		if peer == nil {
			in.stats.Unroutable++
			return
		}
		n.capture(in.start.Add(in.now), src, dst, data)
		in.schedule(latency+n.link.Latency+peer.link.Latency, peer, inside.Port(), src, data, peer.link)
		return
	}
	in.stats.Unroutable++
}

func (in *Internet) lost(l Link) bool {
	if l.Loss > 0 && in.rng.Float64() < l.Loss {
		in.stats.Lost++
		return true
	}
	return false
}

func (in *Internet) schedule(after time.Duration, to *Host, port uint16, from netip.AddrPort, data []byte, last Link) {
	if in.lost(last) {
		return
	}
	in.seq++
	e := &event{at: in.now + after, seq: in.seq, to: to, port: port, from: from, data: data}
	if in.virtual {
		heap.Push(&in.queue, e)
		return
	}
	if after <= 0 && !to.hasHandler() {
		// Queue mode never calls back into a sender, so in.mu may be held.
		in.stats.Delivered++
		e.to.deliver(e, time.Now())
		return
	}
	time.AfterFunc(after, func() {
		in.mu.Lock()
		in.stats.Delivered++
		in.mu.Unlock()
		e.to.deliver(e, time.Now())
	})
}

// NextEvent returns when the next datagram arrives (virtual mode only).
func (in *Internet) NextEvent() (time.Duration, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.queue) == 0 {
		return 0, false
	}
	return in.queue[0].at, true
}

// Step delivers the next datagram in flight, advancing the clock to its
// arrival. It reports false when nothing is in flight.
func (in *Internet) Step() bool {
	in.mu.Lock()
	if len(in.queue) == 0 {
		in.mu.Unlock()
		return false
	}
	e := heap.Pop(&in.queue).(*event)
	if e.at > in.now {
		in.now = e.at
	}
	in.stats.Delivered++
	at := in.start.Add(in.now)
	in.mu.Unlock()
	e.to.deliver(e, at)
	return true
}

// Advance delivers every datagram due up to the virtual time t (relative
// to the start), including ones sent by the deliveries themselves, and
// leaves the clock at t.
func (in *Internet) Advance(t time.Duration) {
	for {
		in.mu.Lock()
		if len(in.queue) == 0 || in.queue[0].at > t {
			if t > in.now {
				in.now = t
			}
			in.mu.Unlock()
			return
		}
		in.mu.Unlock()
		in.Step()
	}
}

// Start is the instant virtual time counts from.
func (in *Internet) Start() time.Time { return in.start }
