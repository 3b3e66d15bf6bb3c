package vl1_test

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// frameUpper keeps a copy of every FRAME payload delivered.
type frameUpper struct {
	mu     sync.Mutex
	frames map[uint32][]byte
}

func (u *frameUpper) HandleVL2(in vl1.Inbound) bool {
	if in.Verb == wire.VerbFRAME && len(in.Payload) >= 4 {
		u.mu.Lock()
		if u.frames == nil {
			u.frames = map[uint32][]byte{}
		}
		u.frames[binary.BigEndian.Uint32(in.Payload)] = bytes.Clone(in.Payload)
		u.mu.Unlock()
	}
	return true
}
func (u *frameUpper) Tick(time.Time) time.Time { return time.Time{} }
func (u *frameUpper) FlushVL2()                {}

// mtuFrame is frame i: a FRAME payload that makes a 2800-byte packet
// (five datagrams at an MTU of 600, two at the default), numbered i.
func mtuFrame(i uint32) []byte {
	p := make([]byte, 2800-wire.IdxPayload)
	for j := range p {
		p[j] = byte(int(i)*7 + j)
	}
	binary.BigEndian.PutUint32(p, i)
	return p
}

// wireView is what a node put on each of its two links towards a peer:
// datagrams, the largest, and fragments.
type wireView struct {
	mu                 sync.Mutex
	datagrams, largest [2]int
	fragments          [2]int
}

func watchLinks(n, peer *vl1test.Node) *wireView {
	w := &wireView{}
	eps := peer.LinkEndpoints()
	n.Bind.Tap(func(ep transport.Endpoint, d []byte) {
		if ep.Socket < 0 || ep.Socket > 1 || (ep.Addr != eps[0] && ep.Addr != eps[1]) {
			return
		}
		w.mu.Lock()
		w.datagrams[ep.Socket]++
		w.largest[ep.Socket] = max(w.largest[ep.Socket], len(d))
		if wire.IsFragment(d) {
			w.fragments[ep.Socket]++
		}
		w.mu.Unlock()
	})
	return w
}

func (w *wireView) reset() {
	w.mu.Lock()
	w.datagrams, w.largest, w.fragments = [2]int{}, [2]int{}, [2]int{}
	w.mu.Unlock()
}

// sendNumbered sends frames first..first+count-1 from a to b, one every
// 10 ms, through Send or, with batch, through a TxBatch.
func sendNumbered(t *testing.T, h *vl1test.Harness, a, b *vl1test.Node, first, count uint32, batch bool) {
	t.Helper()
	tx := a.NewTxBatch()
	for i := first; i < first+count; i++ {
		p := mtuFrame(i)
		if batch {
			buf := append(make([]byte, vl1.HeaderRoom), p...)
			if !tx.Add(b.Address(), wire.VerbFRAME, buf, vl1.HeaderRoom, len(buf)) {
				t.Fatal("TxBatch.Add refused a bonded peer")
			}
			tx.Flush()
		} else if _, err := a.Send(b.Address(), wire.VerbFRAME, p, false); err != nil {
			t.Fatal(err)
		}
		h.RunFor(10 * time.Millisecond)
	}
}

// delivered checks that b's upper layer got frames first..first+count-1
// intact.
func (u *frameUpper) delivered(t *testing.T, first, count uint32) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	missing := 0
	for i := first; i < first+count; i++ {
		if got, ok := u.frames[i]; !ok {
			missing++
		} else if !bytes.Equal(got, mtuFrame(i)) {
			t.Errorf("frame %d delivered altered", i)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d frames not delivered", missing, count)
	}
}

// TestPathMTUFromLinkSetting: a bond link's mtu (local.conf's
// policies.<name>.links.<ifname>.mtu) is the MTU of the paths on that
// link. balance-rr alternates between the links; every datagram on link 1
// (mtu 600) is at most 600 bytes, link 0 still carries 1432-byte heads,
// and the peer reassembles and delivers every frame, sent through Send and
// through a TxBatch.
func TestPathMTUFromLinkSetting(t *testing.T) {
	up := &frameUpper{}
	h, a, b := bondedPairUpper(t, `{"defaultBondingPolicy":"rr600","policies":{"rr600":{"basePolicy":"balance-rr",
		"links":{"socket0":{},"socket1":{"mtu":600}}}}}`, up)
	h.RunFor(20 * time.Second) // past the trial period
	w := watchLinks(a, b)
	sendNumbered(t, h, a, b, 0, 300, false)
	sendNumbered(t, h, a, b, 300, 300, true)
	h.RunFor(time.Second)
	w.mu.Lock()
	t.Logf("datagrams per link %v, largest %v, fragments %v", w.datagrams, w.largest, w.fragments)
	if w.largest[1] > 600 || w.fragments[1] < 300 {
		t.Errorf("link 1 (mtu 600): largest datagram %d, %d fragments; want ≤ 600 and the frames in pieces", w.largest[1], w.fragments[1])
	}
	if w.largest[0] != wire.DefaultPhysMTU {
		t.Errorf("link 0 (no mtu): largest datagram %d, want %d", w.largest[0], wire.DefaultPhysMTU)
	}
	w.mu.Unlock()
	up.delivered(t, 0, 600)
}

// TestPathMTUSetBondMTU: SetBondMTU (/bond/setmtu) changes the MTU of the
// bonded paths on one link to one remote IP at once, and answers false for
// a link or address no bonded path has.
func TestPathMTUSetBondMTU(t *testing.T) {
	up := &frameUpper{}
	h, a, b := bondedPairUpper(t, `{"defaultBondingPolicy":"broadcast"}`, up)
	w := watchLinks(a, b)
	sendNumbered(t, h, a, b, 0, 20, false)
	if w.largest != [2]int{wire.DefaultPhysMTU, wire.DefaultPhysMTU} {
		t.Fatalf("before setmtu: largest datagrams %v, want %d on both links", w.largest, wire.DefaultPhysMTU)
	}
	ip := b.LinkEndpoints()[1].Addr().String()
	if a.SetBondMTU(600, "socket0", ip) || a.SetBondMTU(600, "socket1", "10.9.9.9") {
		t.Fatal("SetBondMTU found a link that has no such path")
	}
	if !a.SetBondMTU(600, "socket1", ip) {
		t.Fatalf("SetBondMTU did not find socket1 to %s", ip)
	}
	w.reset()
	// Broadcast sends the same armored packet on both links: split at the
	// smaller MTU, as its fragmented flag is authenticated.
	sendNumbered(t, h, a, b, 20, 40, false)
	if w.largest[0] > 600 || w.largest[1] > 600 || w.fragments[1] < 160 {
		t.Errorf("after setmtu 600: largest datagrams %v, fragments %v; want ≤ 600", w.largest, w.fragments)
	}
	h.RunFor(time.Second)
	up.delivered(t, 0, 60)
}

// TestPathMTUTooSmall: a path MTU at which a packet would take more than
// MaxPacketFragments datagrams (which receivers drop) is raised for that
// packet to the smallest MTU that keeps it within them; a packet small
// enough goes at the path's MTU.
func TestPathMTUTooSmall(t *testing.T) {
	up := &frameUpper{}
	h, a, b := bondedPairUpper(t, `{"defaultBondingPolicy":"x","policies":{"x":{"basePolicy":"active-backup",
		"links":{"socket0":{"mtu":68},"socket1":{"mtu":68}}}}}`, up)
	w := watchLinks(a, b)
	sendNumbered(t, h, a, b, 0, 20, false)
	sendNumbered(t, h, a, b, 20, 20, true)
	h.RunFor(time.Second)
	// (2800 + 6·16) / 7, rounded up: 414.
	largest := max(w.largest[0], w.largest[1])
	if largest != 414 {
		t.Errorf("largest datagram %d, want 414 for a 2800-byte packet in 7 pieces", largest)
	}
	up.delivered(t, 0, 40)
	// Small packets (HELLO's OK, ECHO, QoS) at 68 bytes a piece, and still
	// understood: the peer stays reachable on the bond.
	h.RunFor(30 * time.Second)
	if pi, ok := a.Peer(b.Address()); !ok || pi.Bond == nil || pi.Bond.NumAliveLinks != 2 {
		t.Errorf("bond after 30 s of 68-byte pieces: %+v", pi.Bond)
	}
}

// TestPathMTUSendAllocatesNothing: packets split at a path's MTU (five
// pieces of a 2800-byte packet at 600) cost no allocation, through Send
// and through a TxBatch.
func TestPathMTUSendAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random: allocations are counted without it")
	}
	h, a, b := bondedPair(t, `{"defaultBondingPolicy":"x","policies":{"x":{"basePolicy":"balance-xor",
		"links":{"socket0":{"mtu":600},"socket1":{"mtu":600}}}}}`)
	h.RunFor(time.Second)
	w := watchLinks(a, b)
	a.Bind.Mute.Store(true)
	allocsPerSend(t, a, b, mtuFrame(1), "at a path MTU of 600")
	a.Bind.Tap(nil)
	if max(w.largest[0], w.largest[1]) != 600 {
		t.Errorf("largest datagram %v, want 600", w.largest)
	}
}
