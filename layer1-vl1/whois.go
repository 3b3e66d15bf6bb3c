package vl1

import (
	"sync"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// requestWhois asks the best upstream for a's identity, at most every
// ZT_WHOIS_RETRY_DELAY (Switch::requestWhois).
func (n *Node) requestWhois(now int64, a identity.Address) {
	n.requestWhoisBatch(now, []identity.Address{a})
}

// Bounds on what forged traffic can make us ask (1.14.1 has none): at most
// maxPendingWhois addresses waiting for an answer, and whoisBudget WHOIS
// packets per second to the roots; one WHOIS carries many addresses.
const (
	maxPendingWhois  = 1024
	whoisBudget      = 50
	whoisBatchMax    = 64 // addresses per WHOIS packet
	whoisPerQuestion = 16 // unknown addresses one peer's WHOIS may make us ask for
)

// requestWhoisBatch asks for several identities in as few WHOIS packets as
// the budget allows.
func (n *Node) requestWhoisBatch(now int64, addrs []identity.Address) {
	u := n.bestUpstream(now)
	var ask []identity.Address
	for _, a := range addrs {
		last, pending := n.whois[a]
		if pending && now-last < whoisRetryDelay {
			continue
		}
		if !pending && len(n.whois) >= maxPendingWhois {
			n.stats.RateGated.Add(1)
			continue
		}
		n.whois[a] = now
		if u != nil && u.id.Address() != a {
			ask = append(ask, a)
		}
	}
	for len(ask) > 0 {
		if now-n.whoisWindow >= 1000 {
			n.whoisWindow, n.whoisSentInWindow = now, 0
		}
		if n.whoisSentInWindow >= whoisBudget {
			// Not asked: the next packet or queued send that needs one
			// of them tries again.
			n.stats.RateGated.Add(uint64(len(ask)))
			for _, a := range ask {
				delete(n.whois, a)
			}
			return
		}
		k := min(len(ask), whoisBatchMax)
		w := wire.Whois{Addresses: ask[:k]}
		if _, ok := n.sendTo(now, u, wire.VerbWHOIS, w.AppendPayload(n.scratch[:0]), false, nil); ok {
			n.stats.WhoisSent.Add(1)
			n.whoisSentInWindow++
		}
		ask = ask[k:]
	}
}

// handleWhois answers with the identities we know (_doWHOIS). Roots answer
// everyone; others at most once per 100 ms per asker.
func (n *Node) handleWhois(now int64, pa *Path, p *Peer, wireID uint64, payload []byte) {
	w, err := wire.ParseWhois(payload)
	if err != nil {
		n.stats.Malformed.Add(1)
		return
	}
	if !n.amRoot.Load() {
		if now-p.lastWhoisAnswer < peerWhoisRateLimit {
			n.stats.RateGated.Add(1)
			return
		}
		p.lastWhoisAnswer = now
	}
	var found wire.OKWhois
	var unknown []identity.Address
	for _, a := range w.Addresses {
		switch {
		case a == n.addr:
			found.Identities = append(found.Identities, n.selfPub)
		case len(found.Identities) >= whoisBatchMax:
			// The reply must fit one packet (~71 bytes an identity).
		case n.peers[a] != nil:
			found.Identities = append(found.Identities, n.peers[a].id)
		case len(unknown) < whoisPerQuestion:
			unknown = append(unknown, a)
		}
	}
	if len(unknown) > 0 {
		n.requestWhoisBatch(now, unknown)
	}
	if len(found.Identities) == 0 {
		return
	}
	ok := wire.OK{InReVerb: wire.VerbWHOIS, InReID: wireID, Reply: &found}
	out := n.build(p, wire.VerbOK, ok.AppendPayload(n.scratch[:0]), false)
	n.transmit(now, p, out, suiteFor(p), pa.ep, pa, false)
	n.stats.WhoisAnswered.Add(1)
}

// handleWhoisReply takes the first identity of an OK(WHOIS) from an
// upstream. 1.14.1 trusts it blindly; ztgo also requires that we asked for
// that address and that the identity passes validation, which a root's
// answer always does.
func (n *Node) handleWhoisReply(now int64, from *Peer, ok *wire.OK) {
	r, isWhois := ok.Reply.(*wire.OKWhois)
	if !isWhois || len(r.Identities) == 0 || !n.isUpstream(from.id.Address()) {
		n.stats.Malformed.Add(1)
		return
	}
	id := r.Identities[0]
	a := id.Address()
	if _, asked := n.whois[a]; !asked || n.peers[a] != nil || a == n.addr {
		return
	}
	if err := validateIdentity(id); err != nil {
		n.stats.BadIdentity.Add(1)
		return
	}
	p, err := n.newPeer(id)
	if err != nil {
		n.stats.BadIdentity.Add(1)
		return
	}
	n.setPeer(a, p)
	n.peerKnown(now, a)
}

// validated remembers identities that passed the memory-hard proof of work
// check, so a process holding many nodes (or hearing one peer through many
// paths) pays for it once. It is bounded; a validated identity stays valid.
var validated = struct {
	sync.Mutex
	m map[[identity.PublicKeyLength + 5]byte]struct{}
}{m: map[[identity.PublicKeyLength + 5]byte]struct{}{}}

const validatedCacheSize = 1 << 16

func validateIdentity(id *identity.Identity) error {
	var k [identity.PublicKeyLength + 5]byte
	pk := id.PublicKey()
	copy(k[:], pk[:])
	id.Address().Put(k[identity.PublicKeyLength:])
	validated.Lock()
	_, ok := validated.m[k]
	validated.Unlock()
	if ok {
		return nil
	}
	if err := id.Validate(); err != nil {
		return err
	}
	validated.Lock()
	if len(validated.m) >= validatedCacheSize {
		clear(validated.m)
	}
	validated.m[k] = struct{}{}
	validated.Unlock()
	return nil
}
