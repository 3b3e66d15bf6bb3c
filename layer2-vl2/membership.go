package vl2

import (
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/rules"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// membership is what we know of one peer on one network (vl2.md §4.7).
type membership struct {
	com          *vl2wire.COM
	comRevoked   int64 // COMs with timestamp ≤ this are revoked
	revThreshold map[[2]uint32]int64
	tags         map[uint32]*vl2wire.Tag
	caps         map[uint32]heldCap
	coos         map[uint32]*vl2wire.COO
	lastPushed   int64 // our credentials sent to it
	lastLikes    int64 // our LIKEs sent to it
	lastAsked    int64 // it asked for our credentials

	// The last agreement check, kept while neither COM changes: checking
	// costs a SHA-384 of the peer's key and a VL1 lookup, on every frame.
	agreedMine, agreedTheirs *vl2wire.COM
	agreed                   bool
}

// heldCap is a peer's capability with its rules decoded once, not per
// frame.
type heldCap struct {
	cap   *vl2wire.Capability
	rules []rules.Rule
}

func (n *Network) memberLocked(a identity.Address) *membership {
	m := n.members[a]
	if m == nil {
		m = &membership{revThreshold: map[[2]uint32]int64{}, tags: map[uint32]*vl2wire.Tag{}, caps: map[uint32]heldCap{}, coos: map[uint32]*vl2wire.COO{}}
		n.members[a] = m
	}
	return m
}

// gate is Network::gate: may this peer exchange traffic with us here?
func (n *Network) gate(now int64, a identity.Address) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gateLocked(a)
}

func (n *Network) gateLocked(a identity.Address) bool {
	if n.config == nil {
		return false
	}
	if n.config.Type == vl2wire.NetworkPublic {
		return true
	}
	m := n.members[a]
	if m == nil || m.com == nil || n.config.COM == nil || m.com.Timestamp() <= m.comRevoked {
		return false
	}
	if m.agreedMine != n.config.COM || m.agreedTheirs != m.com {
		id := n.s.link.PeerIdentity(a)
		if id == nil {
			return false
		}
		m.agreedMine, m.agreedTheirs, m.agreed = n.config.COM, m.com, n.config.COM.AgreesWith(m.com, id)
	}
	return m.agreed
}

func (n *Network) controllerIdentity() *identity.Identity {
	ctl := vl2wire.ControllerOf(n.id)
	id := n.s.link.PeerIdentity(ctl)
	if id == nil {
		n.s.link.RequestWhois(ctl)
	}
	return id
}

// addCOM stores a peer's COM if it is newer and genuine.
func (n *Network) addCOM(now int64, from identity.Address, c *vl2wire.COM) bool {
	issued := c.IssuedTo()
	if c.NetworkID() != n.id || issued == 0 {
		return false
	}
	ctl := n.controllerIdentity()
	if ctl == nil || !c.Verify(ctl) {
		return false
	}
	n.mu.Lock()
	m := n.memberLocked(issued)
	ok := c.Timestamp() > m.comRevoked && (m.com == nil || c.Timestamp() >= m.com.Timestamp())
	if ok {
		m.com = c
	}
	ready := ok && n.gateLocked(issued)
	n.mu.Unlock()
	if ready {
		n.retryDeferred(now, issued)
	}
	return ok
}

func (n *Network) addTag(t *vl2wire.Tag) bool {
	ctl := n.controllerIdentity()
	if ctl == nil || t.NetworkID != n.id || !t.Verify(ctl) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.memberLocked(t.IssuedTo)
	if th, ok := m.revThreshold[[2]uint32{uint32(vl2wire.CredentialTag), t.ID}]; ok && t.Timestamp <= th {
		return false
	}
	if old := m.tags[t.ID]; old != nil && old.Timestamp > t.Timestamp {
		return false
	}
	m.tags[t.ID] = t
	return true
}

func (n *Network) addCapability(c *vl2wire.Capability) bool {
	if c.NetworkID != n.id || !c.Verify(n.s.link.PeerIdentity) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.memberLocked(c.IssuedTo())
	if th, ok := m.revThreshold[[2]uint32{uint32(vl2wire.CredentialCapability), c.ID}]; ok && c.Timestamp <= th {
		return false
	}
	if old, ok := m.caps[c.ID]; ok && old.cap.Timestamp > c.Timestamp {
		return false
	}
	rs, _, err := rules.ParseRules(c.Rules, c.RuleCount)
	if err != nil {
		return false
	}
	m.caps[c.ID] = heldCap{c, rs}
	return true
}

func (n *Network) addCOO(c *vl2wire.COO) bool {
	ctl := n.controllerIdentity()
	if ctl == nil || c.NetworkID != n.id || !c.Verify(ctl) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.memberLocked(c.IssuedTo)
	if th, ok := m.revThreshold[[2]uint32{uint32(vl2wire.CredentialCOO), c.ID}]; ok && c.Timestamp <= th {
		return false
	}
	if old := m.coos[c.ID]; old != nil && old.Timestamp > c.Timestamp {
		return false
	}
	m.coos[c.ID] = c
	return true
}

// addRevocation applies a revocation and, when it is new and asks for fast
// propagation, passes it on to every member we know here (vl2.md §4.8).
func (n *Network) addRevocation(now int64, from identity.Address, r *vl2wire.Revocation) bool {
	ctl := n.controllerIdentity()
	if ctl == nil || r.NetworkID != n.id || !r.Verify(ctl) {
		return false
	}
	n.mu.Lock()
	m := n.memberLocked(r.Target)
	fresh := false
	if r.Type == vl2wire.CredentialCOM {
		if r.Threshold > m.comRevoked {
			m.comRevoked, fresh = r.Threshold, true
		}
	} else {
		key := [2]uint32{uint32(r.Type), r.CredentialID}
		if r.Threshold > m.revThreshold[key] {
			m.revThreshold[key], fresh = r.Threshold, true
		}
		if r.Threshold > m.comRevoked { // 1.14.1 quirk: revokes the COM too
			m.comRevoked = r.Threshold
		}
	}
	// Our own COM revoked: the controller deauthorized us. The revocation
	// is signed and its threshold is later than the COM we hold, so unlike
	// a bare ERROR it cannot be replayed once a newer COM came with a new
	// authorization.
	selfRevoked := r.Type == vl2wire.CredentialCOM && r.Target == n.s.addr && n.config != nil && n.config.COM != nil &&
		r.Threshold > n.config.COM.Timestamp()
	var forward []identity.Address
	if fresh && r.Flags&vl2wire.RevocationFastPropagate != 0 {
		for a := range n.members {
			if a != from && a != r.SignedBy && a != n.s.addr && a != r.Target {
				forward = append(forward, a)
			}
		}
	}
	n.mu.Unlock()
	if selfRevoked {
		n.setFailure(now, wire.ErrorNetworkAccessDenied)
		return fresh
	}
	if fresh {
		n.s.log.Info("member revoked", "network", vl2wire.NetworkIDString(n.id), "member", r.Target)
	}
	if len(forward) > 0 {
		payload := vl2wire.AppendNetworkCredentials(nil, nil, nil, nil, []*vl2wire.Revocation{r}, nil)
		for _, a := range forward {
			n.s.send(a, wire.VerbNETWORK_CREDENTIALS, payload, true)
		}
	}
	return fresh
}

// pushCredentialsIfNeeded sends our COM and other credentials to a peer
// before traffic (vl2.md §4.9).
func (n *Network) pushCredentialsIfNeeded(now int64, to identity.Address, force bool) {
	n.mu.Lock()
	if n.config == nil || n.config.COM == nil {
		n.mu.Unlock()
		return
	}
	m := n.memberLocked(to)
	if !force && m.lastPushed != 0 && m.lastPushed >= n.lastConfigUpdate && now-m.lastPushed < credentialRepush {
		n.mu.Unlock()
		return
	}
	m.lastPushed = now
	c := n.config
	payload := vl2wire.AppendNetworkCredentials(nil, []*vl2wire.COM{c.COM}, c.Capabilities, c.Tags, nil, c.COOs)
	n.mu.Unlock()
	n.s.send(to, wire.VerbNETWORK_CREDENTIALS, payload, true)
}

// peerRequestedCredentials answers ERROR(NEED_MEMBERSHIP_CERTIFICATE).
func (n *Network) peerRequestedCredentials(now int64, from identity.Address) {
	n.mu.Lock()
	m := n.memberLocked(from)
	asked := now-m.lastAsked >= credentialRequestRate || m.lastPushed < n.lastConfigUpdate
	if asked {
		m.lastAsked = now
	}
	n.mu.Unlock()
	if asked {
		n.pushCredentialsIfNeeded(now, from, true)
	}
}

// Members returns the peers that currently pass the gate.
func (n *Network) Members() []identity.Address {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []identity.Address
	for a := range n.members {
		if n.gateLocked(a) {
			out = append(out, a)
		}
	}
	return out
}

// Allowed reports whether a peer currently passes this node's gate.
func (n *Network) Allowed(a identity.Address) bool {
	return n.gate(n.s.now(), a)
}
