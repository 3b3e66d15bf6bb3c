package vl1

import (
	"sync"

	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// HeaderRoom is how many bytes TxBatch.Add needs in front of a payload to
// write the packet header in place.
const HeaderRoom = wire.IdxPayload

// txGroup is how many fragmented packets to one path are interleaved:
// their heads go out together, then their tails, so that datagrams of
// equal size are adjacent for UDP segmentation offload. It stays well
// under the 32 packets a receiver keeps in reassembly (ZT_RX_QUEUE_SIZE).
const txGroup = 8

// TxBatch sends a run of packets together, the way a device's read batch
// arrives: payloads are armored in place, on several cores when the batch
// is large, and each path's datagrams go to the transport in one call. A
// TxBatch belongs to one goroutine; the buffers given to Add must stay
// untouched until Flush returns.
type TxBatch struct {
	n       *Node
	items   []txItem
	wg      sync.WaitGroup
	armorFn func(lo, hi int)
	bufs    [][]byte
	frags   []*[]byte
}

type txItem struct {
	p      *Peer
	r      *route
	pa     *Path // r's path, or the one the peer's bond picked
	mtu    int   // pa's MTU for this packet (mtuFor), read once
	flow   bond.FlowID
	pkt    wire.Packet
	expect bool
	sent   bool
	verb   wire.Verb
}

// NewTxBatch returns an empty batch for one sending goroutine.
func (n *Node) NewTxBatch() *TxBatch {
	b := &TxBatch{n: n}
	b.armorFn = b.armorRange
	return b
}

// Add queues a packet with verb whose payload is buf[start:end]; the
// header is written into buf[start-HeaderRoom:start]. It reports false,
// queueing nothing, when dst has no established route: the caller then
// uses Node.Send, which knows how to wait for WHOIS.
func (b *TxBatch) Add(dst identity.Address, verb wire.Verb, buf []byte, start, end int) bool {
	n := b.n
	if start < HeaderRoom || dst == n.addr || dst.IsReserved() || !n.fits(end-start+wire.IdxPayload) {
		return false
	}
	p := n.lookup(dst)
	if p == nil {
		return false
	}
	now := n.now()
	r := n.routeFor(now, p)
	if r == nil {
		return false
	}
	pa, flow := r.path, bond.NoFlow
	if p.bond != nil {
		flow = frameFlow(verb, buf[start:end])
		if pa = n.bondPickOne(now, p, r, verb, flow); pa == nil {
			return false // several paths (broadcast): Node.Send sends on each
		}
	}
	pkt := wire.NewPacket(buf[start-HeaderRoom:start-HeaderRoom], n.packetID(), dst, n.addr, verb)
	pkt = pkt[:HeaderRoom+end-start]
	b.items = append(b.items, txItem{p: p, r: r, pa: pa, mtu: n.mtuFor(pa, len(pkt)), flow: flow, pkt: pkt, expect: expectsReply(verb), verb: verb})
	return true
}

// Len is how many packets wait for Flush.
func (b *TxBatch) Len() int { return len(b.items) }

func (b *TxBatch) armorRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		it := &b.items[i]
		if _, ok := b.n.seal(it.pkt, it.p.keys, it.r.suite, it.expect, it.mtu); !ok {
			it.pkt = nil
		}
	}
}

// Flush armors and sends every queued packet and empties the batch.
func (b *TxBatch) Flush() {
	if len(b.items) == 0 {
		return
	}
	n := b.n
	now := n.now()
	b.spread()
	for i := range b.items {
		if b.items[i].sent {
			continue
		}
		b.sendPath(now, b.items[i].pa, i)
	}
	for _, fb := range b.frags {
		fragPool.Put(fb)
	}
	clear(b.frags)
	b.frags = b.frags[:0]
	clear(b.items)
	b.items = b.items[:0]
}

// spread armors the batch, on the crypto workers too when it is large.
func (b *TxBatch) spread() {
	w := b.n.workers.Load()
	count := len(b.items)
	if w == nil || count < 2*parallelMin {
		b.armorRange(0, count)
		return
	}
	share := max((count+w.size)/(w.size+1), parallelMin)
	for lo := share; lo < count; lo += share {
		b.wg.Add(1)
		w.submit(workerJob{fn: b.armorFn, lo: lo, hi: min(lo+share, count), wg: &b.wg})
	}
	b.armorRange(0, min(share, count))
	b.wg.Wait()
}

// sendPath sends the datagrams of every unsent packet on pa, starting at
// item first, in groups of txGroup: all heads, then all second pieces, and
// so on. Each packet is split at the MTU it was sealed for.
func (b *TxBatch) sendPath(now int64, pa *Path, first int) {
	n := b.n
	var group [txGroup]*txItem
	flush := func(g []*txItem) {
		bufs := b.bufs[:0]
		for piece := 0; ; piece++ {
			more := false
			for _, it := range g {
				if piece >= wire.FragmentCount(len(it.pkt), it.mtu) {
					continue
				}
				more = true
				if piece == 0 {
					bufs = append(bufs, it.pkt[:min(len(it.pkt), it.mtu)])
					continue
				}
				fb := fragPool.Get().(*[]byte)
				*fb = wire.AppendFragment((*fb)[:0], it.pkt, it.mtu, piece)
				b.frags = append(b.frags, fb)
				bufs = append(bufs, *fb)
			}
			if !more {
				break
			}
		}
		if len(bufs) > 0 {
			if err := n.bind.Send(bufs, pa.ep); err != nil {
				n.stats.SendErrors.Add(uint64(len(g)))
			}
		}
		clear(bufs)
		b.bufs = bufs[:0]
	}
	k := 0
	var sent [VerbSlots]uint32
	for i := first; i < len(b.items); i++ {
		it := &b.items[i]
		if it.sent || it.pa != pa {
			continue
		}
		it.sent = true
		if it.pkt == nil {
			continue
		}
		if it.p.bond != nil {
			n.bondSent(now, it.p, []*Path{pa}, it.pkt.ID(), it.verb, len(it.pkt)-wire.IdxPayload, it.flow)
		}
		group[k] = it
		k++
		sent[it.verb]++
		if k == txGroup {
			flush(group[:k])
			k = 0
		}
	}
	if k > 0 {
		flush(group[:k])
	}
	for v, c := range sent {
		if c > 0 {
			n.stats.Sent[v].Add(uint64(c))
		}
	}
	stamp(&pa.lastSend, now)
}
