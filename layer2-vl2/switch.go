package vl2

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// ConfigRequest is a NETWORK_CONFIG_REQUEST for a network this node
// controls. PacketID is 0 when the request is the node's own (no packet).
type ConfigRequest struct {
	From      *identity.Identity
	PacketID  uint64
	NetworkID uint64
	Metadata  vl2wire.Dictionary
}

// Controller answers config requests for the networks whose IDs start
// with this node's address (package controller implements it).
type Controller interface {
	HandleConfigRequest(req ConfigRequest)
	// RecentlyAuthorized reports whether the controller issued member a
	// config for nwid within the last 180 s (vl2.md §2.3–2.4).
	RecentlyAuthorized(nwid uint64, member identity.Address) bool
}

// Store keeps network configs across restarts (networks.d/<nwid>.conf).
type Store interface {
	LoadConfig(nwid uint64) ([]byte, bool)
	SaveConfig(nwid uint64, dict []byte) error
	DeleteConfig(nwid uint64) error
}

// Config is what a Switch is made from.
type Config struct {
	Link       Link // the VL1 engine (a *vl1.Node)
	Logger     *slog.Logger
	Store      Store
	Controller Controller
	// OnChange is called (without locks held) when a network's visible
	// state changes: the device owner applies addresses, routes and MTU.
	OnChange func(Info)
	// OS is the "o" metadata value, e.g. linux/amd64.
	OS string
}

// Switch is the VL2 of one node: the networks it has joined. It sends
// through a Link and implements vl1.Upper: once registered with the engine
// (vl1.Node.SetUpper) it receives VL2 verbs, runs its timers with the
// engine's and is flushed after each received batch.
type Switch struct {
	link       Link
	self       *identity.Identity
	addr       identity.Address
	log        *slog.Logger
	store      Store
	controller Controller
	onChange   func(Info)
	os         string

	mu        sync.Mutex
	networks  map[uint64]*Network
	netIndex  atomic.Pointer[map[uint64]*Network] // copy of networks for lock-free lookups
	credRate  map[identity.Address]int64          // last NETWORK_CREDENTIALS processed
	rootDB    *multicastDB                        // roots keep groups for networks they are not in
	lastTimer int64

	dirtyMu sync.Mutex
	dirty   []*Network // with frames queued for their device
}

// markDirty notes a network whose device queue FlushVL2 must write.
func (s *Switch) markDirty(n *Network) {
	s.dirtyMu.Lock()
	if !slices.Contains(s.dirty, n) {
		s.dirty = append(s.dirty, n)
	}
	s.dirtyMu.Unlock()
}

// FlushVL2 implements vl1.Upper: after a received batch, each device
// gets the batch's frames in one write.
func (s *Switch) FlushVL2() {
	s.dirtyMu.Lock()
	var nets [4]*Network
	dirty := append(nets[:0], s.dirty...)
	clear(s.dirty)
	s.dirty = s.dirty[:0]
	s.dirtyMu.Unlock()
	for _, n := range dirty {
		n.flushDevice()
	}
}

// New makes the switch on a link. It changes nothing on the link: the
// caller registers the switch with the engine (vl1.Node.SetUpper) before
// traffic or timers are to reach it.
func New(cfg Config) *Switch {
	s := &Switch{
		link:       cfg.Link,
		self:       cfg.Link.Identity(),
		addr:       cfg.Link.Address(),
		log:        cfg.Logger,
		store:      cfg.Store,
		controller: cfg.Controller,
		onChange:   cfg.OnChange,
		os:         cfg.OS,
		networks:   map[uint64]*Network{},
		credRate:   map[identity.Address]int64{},
		rootDB:     newMulticastDB(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.os == "" {
		s.os = "linux/x86_64"
	}
	return s
}

// SetController installs the local controller (made after the switch).
func (s *Switch) SetController(c Controller) {
	s.mu.Lock()
	s.controller = c
	s.mu.Unlock()
}

func (s *Switch) now() int64 { return s.link.Now().UnixMilli() }

// ErrBadNetworkID is returned for network ID 0.
var ErrBadNetworkID = errors.New("network ID must be 16 hex digits and not 0")

// Join joins a network; dev may be nil (frames for the OS are dropped). A
// config saved by an earlier run is applied at once. Joining twice is a
// no-op that returns the network.
func (s *Switch) Join(nwid uint64, dev FrameDevice) (*Network, error) {
	if nwid == 0 {
		return nil, ErrBadNetworkID
	}
	s.mu.Lock()
	if n := s.networks[nwid]; n != nil {
		s.mu.Unlock()
		return n, nil
	}
	n := newNetwork(s, nwid, dev)
	s.networks[nwid] = n
	s.publishNetworks()
	s.mu.Unlock()
	now := s.now()
	if s.store != nil {
		if dict, ok := s.store.LoadConfig(nwid); ok && len(dict) > 1 {
			if err := n.applyDictionary(now, dict, false); err != nil {
				s.log.Warn("saved network config unusable; requesting a new one", "network", vl2wire.NetworkIDString(nwid), "err", err)
			}
			n.mu.Lock()
			n.lastConfigUpdate = 0 // ask the controller anyway
			n.mu.Unlock()
		} else if err := s.store.SaveConfig(nwid, []byte("\n")); err != nil {
			s.log.Warn("cannot save network placeholder", "network", vl2wire.NetworkIDString(nwid), "err", err)
		}
	}
	n.notify()
	n.requestConfig(now)
	return n, nil
}

// Leave leaves a network: its device is told (OnChange with the network's
// status gone) and its saved config deleted. Nothing is sent.
func (s *Switch) Leave(nwid uint64) error {
	s.mu.Lock()
	n := s.networks[nwid]
	delete(s.networks, nwid)
	s.publishNetworks()
	s.mu.Unlock()
	if n == nil {
		return fmt.Errorf("not a member of %s", vl2wire.NetworkIDString(nwid))
	}
	n.destroy()
	if s.store != nil {
		return s.store.DeleteConfig(nwid)
	}
	return nil
}

// Network returns a joined network, or nil. Every frame asks, so it reads
// a published copy of the map instead of taking s.mu.
func (s *Switch) Network(nwid uint64) *Network {
	if m := s.netIndex.Load(); m != nil {
		return (*m)[nwid]
	}
	return nil
}

// publishNetworks copies the joined networks for Network (s.mu held):
// joins and leaves are rare, lookups are per frame.
func (s *Switch) publishNetworks() {
	m := maps.Clone(s.networks)
	s.netIndex.Store(&m)
}

// Networks returns the joined networks in ID order.
func (s *Switch) Networks() []*Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Network, 0, len(s.networks))
	for _, n := range s.networks {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Network) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return out
}

// Tick implements vl1.Upper: it runs the network timers (config requests, LIKE announcements,
// multicast housekeeping) every 500 ms at most.
func (s *Switch) Tick(now time.Time) time.Time {
	ms := now.UnixMilli()
	s.mu.Lock()
	if ms-s.lastTimer < 500 {
		s.mu.Unlock()
		return time.UnixMilli(s.lastTimer + 500)
	}
	s.lastTimer = ms
	for a, last := range s.credRate {
		if ms-last >= 1000 { // past its one-per-second window: nothing to remember
			delete(s.credRate, a)
		}
	}
	s.mu.Unlock()
	for _, n := range s.Networks() {
		n.tick(ms)
	}
	s.rootDB.expire(ms)
	s.FlushVL2()
	return time.UnixMilli(ms + 500)
}

// send is a VL2 send through VL1; errors are logged (the packet is lost as
// a datagram would be).
func (s *Switch) send(dst identity.Address, verb wire.Verb, payload []byte, compress bool) uint64 {
	id, err := s.link.Send(dst, verb, payload, compress)
	if err != nil {
		s.log.Debug("send failed", "to", dst, "verb", verb, "err", err)
	}
	return id
}

// sendError answers a request with an ERROR about a network.
func (s *Switch) sendError(dst identity.Address, inRe wire.Verb, inReID uint64, code wire.ErrorCode, body []byte) {
	e := wire.Error{InReVerb: inRe, InReID: inReID, Code: code, Body: body}
	s.send(dst, wire.VerbERROR, e.AppendPayload(nil), false)
}

// SendConfig delivers a config (or a push when packetID is 0) from the
// local controller. A config for this node itself is applied directly.
func (s *Switch) SendConfig(to identity.Address, packetID, nwid uint64, dict []byte) error {
	if to == s.addr {
		n := s.Network(nwid)
		if n == nil {
			return nil
		}
		return n.applyDictionary(s.now(), dict, true)
	}
	chunks, err := vl2wire.ConfigChunks(nwid, dict, randomNonZero(), s.self)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if packetID != 0 {
			ok := wire.OK{InReVerb: wire.VerbNETWORK_CONFIG_REQUEST, InReID: packetID, Reply: &wire.Unknown{V: wire.VerbNETWORK_CONFIG_REQUEST, Data: c.AppendPayload(nil)}}
			s.send(to, wire.VerbOK, ok.AppendPayload(nil), true)
		} else {
			s.send(to, wire.VerbNETWORK_CONFIG, c.AppendPayload(nil), true)
		}
	}
	return nil
}

// SendConfigError reports a controller error to a member; the controller
// decides when (it also tells a deauthorized member unasked). An error for
// this node itself is applied directly.
func (s *Switch) SendConfigError(to identity.Address, packetID, nwid uint64, code wire.ErrorCode) {
	if to == s.addr {
		if n := s.Network(nwid); n != nil {
			n.setFailure(s.now(), code)
		}
		return
	}
	body := (&vl2wire.ErrorBody{Code: code, NetworkID: nwid}).Append(nil)
	s.sendError(to, wire.VerbNETWORK_CONFIG_REQUEST, packetID, code, body)
}

// SendCredentials sends a NETWORK_CREDENTIALS payload (built by
// vl2wire.AppendNetworkCredentials) to a member.
func (s *Switch) SendCredentials(to identity.Address, payload []byte) {
	if to == s.addr {
		s.handleCredentials(s.now(), s.addr, payload)
		return
	}
	s.send(to, wire.VerbNETWORK_CREDENTIALS, payload, true)
}
