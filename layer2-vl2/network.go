package vl2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/rules"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// Timers of vl2.md §8, in milliseconds.
const (
	configRequestInterval = 5000   // unconfigured: ask every ping check
	configRefreshInterval = 60000  // ZT_NETWORK_AUTOCONF_DELAY
	announceInterval      = 60000  // ZT_MULTICAST_ANNOUNCE_PERIOD
	likeExpiry            = 600000 // ZT_MULTICAST_LIKE_EXPIRE
	gatherInterval        = 60000  // ZT_MULTICAST_EXPLICIT_GATHER_DELAY
	multicastTxTimeout    = 5000
	multicastQueueSize    = 32
	credentialRepush      = 500000 // ZT_PEER_ACTIVITY_TIMEOUT
	credentialRequestRate = 1000
	deferredFrameTimeout  = 5000
)

// Network is one joined network.
type Network struct {
	s   *Switch
	id  uint64
	mac vl2wire.MAC
	dev FrameDevice
	out deviceQueue

	mu               sync.Mutex
	config           *vl2wire.NetworkConfig
	dict             []byte
	rules            []rules.Rule
	myCaps           []capRules
	failure          Status // ACCESS_DENIED etc., or StatusOK for none
	lastConfigUpdate int64
	lastRequest      int64
	lastAnnounce     int64
	assembler        *vl2wire.ConfigAssembler
	members          map[identity.Address]*membership
	db               *multicastDB
	extraGroups      []vl2wire.MulticastGroup
	deferred         []deferredFrame
	destroyed        bool
	portError        bool
	env              ruleEnv
	newestConfig     int64 // timestamp of the newest config applied, kept across refusals
	lastPrune        int64
	requests         [8]uint64 // wire IDs of our recent config requests
	nextRequest      int
	rulePkt          rules.Packet
	filtered         [2][2]uint64 // frames through the rules: [inbound][accepted]
}

type capRules struct {
	id    uint32
	rules []rules.Rule
}

func newNetwork(s *Switch, nwid uint64, dev FrameDevice) *Network {
	return &Network{
		s:         s,
		id:        nwid,
		mac:       vl2wire.MACFor(s.addr, nwid),
		dev:       dev,
		failure:   StatusOK,
		assembler: vl2wire.NewConfigAssembler(),
		members:   map[identity.Address]*membership{},
		db:        newMulticastDB(),
	}
}

// ID is the network ID.
func (n *Network) ID() uint64 { return n.id }

// MAC is this node's MAC on the network.
func (n *Network) MAC() vl2wire.MAC { return n.mac }

// Status is the network's status.
func (n *Network) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.statusLocked()
}

func (n *Network) statusLocked() Status {
	switch {
	case n.portError:
		return StatusPortError
	case n.failure != StatusOK:
		return n.failure
	case n.config != nil:
		return StatusOK
	}
	return StatusRequestingConfiguration
}

// Config returns the config held, or nil.
func (n *Network) Config() *vl2wire.NetworkConfig {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.config
}

// Info is the network's visible state.
func (n *Network) Info() Info {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.infoLocked()
}

func (n *Network) infoLocked() Info {
	in := Info{NetworkID: n.id, MAC: n.mac, Status: n.statusLocked(), Type: "PRIVATE", MTU: 2800}
	if c := n.config; c != nil {
		in.Name, in.MTU, in.Revision = c.Name, c.MTU, c.Revision
		if c.Type == vl2wire.NetworkPublic {
			in.Type = "PUBLIC"
		}
		in.BroadcastEnabled = c.Flags&vl2wire.ConfigFlagEnableBroadcast != 0
		in.Addresses = slices.Clone(c.StaticIPs)
		in.Routes = slices.Clone(c.Routes)
		in.DNS = c.DNS
		in.MulticastLimit = int(c.MulticastLimit)
		for _, p := range c.StaticIPs {
			in.MulticastSubscriptions = append(in.MulticastSubscriptions, vl2wire.AddressResolutionGroup(p.Addr()))
		}
		for _, sp := range c.Specialists {
			if sp&vl2wire.SpecialistActiveBridge != 0 && identity.Address(sp&0xffffffffff) == n.s.addr {
				in.Bridge = true
			}
		}
	}
	in.MulticastSubscriptions = append(in.MulticastSubscriptions, n.extraGroups...)
	slices.SortFunc(in.MulticastSubscriptions, vl2wire.MulticastGroup.Compare)
	in.MulticastSubscriptions = slices.Compact(in.MulticastSubscriptions)
	return in
}

func (n *Network) notify() {
	if n.s.onChange == nil {
		return
	}
	n.mu.Lock()
	info := n.infoLocked()
	gone := n.destroyed
	n.mu.Unlock()
	if gone {
		info.Status = -1
		info.Addresses, info.Routes = nil, nil
	}
	n.s.onChange(info)
}

func (n *Network) destroy() {
	n.mu.Lock()
	n.destroyed = true
	n.mu.Unlock()
	n.notify()
}

// requestConfig asks the controller for a config (vl2.md §2.7, §7.2).
func (n *Network) requestConfig(now int64) {
	n.mu.Lock()
	n.lastRequest = now
	var rev uint64
	var ts int64
	if n.config != nil {
		rev, ts = n.config.Revision, n.config.Timestamp
	}
	n.mu.Unlock()
	var md vl2wire.Dictionary
	md.AddUint64("v", 7)
	md.AddUint64("vend", 1)
	md.AddUint64("pv", wire.ProtocolVersion)
	md.AddUint64("majv", 1)
	md.AddUint64("minv", 14)
	md.AddUint64("revv", 1)
	md.AddUint64("mr", 1024)
	md.AddUint64("mc", 128)
	md.AddUint64("mcr", 64)
	md.AddUint64("mt", 128)
	md.AddUint64("f", 0)
	md.AddUint64("revr", 1)
	md.AddString("o", n.s.os)
	ctl := vl2wire.ControllerOf(n.id)
	if ctl == n.s.addr {
		n.s.mu.Lock()
		c := n.s.controller
		n.s.mu.Unlock()
		if c == nil {
			n.setFailure(now, wire.ErrorObjectNotFound)
			return
		}
		c.HandleConfigRequest(ConfigRequest{From: n.s.self.Public(), PacketID: 0, NetworkID: n.id, Metadata: md})
		return
	}
	req := vl2wire.NetworkConfigRequest{NetworkID: n.id, Metadata: md.Append(nil), HasRevision: true, Revision: rev, HasTimestamp: true, Timestamp: ts}
	if id := n.s.send(ctl, wire.VerbNETWORK_CONFIG_REQUEST, req.AppendPayload(nil), true); id != 0 {
		n.mu.Lock()
		n.requests[n.nextRequest%len(n.requests)] = id
		n.nextRequest++
		n.mu.Unlock()
	}
}

// answeredRequest reports whether id is one of our recent config requests
// and forgets it: a refusal is honoured once, as the answer to a request of
// ours, so a captured ERROR replayed later cannot take the network away.
// (A request queued behind WHOIS has no ID yet; its refusal waits for the
// next request, 5 s later.)
func (n *Network) answeredRequest(id uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i := slices.Index(n.requests[:], id); id != 0 && i >= 0 {
		n.requests[i] = 0
		return true
	}
	return false
}

// handleChunk takes a config chunk; it reports the update ID when it
// completed a config.
func (n *Network) handleChunk(now int64, from identity.Address, c *vl2wire.ConfigChunk) (uint64, bool) {
	ctl := vl2wire.ControllerOf(n.id)
	ctlID := n.s.link.PeerIdentity(ctl)
	if ctlID == nil {
		n.s.link.RequestWhois(ctl)
		return 0, false
	}
	n.mu.Lock()
	dict, done, err := n.assembler.Add(c, ctlID, from == ctl)
	n.mu.Unlock()
	if err != nil || !done {
		return 0, false
	}
	if err := n.applyDictionary(now, dict, true); err != nil {
		n.s.log.Warn("network config refused", "network", vl2wire.NetworkIDString(n.id), "err", err)
		return 0, false
	}
	if n.lastRequestAnswered() && ctl != n.s.addr {
		// A pushed config after a refusal: ask once more, so that the
		// controller holds a request of ours whose refusal we would
		// still honour (it answers a deauthorization with that ID).
		n.requestConfig(now)
	}
	return c.UpdateID, true
}

// lastRequestAnswered reports whether our newest config request was used
// up by a refusal (or none was recorded).
func (n *Network) lastRequestAnswered() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.requests[(n.nextRequest+len(n.requests)-1)%len(n.requests)] == 0
}

// errOldConfig refuses a config older than the newest one applied.
var errOldConfig = errors.New("network config older than the one held")

// applyDictionary applies a config (vl2.md §7.2 step 5).
func (n *Network) applyDictionary(now int64, dict []byte, save bool) error {
	d, err := vl2wire.ParseDictionary(dict)
	if err != nil {
		return err
	}
	cfg, err := vl2wire.ParseNetworkConfig(d)
	if err != nil {
		return err
	}
	if cfg.NetworkID != n.id || cfg.IssuedTo != n.s.addr {
		return fmt.Errorf("config for %s/%v, not us", vl2wire.NetworkIDString(cfg.NetworkID), cfg.IssuedTo)
	}
	table, err := rules.ParseTable(cfg.Rules)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	var caps []capRules
	for _, c := range cfg.Capabilities {
		if rs, _, err := rules.ParseRules(c.Rules, c.RuleCount); err == nil {
			caps = append(caps, capRules{c.ID, rs})
		}
	}
	n.mu.Lock()
	if bytes.Equal(dict, n.dict) && n.failure == StatusOK {
		n.lastConfigUpdate = now
		n.mu.Unlock()
		return nil
	}
	if cfg.Timestamp < n.newestConfig {
		// Signed, but older than one we applied: a replay would move us
		// back to old addresses, rules or credentials.
		n.mu.Unlock()
		return fmt.Errorf("%w: issued at %d, we hold one issued at %d", errOldConfig, cfg.Timestamp, n.newestConfig)
	}
	n.newestConfig = cfg.Timestamp
	changed := configChanged(n.config, cfg)
	n.config, n.dict, n.rules, n.myCaps = cfg, slices.Clone(dict), table, caps
	n.lastConfigUpdate = now
	n.failure = StatusOK
	n.lastAnnounce = 0 // announce our groups with the new config
	n.mu.Unlock()
	if save && n.s.store != nil {
		if err := n.s.store.SaveConfig(n.id, dict); err != nil {
			n.s.log.Warn("cannot save network config", "network", vl2wire.NetworkIDString(n.id), "err", err)
		}
	}
	// The controller signs a fresh copy at each refresh (every 60 s): only
	// a config that changes something is news for the log.
	level := slog.LevelDebug
	if changed {
		level = slog.LevelInfo
	}
	n.s.log.Log(context.Background(), level, "network config applied", "network", vl2wire.NetworkIDString(n.id), "revision", cfg.Revision, "addresses", cfg.StaticIPs)
	n.notify()
	n.announce(now, true)
	return nil
}

// configChanged tells whether a config differs from the one held in what a
// reader of the log cares about: its revision, name, addresses, routes,
// MTU or rules (not its timestamp and freshly signed credentials).
func configChanged(old, cfg *vl2wire.NetworkConfig) bool {
	return old == nil || old.Revision != cfg.Revision || old.Name != cfg.Name || old.MTU != cfg.MTU ||
		!slices.Equal(old.StaticIPs, cfg.StaticIPs) || !slices.Equal(old.Routes, cfg.Routes) ||
		!bytes.Equal(old.Rules, cfg.Rules)
}

// setFailure records an error from the controller. Unlike 1.14.1, which
// keeps using its old config, ztgo drops the config on ACCESS_DENIED: the
// member stops sending at once and the OS side removes the network's
// addresses and routes (Info has none), instead of keeping them until
// someone notices (ZeroTier issue #2223).
func (n *Network) setFailure(now int64, code wire.ErrorCode) {
	st := StatusNotFound
	switch code {
	case wire.ErrorNetworkAccessDenied:
		st = StatusAccessDenied
	case wire.ErrorNetworkAuthRequired:
		st = StatusAuthenticationRequired
	}
	n.mu.Lock()
	changed := n.failure != st
	n.failure = st
	dropped := false
	if st == StatusAccessDenied && n.config != nil {
		n.config, n.dict, n.rules, n.myCaps = nil, nil, nil, nil
		dropped = true
	}
	n.mu.Unlock()
	if dropped && n.s.store != nil {
		_ = n.s.store.SaveConfig(n.id, []byte("\n"))
	}
	if changed || dropped {
		n.s.log.Warn("network refused by its controller", "network", vl2wire.NetworkIDString(n.id), "status", st)
		n.notify()
	}
}

// tick: config requests, announcements, expiry.
func (n *Network) tick(now int64) {
	n.mu.Lock()
	configured := n.config != nil
	sinceUpdate, sinceRequest := now-n.lastConfigUpdate, now-n.lastRequest
	n.mu.Unlock()
	if (!configured && sinceRequest >= configRequestInterval) || (configured && sinceUpdate >= configRefreshInterval && sinceRequest >= configRequestInterval) {
		n.requestConfig(now)
	}
	n.announce(now, false)
	n.mu.Lock()
	n.db.expire(now)
	n.deferred = slices.DeleteFunc(n.deferred, func(d deferredFrame) bool { return now-d.at >= deferredFrameTimeout })
	if now-n.lastPrune >= memberPruneInterval {
		n.lastPrune = now
		for a, m := range n.members {
			if m.holdsNothing() && now-max(m.lastPushed, m.lastLikes, m.lastAsked) >= memberIdle {
				delete(n.members, a)
			}
		}
	}
	n.mu.Unlock()
}

// A peer's record on a network that holds no credential or revocation is
// forgotten after memberIdle without traffic: anyone can make one (asking
// for our credentials does), so they must not pile up.
const (
	memberPruneInterval = 60000
	memberIdle          = 600000
)

func (m *membership) holdsNothing() bool {
	return m.com == nil && m.comRevoked == 0 && len(m.revThreshold) == 0 && len(m.tags) == 0 && len(m.caps) == 0 && len(m.coos) == 0
}

// Subscribe adds a multicast group the OS side listens to (beyond the
// broadcast and address-resolution groups derived from the config).
func (n *Network) Subscribe(g vl2wire.MulticastGroup) {
	n.mu.Lock()
	if slices.Contains(n.extraGroups, g) {
		n.mu.Unlock()
		return
	}
	n.extraGroups = append(n.extraGroups, g)
	n.mu.Unlock()
	n.announce(n.s.now(), true)
}

// FilterCounts are the frames a network's rules judged since it was
// joined, as 1.14.1 counts them for zt_network_packets.
type FilterCounts struct {
	InAccepted, InDropped, OutAccepted, OutDropped uint64
}

// FilterCounts returns the network's rule verdict counts.
func (n *Network) FilterCounts() FilterCounts {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := &n.filtered
	return FilterCounts{InAccepted: f[1][1], InDropped: f[1][0], OutAccepted: f[0][1], OutDropped: f[0][0]}
}

// countFilteredLocked counts a verdict (n.mu held).
func (n *Network) countFilteredLocked(inbound, accepted bool) {
	var i, a int
	if inbound {
		i = 1
	}
	if accepted {
		a = 1
	}
	n.filtered[i][a]++
}

// GroupCount is the number of multicast groups the network subscribes to.
func (n *Network) GroupCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.groupsLocked())
}

// groupsLocked are our subscriptions (vl2.md §6.1): broadcast if enabled,
// the ARP group of each IPv4 and the solicited-node group of each IPv6
// static address, and what the OS side subscribed.
func (n *Network) groupsLocked() []vl2wire.MulticastGroup {
	var gs []vl2wire.MulticastGroup
	if n.config != nil {
		if n.config.Flags&vl2wire.ConfigFlagEnableBroadcast != 0 {
			gs = append(gs, vl2wire.BroadcastGroup)
		}
		for _, p := range n.config.StaticIPs {
			gs = append(gs, vl2wire.AddressResolutionGroup(p.Addr()))
		}
	}
	gs = append(gs, n.extraGroups...)
	slices.SortFunc(gs, func(a, b vl2wire.MulticastGroup) int {
		switch {
		case a.MAC != b.MAC:
			return cmpU64(uint64(a.MAC), uint64(b.MAC))
		}
		return cmpU64(uint64(a.ADI), uint64(b.ADI))
	})
	return slices.Compact(gs)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Refresh re-sends the network's state to its owner (OnChange), e.g. once
// its device exists.
func (n *Network) Refresh() { n.notify() }

// SetPortError marks the network's OS device as failed (PORT_ERROR).
func (n *Network) SetPortError() {
	n.mu.Lock()
	n.portError = true
	n.mu.Unlock()
	n.notify()
}
