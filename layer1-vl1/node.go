package vl1

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// Version is a software version as HELLO carries it.
type Version struct {
	Major, Minor uint8
	Revision     uint16
}

// CompatVersion is what ztgo announces: the ZeroTierOne release whose
// protocol behaviour it implements.
var CompatVersion = Version{1, 14, 1}

// Inbound is an authenticated packet VL1 does not handle itself: a VL2
// verb, or an OK or ERROR answering one. Payload is what follows the verb
// byte, decrypted and decompressed; it is valid only during the call.
type Inbound struct {
	From     identity.Address
	Verb     wire.Verb
	PacketID uint64 // as on the wire, for OK/ERROR replies
	Hops     int
	Payload  []byte
}

// Upper is the layer above VL1 (VL2's switch), installed with SetUpper or
// Config.Upper: VL1 hands it the verbs VL1 does not own, runs its timers
// and tells it when a received batch ends.
type Upper interface {
	// HandleVL2 takes a verb VL1 does not own. It returns true when the
	// packet was accepted for a network shared with the sender: a
	// trust-established packet (vl1.md §7.13), which lets the path relay
	// and makes the node push its direct paths.
	HandleVL2(in Inbound) (trusted bool)
	// Tick runs the upper layer's timers from the node's Tick and returns
	// when it wants to run again; the zero time means no sooner than VL1.
	Tick(now time.Time) (next time.Time)
	// FlushVL2 is called after a run of HandleVL2 calls (a received batch),
	// so that the frames for a device can go out in one write.
	FlushVL2()
}

// Config is what a Node is made from.
type Config struct {
	Identity *identity.Identity // with its secret
	Bind     transport.Bind     // opened by the caller; the node only sends
	Planet   *world.World       // nil means the public planet
	Moons    []*world.World
	Upper    Upper
	Logger   *slog.Logger
	// Now is the clock; nil means the wall clock. The harness passes the
	// in-memory internet's virtual clock.
	Now func() time.Time
	// Seed makes packet IDs and random choices reproducible (tests only).
	Seed *[32]byte
	// MTU is the physical MTU (default 1432).
	MTU int
	// AllowLoopback lets 127.0.0.0/8 and ::1 carry ZeroTier; 1.14.1 never
	// does, but single-machine demos need it.
	AllowLoopback bool
	// OnWorld is called with each world update accepted from a root, for
	// the caller to persist (planet, moons.d).
	OnWorld func(*world.World)
	// LocalAddrs lists candidate addresses to push to peers; nil asks the
	// transport when it implements transport.LocalAddrs.
	LocalAddrs func() []netip.AddrPort
	// Version is announced in HELLO; zero means CompatVersion.
	Version Version
	// Bonding is local.conf's multipath configuration (bond.ParseSettings);
	// nil or not InUse means no bonds.
	Bonding *bond.Config
	// PhysicalMTU is local.conf's physical.<cidr>.mtu, in the order
	// 1.14.1 consults it: a path to an address in one of the networks is
	// sent on at the first such network's MTU, unless the path has an MTU
	// of its own (a bond link's mtu, /bond/setmtu).
	PhysicalMTU []PhysicalMTU
}

// PhysicalMTU is the MTU of paths to addresses in Network.
type PhysicalMTU struct {
	Network netip.Prefix
	MTU     int
}

// Node is one VL1 engine. All methods are safe for concurrent use.
type Node struct {
	self     *identity.Identity
	selfPub  *identity.Identity // without secret: what HELLO and WHOIS carry
	addr     identity.Address
	bind     transport.Bind
	upper    atomic.Pointer[upperBox]
	log      *slog.Logger
	clock    func() time.Time
	mtu      int
	physMTU  []PhysicalMTU
	loopback bool
	onWorld  func(*world.World)
	local    func() []netip.AddrPort
	version  Version
	bonding  *bond.Config // immutable

	// The data path's view, read without mu (fastpath.go).
	peerIndex sync.Map // identity.Address -> *Peer, mirrors peers
	pathIndex sync.Map // transport.Endpoint -> *Path, mirrors paths
	united    sync.Map // [2]identity.Address -> int64, last introduction
	amRoot    atomic.Bool
	workers   atomic.Pointer[cryptoWorkers] // while Run runs
	idBase    uint64
	idCounter atomic.Uint64
	expect    replyTracker
	reasm     [reasmShards]reasmShard
	stats     counters

	// The control plane, guarded by mu.
	mu                sync.Mutex
	rng               *rand.Rand
	planet            *world.World
	moons             map[uint64]*world.World
	moonSeeds         map[uint64]identity.Address
	upstreams         []identity.Address // sorted ascending
	stable            map[identity.Address][]netip.AddrPort
	moonRoots         map[identity.Address]bool
	peers             map[identity.Address]*Peer
	paths             map[transport.Endpoint]*Path
	whois             map[identity.Address]int64 // last WHOIS sent
	whoisWindow       int64                      // start of the current WHOIS budget second
	whoisSentInWindow int
	txq               []queuedTx
	rxq               []parkedRx
	gate              []int64 // new-identity rate gate per source bucket
	collisionGate     []int64
	agreementGate     []int64 // key agreements with unknown identities
	impostors         map[[identity.PublicKeyLength]byte]int64
	punches           map[identity.Address]punch
	aware             map[awareKey]awareEntry
	timers            struct{ whois, ping, housekeep int64 }
	pings             map[uint64]pingWaiter
	deliver           []delivery
	deliverSpare      []delivery
	outbox            []outgoing // sent by unlock

	// Scratch for packets built under mu.
	pktBuf  []byte
	scratch []byte
}

// Errors from Send.
var (
	ErrReserved = errors.New("reserved or own address")
	ErrTooLarge = errors.New("packet too large")
)

// New makes a node. It sends nothing until Tick or Receive is called.
func New(cfg Config) (*Node, error) {
	if cfg.Identity == nil || !cfg.Identity.HasSecret() {
		return nil, errors.New("vl1: identity with secret required")
	}
	if cfg.Bind == nil {
		return nil, errors.New("vl1: transport required")
	}
	n := &Node{
		self:          cfg.Identity,
		selfPub:       cfg.Identity.Public(),
		addr:          cfg.Identity.Address(),
		bind:          cfg.Bind,
		log:           cfg.Logger,
		clock:         cfg.Now,
		mtu:           cfg.MTU,
		physMTU:       slices.Clone(cfg.PhysicalMTU),
		loopback:      cfg.AllowLoopback,
		onWorld:       cfg.OnWorld,
		local:         cfg.LocalAddrs,
		version:       cfg.Version,
		bonding:       cfg.Bonding,
		moons:         map[uint64]*world.World{},
		moonSeeds:     map[uint64]identity.Address{},
		peers:         map[identity.Address]*Peer{},
		paths:         map[transport.Endpoint]*Path{},
		whois:         map[identity.Address]int64{},
		pings:         map[uint64]pingWaiter{},
		gate:          make([]int64, 1<<14),
		collisionGate: make([]int64, 1<<14),
		agreementGate: make([]int64, 1<<14),
		impostors:     map[[identity.PublicKeyLength]byte]int64{},
		punches:       map[identity.Address]punch{},
		aware:         map[awareKey]awareEntry{},
		pktBuf:        make([]byte, wire.MaxPacketLength+64),
		scratch:       make([]byte, 2*wire.MaxPacketLength),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.clock == nil {
		n.clock = time.Now
	}
	if n.mtu == 0 {
		n.mtu = wire.DefaultPhysMTU
	}
	if n.version == (Version{}) {
		n.version = CompatVersion
	}
	if n.local == nil {
		if la, ok := cfg.Bind.(transport.LocalAddrs); ok {
			n.local = la.LocalAddrs
		}
	}
	var seed [32]byte
	if cfg.Seed != nil {
		seed = *cfg.Seed
	} else if _, err := crand.Read(seed[:]); err != nil {
		return nil, err
	}
	n.rng = rand.New(rand.NewChaCha8(seed))
	n.idBase = n.rng.Uint64()
	for i := range n.reasm {
		n.reasm[i].r = wire.NewReassembler(wire.DefaultReassemblySlots / reasmShards * 2)
	}
	n.log = n.log.With("node", n.addr.String())
	if cfg.Upper != nil {
		n.SetUpper(cfg.Upper)
	}
	n.planet = cfg.Planet
	if n.planet == nil {
		n.planet = world.Default()
	}
	for _, m := range cfg.Moons {
		n.moons[m.ID] = m
	}
	n.memoizeUpstreams()
	return n, nil
}

// Address is this node's ZeroTier address.
func (n *Node) Address() identity.Address { return n.addr }

// Identity is this node's identity (with secret).
func (n *Node) Identity() *identity.Identity { return n.self }

func (n *Node) now() int64 { return n.clock().UnixMilli() }

// Receive processes one datagram that arrived at ep. data may be modified
// and is not kept after the call. Packets of established sessions take
// the lock-free path; everything else the control plane.
func (n *Node) Receive(ep transport.Endpoint, data []byte) {
	n.receive(n.now(), ep, data)
	n.flushUpper()
}

// Tick runs the timers that are due and returns when it wants to be called
// again.
func (n *Node) Tick() time.Time {
	now := n.now()
	n.mu.Lock()
	next := n.tick(now)
	ds, upper := n.takeDeliveries(), n.getUpper()
	n.unlock()
	n.handOver(now, upper, ds)
	n.flushUpper()
	nt := time.UnixMilli(next)
	if upper != nil {
		if un := upper.Tick(time.UnixMilli(now)); !un.IsZero() && un.Before(nt) {
			nt = un
		}
	}
	return nt
}

// Run drives the node on the wall clock until ctx ends: a receive
// pipeline per receive function (pipeline.go), crypto workers on every
// core, and a goroutine for the timers. It closes the bind on the way out
// and returns when every goroutine has stopped.
func (n *Node) Run(ctx context.Context, fns []transport.ReceiveFunc) error {
	var wg sync.WaitGroup
	batch := max(n.bind.BatchSize(), 1)
	workers := startCryptoWorkers(max(runtime.GOMAXPROCS(0)-1, 1))
	n.workers.Store(workers)
	defer func() {
		n.workers.Store(nil)
		workers.stop()
	}()
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.receivePipeline(ctx, fn, workers, batch)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				next := n.Tick()
				t.Reset(max(time.Until(next), 60*time.Millisecond))
			}
		}
	}()
	// A bind that binds sockets as interfaces come up hands over their
	// receive functions here; a socket unbound later ends its pipeline
	// with ErrClosed.
	var added <-chan struct{}
	rb, _ := n.bind.(transport.Rebinder)
	if rb != nil {
		added = rb.ReceiversAdded()
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-added:
			for _, fn := range rb.TakeReceivers() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n.receivePipeline(ctx, fn, workers, batch)
				}()
			}
		}
	}
	err := n.bind.Close()
	wg.Wait()
	return err
}

// Send sends a packet with verb and payload to dst: directly when a path is
// known, through a root otherwise, and after a WHOIS when dst is unknown.
// compress asks for LZ4 where it helps, as 1.14.1 does for larger VL2
// payloads. It returns the packet's wire ID (0 when the packet was queued).
func (n *Node) Send(dst identity.Address, verb wire.Verb, payload []byte, compress bool) (uint64, error) {
	if dst == n.addr || dst.IsReserved() {
		return 0, fmt.Errorf("send to %v: %w", dst, ErrReserved)
	}
	if wire.IdxPayload+len(payload) > wire.MaxPacketLength || !n.fits(wire.IdxPayload+len(payload)) {
		return 0, fmt.Errorf("send %d bytes to %v: %w", len(payload), dst, ErrTooLarge)
	}
	now := n.now()
	if p := n.lookup(dst); p != nil {
		if r := n.routeFor(now, p); r != nil {
			return n.sendDirect(now, p, r, verb, payload, compress), nil
		}
	}
	n.mu.Lock()
	defer n.unlock()
	p := n.peers[dst]
	if p != nil {
		if id, ok := n.sendTo(now, p, verb, payload, compress, nil); ok {
			return id, nil
		}
	}
	n.queueTx(now, dst, verb, payload, compress)
	if p == nil {
		n.requestWhois(now, dst)
	}
	return 0, nil
}
