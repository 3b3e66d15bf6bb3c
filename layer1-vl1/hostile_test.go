package vl1_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
)

// impostor is an identity that claims victim's address with other keys
// (and therefore fails proof of work, which the collision check never
// reaches).
func impostor(t *testing.T, victim, keys *identity.Identity) *identity.Identity {
	t.Helper()
	real := keys.SecretString() // address:0:public:secret
	fake := victim.Address().String() + real[10:]
	id, err := identity.Parse(fake)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestHelloWithKnownAddressAndOtherKeyIsRefused(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", 0)
	root := h.Roots[0]
	h.RunUntil(func() bool { return a.Status().Online }, 10*time.Second)
	ids := vl1test.Identities(t)
	fake := h.AddWithIdentity("mallory", impostor(t, a.Identity(), ids[len(ids)-1]))
	h.RunFor(20 * time.Second)
	if root.Stats().Collisions == 0 {
		t.Fatalf("no collision seen:\n%s", h.Describe())
	}
	p, ok := root.Peer(a.Address())
	if !ok || !p.Identity.Equal(a.Identity().Public()) {
		t.Fatal("root replaced the genuine identity")
	}
	if rp, _ := fake.Peer(root.Address()); rp.Proto != -1 {
		t.Fatal("impostor got an OK(HELLO) from the root")
	}
	if fake.Stats().ErrorsReceived == 0 {
		t.Fatalf("impostor was not told IDENTITY_COLLISION:\n%s", h.Describe())
	}
	// The genuine node still works.
	b := h.Add("b", 0)
	h.RunUntil(func() bool { return b.Status().Online }, 15*time.Second)
	if !pingUntil(h, b, a, func() bool { return b.Stats().EchoReplies > 0 }, 10*time.Second) {
		t.Fatalf("genuine node unreachable:\n%s", h.Describe())
	}
}

func TestWhoisAnsweredFromRootCache(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", 0)
	b := h.Add("b", 0)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	root := h.Roots[0]
	before := root.Stats()
	a.Ping(b.Address()) // unknown to a: WHOIS first
	if !h.RunUntil(func() bool { _, ok := a.Peer(b.Address()); return ok }, 2*time.Second) {
		t.Fatalf("WHOIS not answered:\n%s", h.Describe())
	}
	after := root.Stats()
	if after.WhoisAnswered != before.WhoisAnswered+1 || after.WhoisSent != before.WhoisSent {
		t.Fatalf("root answered %d, asked upstream %d", after.WhoisAnswered-before.WhoisAnswered, after.WhoisSent-before.WhoisSent)
	}
	p, _ := a.Peer(b.Address())
	if !p.Identity.Equal(b.Identity().Public()) {
		t.Fatal("wrong identity")
	}
}

// TestGarbageIsDroppedAndCounted throws random and mutated datagrams at a
// root and a node; nothing panics, everything is counted, and they keep
// working.
func TestGarbageIsDroppedAndCounted(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{})
	a := h.Add("a", 0)
	b := h.Add("b", 0)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	pingUntil(h, a, b, func() bool { return a.DirectPath(b.Address()) }, 20*time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	from := transport.Endpoint{Addr: netip.MustParseAddrPort("198.18.9.9:9993")}
	for _, n := range []*vl1test.Node{h.Roots[0], a} {
		before := n.Stats()
		for i := range 3000 {
			buf := make([]byte, rng.IntN(1500))
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
			if i%3 == 0 && len(buf) > 18 {
				n.Address().Put(buf[8:13]) // addressed to the node
				b.Address().Put(buf[13:])  // "from" b
			}
			n.Receive(from, buf)
		}
		after := n.Stats()
		dropped := (after.Junk + after.Malformed + after.BadMAC + after.RelayRefused + after.RxQueueDropped + after.HopLimit + after.BadIdentity + after.RateGated) -
			(before.Junk + before.Malformed + before.BadMAC + before.RelayRefused + before.RxQueueDropped + before.HopLimit + before.BadIdentity + before.RateGated)
		if after.DatagramsReceived-before.DatagramsReceived != 3000 || dropped == 0 {
			t.Fatalf("%s: received %d, dropped %d: %+v", n.Name, after.DatagramsReceived-before.DatagramsReceived, dropped, after)
		}
	}
	before := a.Stats().EchoReplies
	a.Ping(b.Address())
	h.RunFor(time.Second)
	if a.Stats().EchoReplies == before {
		t.Fatal("node stopped working after garbage")
	}
}
