// Package controller is ZeroTier's network controller, run inside any node
// as in zerotier-one: it serves the networks whose IDs start with the
// node's address, answers NETWORK_CONFIG_REQUEST with signed configs and
// credentials, pushes changes, revokes deauthorized members at once, keeps
// its state in ZeroTierOne's controller.d layout and speaks the
// /controller REST API (controller.md).
package controller

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// Sender is how the controller reaches members (*vl2.Switch implements it).
type Sender interface {
	SendConfig(to identity.Address, packetID, nwid uint64, dict []byte) error
	SendConfigError(to identity.Address, packetID, nwid uint64, code wire.ErrorCode)
	SendCredentials(to identity.Address, payload []byte)
}

// Config is what a Controller is made from.
type Config struct {
	Identity *identity.Identity // the node's, with secret
	Dir      string             // controller.d; "" keeps everything in memory
	// Store, if set, is used instead of Dir (see OpenStore); the
	// controller closes it.
	Store  Store
	Sender Sender
	Now    func() time.Time
	Logger *slog.Logger
}

// Controller serves this node's networks.
type Controller struct {
	id     *identity.Identity
	addr   identity.Address
	sender Sender
	now    func() time.Time
	log    *slog.Logger

	mu           sync.Mutex
	db           *db
	online       map[memberKey]*seen
	lastExpiry   int64
	notFoundGate requestGate

	configRequests atomic.Uint64 // requests for our networks, for /metrics
}

type memberKey struct {
	nwid string
	addr string
}

// seen is the in-memory record of a member's last request (controller.md
// §8.1, §8.3): what "online" means, and what a push needs.
type seen struct {
	lastRequest int64
	packetID    uint64
	identity    *identity.Identity
	metadata    vl2wire.Dictionary
	authorized  bool
	lastConfig  int64 // last config issued
}

const (
	requestRateLimit = 1000
	onlineWindow     = 120000 // 2 × ZT_NETWORK_AUTOCONF_DELAY
	authorizedWindow = 180000 // 3 × ZT_NETWORK_AUTOCONF_DELAY
	defaultCTMD      = 30 * 60 * 1000
	expiryInterval   = 60000
)

// New opens (or creates) the controller database.
func New(cfg Config) (*Controller, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store := cfg.Store
	if store == nil {
		var err error
		if store, err = OpenFiles(cfg.Dir, log); err != nil {
			return nil, err
		}
	}
	c := &Controller{id: cfg.Identity, addr: cfg.Identity.Address(), sender: cfg.Sender, now: cfg.Now, log: log, online: map[memberKey]*seen{}}
	if c.now == nil {
		c.now = time.Now
	}
	// Listening starts before the load, so that no change made by another
	// controller sharing the store falls between the two; what arrives
	// meanwhile waits for c.mu.
	c.mu.Lock()
	store.Watch(c.addr.String(), c.storeChanged)
	db, err := loadDB(context.Background(), store, c.addr.String())
	if err != nil {
		c.mu.Unlock()
		store.Close()
		return nil, fmt.Errorf("controller database: %w", err)
	}
	c.db = db
	c.mu.Unlock()
	return c, nil
}

// Close closes the controller's store.
func (c *Controller) Close() error { return c.db.store.Close() }

// SetSender installs the sender (the switch is often made after).
func (c *Controller) SetSender(s Sender) {
	c.mu.Lock()
	c.sender = s
	c.mu.Unlock()
}

func nwidString(n uint64) string { return fmt.Sprintf("%016x", n) }

// RecentlyAuthorized implements vl2.Controller.
func (c *Controller) RecentlyAuthorized(nwid uint64, member identity.Address) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.online[memberKey{nwidString(nwid), member.String()}]
	return s != nil && s.authorized && c.now().UnixMilli()-s.lastConfig < authorizedWindow
}

// HandleConfigRequest implements vl2.Controller (controller.md §8).
func (c *Controller) HandleConfigRequest(req vl2.ConfigRequest) {
	if vl2wire.ControllerOf(req.NetworkID) != c.addr || req.From == nil {
		return
	}
	c.configRequests.Add(1)
	now := c.now().UnixMilli()
	key := memberKey{nwidString(req.NetworkID), req.From.Address().String()}
	c.mu.Lock()
	c.expireLocked(now)
	if c.db.networks[key.nwid] == nil {
		// Every node controls 2^24 network IDs: a request for one that does
		// not exist leaves no state behind, and its answer is rate-gated
		// per requester in a fixed table.
		answer := c.notFoundGate.allow(req.From.Address(), now)
		sender := c.sender
		c.mu.Unlock()
		if answer && sender != nil && (req.PacketID != 0 || req.From.Address() == c.addr) {
			sender.SendConfigError(req.From.Address(), req.PacketID, req.NetworkID, wire.ErrorObjectNotFound)
		}
		return
	}
	s := c.online[key]
	if s == nil {
		s = &seen{}
		c.online[key] = s
	}
	if req.PacketID != 0 && now-s.lastRequest <= requestRateLimit && s.lastRequest != 0 {
		// Not answered, but it is the member's newest request: a later
		// refusal (deauthorization) must name it to be believed.
		s.packetID = req.PacketID
		c.mu.Unlock()
		return
	}
	s.lastRequest = now
	if req.PacketID != 0 || s.identity == nil {
		s.packetID, s.identity, s.metadata = req.PacketID, req.From, req.Metadata
	}
	dict, code := c.buildLocked(now, req, s)
	sender := c.sender
	c.mu.Unlock()
	if sender == nil {
		return
	}
	to := req.From.Address()
	if code != 0 {
		if req.PacketID != 0 || to == c.addr {
			sender.SendConfigError(to, req.PacketID, req.NetworkID, code)
		}
		return
	}
	if err := sender.SendConfig(to, req.PacketID, req.NetworkID, dict); err != nil {
		c.log.Warn("cannot send network config", "member", to, "err", err)
	}
}

func randomU32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// expireLocked forgets members that stopped asking (c.mu held), at most
// once a minute: a record outlives both the online and the recently
// authorized windows, and no longer.
func (c *Controller) expireLocked(now int64) {
	if now-c.lastExpiry < expiryInterval {
		return
	}
	c.lastExpiry = now
	for k, s := range c.online {
		if now-s.lastRequest >= max(onlineWindow, authorizedWindow) && now-s.lastConfig >= authorizedWindow {
			delete(c.online, k)
		}
	}
}

// requestGate allows one answer per requester per requestRateLimit, in a
// fixed table: collisions only make a stranger wait a little longer.
type requestGate [1024]int64

func (g *requestGate) allow(a identity.Address, now int64) bool {
	i := uint64(a) * 0x9e3779b97f4a7c15 >> 54
	if g[i] != 0 && now-g[i] < requestRateLimit {
		return false
	}
	g[i] = now
	return true
}

// memberChanged pushes a fresh config to an online, authorized member, or
// revokes it everywhere when it lost its authorization (controller.md §8.10).
func (c *Controller) memberChanged(nwid, addr string, deauthorized bool) {
	if deauthorized {
		c.revoke(nwid, addr)
		return
	}
	c.push(nwid, addr)
}

func (c *Controller) push(nwid, addr string) {
	now := c.now().UnixMilli()
	c.mu.Lock()
	s := c.online[memberKey{nwid, addr}]
	if s == nil || s.identity == nil || now-s.lastRequest >= onlineWindow {
		c.mu.Unlock()
		return
	}
	id, md := s.identity, s.metadata
	c.mu.Unlock()
	n, _ := vl2wire.ParseNetworkID(nwid)
	c.HandleConfigRequest(vl2.ConfigRequest{From: id, PacketID: 0, NetworkID: n, Metadata: md})
}

// revoke tells every online member at once that addr is out (a COM
// revocation with fast propagation), and — unlike 1.14.1 — tells addr
// itself (ERROR ACCESS_DENIED answering its last request), so it drops the
// network's addresses and routes now instead of at its next refresh.
func (c *Controller) revoke(nwid, addr string) {
	now := c.now().UnixMilli()
	n, _ := vl2wire.ParseNetworkID(nwid)
	target, err := identity.ParseAddress(addr)
	if err != nil {
		return
	}
	r := &vl2wire.Revocation{ID: randomU32(), NetworkID: n, Threshold: now, Flags: vl2wire.RevocationFastPropagate, Target: target, Type: vl2wire.CredentialCOM}
	if err := r.Sign(c.id); err != nil {
		c.log.Error("cannot sign revocation", "err", err)
		return
	}
	payload := vl2wire.AppendNetworkCredentials(nil, nil, nil, nil, []*vl2wire.Revocation{r}, nil)
	c.mu.Lock()
	// Every other authorized member hears of it, online or not (1.14.1
	// tells only those that asked for a config in the last 120 s; after a
	// controller restart that is nobody).
	targets := map[identity.Address]bool{}
	for a, m := range c.db.members[nwid] {
		if a != addr && toBool(m["authorized"], false) {
			if ma, err := identity.ParseAddress(a); err == nil {
				targets[ma] = true
			}
		}
	}
	var deniedPacket uint64
	for k, s := range c.online {
		if k.nwid != nwid || now-s.lastRequest >= onlineWindow {
			continue
		}
		if k.addr == addr {
			deniedPacket = s.packetID
			s.authorized = false
			continue
		}
		if a, err := identity.ParseAddress(k.addr); err == nil {
			targets[a] = true
		}
	}
	// The member itself too: a ztgo member takes the revocation of its own
	// COM as its deauthorization, which, signed and with a threshold, cannot
	// be replayed after a later authorization as a bare ERROR could.
	targets[target] = true
	delete(targets, c.addr)
	sender := c.sender
	c.mu.Unlock()
	if sender == nil {
		return
	}
	for a := range targets {
		sender.SendCredentials(a, payload)
	}
	// The member itself, even if we have not heard from it since a restart.
	sender.SendConfigError(target, deniedPacket, n, wire.ErrorNetworkAccessDenied)
	c.log.Info("member deauthorized and revoked", "network", nwid, "member", addr, "told", len(targets))
}
