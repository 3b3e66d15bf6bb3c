// Package vl1test is a deterministic in-process harness for VL1: N nodes
// on the in-memory internet of package memnet, a private planet with its
// own root, NATs of every kind, and virtual time. Nothing sleeps: RunFor
// delivers datagrams and fires node timers in time order, so a simulated
// hour takes as long as its packets take to process.
package vl1test

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer0-transport/memnet"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// Pre-generated identities: generating one costs a quarter second of proof
// of work, which a 50-node test should not pay.
//
//go:embed testdata/identities.secret
var identityFile []byte

// Identities returns the harness's pre-generated identities (with secrets).
func Identities(tb testing.TB) []*identity.Identity {
	tb.Helper()
	var ids []*identity.Identity
	sc := bufio.NewScanner(bytes.NewReader(identityFile))
	for sc.Scan() {
		id, err := identity.Parse(sc.Text())
		if err != nil {
			tb.Fatalf("harness identity: %v", err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Node is one simulated machine running a VL1 engine.
type Node struct {
	*vl1.Node
	Name string
	Host *memnet.Host
	Bind *Bind       // what the engine sends through
	NAT  *memnet.NAT // nil for a host on the public side
	Port uint16
	next time.Duration
	h    *Harness
}

// Endpoint is where others reach the node's socket from inside its LAN.
func (n *Node) Endpoint() netip.AddrPort { return netip.AddrPortFrom(n.Host.IP(), n.Port) }

// Options configure a harness.
type Options struct {
	Seed uint64
	// Roots is how many roots the private planet has (default 1).
	Roots int
	// Upper, if set, makes the upper layer for each node.
	Upper func(name string) vl1.Upper
	// NewerRootPlanet gives the roots a newer revision of the planet than
	// the other nodes, signed with the same key, to test updates.
	NewerRootPlanet bool
	// RootMoon makes the first root also the root of a moon (Moon), which
	// the roots orbit; other nodes can orbit it with the root as seed.
	RootMoon bool
	// Configure, if set, adjusts each node's engine configuration before
	// it starts (bonding settings, for instance).
	Configure func(name string, cfg *vl1.Config)
}

// Harness is a simulated internet with a private planet.
type Harness struct {
	TB     testing.TB
	Net    *memnet.Internet
	Planet *world.World // what non-root nodes start with
	// RootPlanet is the roots' planet (newer than Planet with
	// NewerRootPlanet), Moon the roots' moon with RootMoon.
	RootPlanet *world.World
	Moon       *world.World
	Roots      []*Node
	Nodes      []*Node // every node, roots first
	ids        []*identity.Identity
	opts       Options
	nextIP     int
	nextNA     int
}

// Public underlay addresses come from 198.18.0.0/15, the range DEVELOPERS.md
// reserves for tests, one /24 per machine: roots rate-limit new identities
// per /24 (vl1-peers.md §3), and real machines rarely share one.
func (h *Harness) publicIP() netip.Addr {
	n := h.nextIP
	h.nextIP++
	return netip.AddrFrom4([4]byte{198, byte(18 + n>>8), byte(n), 1})
}

// New builds the internet, the planet and its roots.
func New(tb testing.TB, opts Options) *Harness {
	tb.Helper()
	if opts.Roots == 0 {
		opts.Roots = 1
	}
	h := &Harness{TB: tb, Net: memnet.New(memnet.Options{Virtual: true, Seed: opts.Seed}), ids: Identities(tb), opts: opts}
	var roots []world.Root
	var rootIPs []netip.Addr
	for i := range opts.Roots {
		ip := h.publicIP()
		rootIPs = append(rootIPs, ip)
		roots = append(roots, world.Root{Identity: h.ids[i].Public(), StableEndpoints: []netip.AddrPort{netip.AddrPortFrom(ip, 9993)}})
	}
	// The planet is signed by the first root's own key pair: any C25519
	// key works, and this keeps the harness free of extra randomness.
	kp := h.ids[0]
	pub := kp.PublicKey()
	secret := kp.SecretKey()
	ts := uint64(h.Net.Start().UnixMilli())
	h.Planet = world.Make(world.Planet, 0x5a7e57, ts, pub, roots, &secret)
	h.RootPlanet = h.Planet
	if opts.NewerRootPlanet {
		h.RootPlanet = world.Make(world.Planet, 0x5a7e57, ts+1, pub, roots, &secret)
	}
	if opts.RootMoon {
		h.Moon = world.Make(world.Moon, world.MoonIDForAddress(h.ids[0].Address()), ts, pub, roots[:1], &secret)
	}
	for i := range opts.Roots {
		host, err := h.Net.AddHost(rootIPs[i], memnet.Link{Latency: 10 * time.Millisecond})
		if err != nil {
			tb.Fatal(err)
		}
		h.Roots = append(h.Roots, h.start(fmt.Sprintf("root%d", i), h.ids[i], host, nil, true))
	}
	return h
}

// Add starts a node. nat 0 puts it on the public side; otherwise it sits
// alone behind a NAT of that kind.
func (h *Harness) Add(name string, nat memnet.NATType) *Node {
	h.TB.Helper()
	idx := len(h.Nodes)
	if idx >= len(h.ids) {
		h.TB.Fatalf("harness has only %d identities", len(h.ids))
	}
	var host *memnet.Host
	var n *memnet.NAT
	var err error
	if nat == 0 {
		host, err = h.Net.AddHost(h.publicIP(), memnet.Link{Latency: 5 * time.Millisecond})
	} else {
		h.nextNA++
		n, err = h.Net.AddNAT(h.publicIP(), nat, memnet.Link{Latency: 5 * time.Millisecond})
		if err == nil {
			host, err = n.AddHost(netip.AddrFrom4([4]byte{10, byte(h.nextNA >> 8), byte(h.nextNA), 2}), memnet.Link{Latency: time.Millisecond})
		}
	}
	if err != nil {
		h.TB.Fatal(err)
	}
	return h.start(name, h.ids[idx], host, n, false)
}

// AddWithIdentity starts a public node with a given identity (for hostile
// tests: an identity may even claim another's address).
func (h *Harness) AddWithIdentity(name string, id *identity.Identity) *Node {
	h.TB.Helper()
	host, err := h.Net.AddHost(h.publicIP(), memnet.Link{Latency: 5 * time.Millisecond})
	if err != nil {
		h.TB.Fatal(err)
	}
	return h.start(name, id, host, nil, false)
}

func (h *Harness) start(name string, id *identity.Identity, host *memnet.Host, nat *memnet.NAT, root bool) *Node {
	return h.startBind(name, id, &Bind{Host: host}, nat, root)
}

func (h *Harness) startBind(name string, id *identity.Identity, bind *Bind, nat *memnet.NAT, root bool) *Node {
	host := bind.Host
	port, err := bind.open(9993)
	if err != nil {
		h.TB.Fatal(err)
	}
	var seed [32]byte
	copy(seed[:], name)
	seed[31] = byte(h.opts.Seed)
	cfg := vl1.Config{Identity: id, Bind: bind, Planet: h.Planet, Now: h.Net.Now, Seed: &seed}
	if root {
		cfg.Planet = h.RootPlanet
		if h.Moon != nil {
			cfg.Moons = []*world.World{h.Moon}
		}
	}
	if h.opts.Upper != nil {
		cfg.Upper = h.opts.Upper(name)
	}
	if h.opts.Configure != nil {
		h.opts.Configure(name, &cfg)
	}
	v, err := vl1.New(cfg)
	if err != nil {
		h.TB.Fatal(err)
	}
	n := &Node{Node: v, Name: name, Host: host, Bind: bind, NAT: nat, Port: port, h: h, next: h.Net.Elapsed()}
	bind.setHandler(func(ep transport.Endpoint, data []byte) { v.Receive(ep, data) })
	h.Nodes = append(h.Nodes, n)
	return n
}

// Stop takes a node off the network: its socket closes and its timers stop.
func (h *Harness) Stop(n *Node) {
	n.Bind.closeLinks()
	for i, m := range h.Nodes {
		if m == n {
			h.Nodes = append(h.Nodes[:i], h.Nodes[i+1:]...)
			return
		}
	}
}

// Capture returns copies of the datagrams n sends while fn runs.
func (n *Node) Capture(fn func()) [][]byte {
	var out [][]byte
	n.Bind.Tap(func(_ transport.Endpoint, d []byte) { out = append(out, append([]byte(nil), d...)) })
	defer n.Bind.Tap(nil)
	fn()
	return out
}

// Restart brings a stopped node back on the same host with the same
// identity, as a restarted process: a new engine that remembers nothing.
func (h *Harness) Restart(n *Node) *Node {
	h.TB.Helper()
	root := slices.Contains(h.Roots, n)
	m := h.startBind(n.Name, n.Identity(), &Bind{Host: n.Host, links: n.Bind.links, down: n.Bind.down}, n.NAT, root)
	if root {
		for i, r := range h.Roots {
			if r == n {
				h.Roots[i] = m
			}
		}
	}
	return m
}

// RunFor advances virtual time by d, delivering every datagram and firing
// every timer in order.
func (h *Harness) RunFor(d time.Duration) {
	h.RunUntil(func() bool { return false }, d)
}

// RunUntil advances virtual time until cond holds (checked after each
// step) or limit passes; it reports whether cond held.
func (h *Harness) RunUntil(cond func() bool, limit time.Duration) bool {
	end := h.Net.Elapsed() + limit
	start := h.Net.Start()
	for {
		if cond() {
			return true
		}
		next := end
		if t, ok := h.Net.NextEvent(); ok && t < next {
			next = t
		}
		for _, n := range h.Nodes {
			next = min(next, n.next)
		}
		h.Net.Advance(next)
		for _, n := range h.Nodes {
			if n.next <= next {
				n.next = max(n.Tick().Sub(start), next+time.Millisecond)
			}
		}
		if next >= end {
			return cond()
		}
	}
}

// Elapsed is the virtual time since the harness started.
func (h *Harness) Elapsed() time.Duration { return h.Net.Elapsed() }

// Describe prints every node's peers and paths, for failure messages.
func (h *Harness) Describe() string {
	var b strings.Builder
	for _, n := range h.Nodes {
		fmt.Fprintf(&b, "%s %v (%v):\n", n.Name, n.Address(), n.Endpoint())
		for _, p := range n.Peers() {
			fmt.Fprintf(&b, "  %v %s", p.Address, p.Role)
			for _, pa := range p.Paths {
				fmt.Fprintf(&b, " %v", pa.Endpoint)
			}
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  stats %+v\n", n.Stats())
	}
	return b.String()
}

// Bind is a node's transport: its memnet host, with a switch that makes
// sends vanish (benchmarks measure the engine alone) and a tap that sees
// every datagram the node sends.
type Bind struct {
	*memnet.Host
	Mute atomic.Bool
	// A node with several links (AddMultiLink) has a host per link, socket
	// i on links[i], and a switch per link that cuts it.
	links []*memnet.Host
	down  []*atomic.Bool
	gone  []*atomic.Bool                                           // the link's interface went away: its socket is closed
	tap   atomic.Pointer[func(ep transport.Endpoint, data []byte)] // read on every send: no lock
}

// Tap calls fn with every datagram the node sends (nil stops).
func (b *Bind) Tap(fn func(ep transport.Endpoint, data []byte)) {
	if fn == nil {
		b.tap.Store(nil)
		return
	}
	b.tap.Store(&fn)
}

// Send implements transport.Bind.
func (b *Bind) Send(bufs [][]byte, ep transport.Endpoint) error {
	if tap := b.tap.Load(); tap != nil {
		for _, d := range bufs {
			(*tap)(ep, d)
		}
	}
	if b.Mute.Load() {
		return nil
	}
	if b.links != nil {
		return b.sendLinks(bufs, ep)
	}
	return b.Host.Send(bufs, ep)
}

// SendTTL implements transport.TTLSender.
func (b *Bind) SendTTL(buf []byte, ep transport.Endpoint, ttl int) error {
	if b.Mute.Load() {
		return nil
	}
	if b.links != nil {
		for k, l := range b.links {
			if (ep.Socket == transport.AnySocket || ep.Socket == k) && !b.down[k].Load() && linkOf(ep.Addr.Addr()) == k {
				_ = l.SendTTL(buf, transport.Endpoint{Addr: ep.Addr}, ttl)
			}
		}
		return nil
	}
	return b.Host.SendTTL(buf, ep, ttl)
}
