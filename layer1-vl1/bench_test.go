package vl1_test

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

type countingUpper struct{ n atomic.Uint64 }

func (c *countingUpper) HandleVL2(vl1.Inbound) bool { c.n.Add(1); return true }
func (c *countingUpper) Tick(time.Time) time.Time   { return time.Time{} }
func (c *countingUpper) FlushVL2()                  {}

// pair is two public nodes with a direct path, and b's upper layer.
func pair(tb testing.TB) (*vl1test.Harness, *vl1test.Node, *vl1test.Node, *countingUpper) {
	up := &countingUpper{}
	h := vl1test.New(tb, vl1test.Options{Upper: func(string) vl1.Upper { return up }})
	a := h.Add("a", 0)
	b := h.Add("b", 0)
	h.RunUntil(func() bool { return a.Status().Online && b.Status().Online }, 15*time.Second)
	if !pingUntil(h, a, b, func() bool { return a.DirectPath(b.Address()) && b.DirectPath(a.Address()) }, 30*time.Second) {
		tb.Fatalf("no direct path:\n%s", h.Describe())
	}
	return h, a, b, up
}

// frame is a payload that makes an n-byte packet.
func frame(n int) []byte {
	p := make([]byte, n-wire.IdxPayload)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// BenchmarkSend measures building, armoring (AES-GMAC-SIV) and handing a
// FRAME (64, 1400 or 2800 bytes on the wire, the last in two fragments) to
// the transport, which drops it.
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{64, 1400, 2800} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			_, a, peer, _ := pair(b)
			a.Bind.Mute.Store(true)
			p := frame(size)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Send(peer.Address(), wire.VerbFRAME, p, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
		})
	}
}

// BenchmarkReceive measures authenticating, decrypting and delivering a
// captured FRAME to the upper layer.
func BenchmarkReceive(b *testing.B) {
	for _, size := range []int{64, 1400, 2800} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			_, a, peer, up := pair(b)
			packets := distinctPackets(a, peer, size)
			from := transport.Endpoint{Addr: a.Endpoint()}
			buf := make([]byte, transport.MaxDatagram)
			before := up.n.Load()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for _, d := range packets[i%len(packets)] {
					peer.Receive(from, buf[:copy(buf, d)])
				}
			}
			if up.n.Load()-before < uint64(b.N) {
				b.Fatalf("delivered %d of %d", up.n.Load()-before, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
		})
	}
}

// distinctPackets captures 1024 FRAMEs of size bytes from a to peer, each
// as its datagrams: receivers drop a packet they saw among the last few
// hundred (the replay window), so benchmarks cycle through these.
func distinctPackets(a, peer *vl1test.Node, size int) [][][]byte {
	var out [][][]byte
	for range 1024 {
		dgrams := a.Capture(func() { a.Send(peer.Address(), wire.VerbFRAME, frame(size), false) })
		out = append(out, dgrams)
	}
	return out
}

// BenchmarkRelay measures a root forwarding a packet between two leaves.
func BenchmarkRelay(b *testing.B) {
	root, pkt, from := relaySetup(b)
	buf := make([]byte, len(pkt))
	before := root.Stats().Relayed
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, pkt)
		root.Receive(from, buf)
	}
	if got := root.Stats().Relayed - before; got < uint64(b.N) {
		b.Fatalf("relayed %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// relaySetup returns a muted root and a FRAME between two leaves that it
// relays, as it arrives from the first.
func relaySetup(b *testing.B) (*vl1test.Node, wire.Packet, transport.Endpoint) {
	h, a, peer, _ := pair(b)
	root := h.Roots[0]
	pkt := wire.NewPacket(nil, 1, peer.Address(), a.Address(), wire.VerbFRAME)
	pkt = append(pkt, frame(1400)...)
	pkt.SetFragmented(false)
	root.Bind.Mute.Store(true)
	return root, pkt, transport.Endpoint{Addr: a.Endpoint()}
}

// BenchmarkThroughMemnet moves FRAMEs from one engine to another over the
// in-memory internet: the whole VL1 path, both ends on one core.
func BenchmarkThroughMemnet(b *testing.B) {
	h, a, peer, up := pair(b)
	p := frame(1400)
	before := up.n.Load()
	h.Net.Advance(h.Elapsed())
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		a.Send(peer.Address(), wire.VerbFRAME, p, false)
		for h.Net.Step() {
		}
	}
	if got := up.n.Load() - before; got < uint64(b.N) {
		b.Fatalf("delivered %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// BenchmarkRootMemoryPerPeer reports the heap a root spends per peer when
// it holds 100k of them, each with one path.
func BenchmarkRootMemoryPerPeer(b *testing.B) {
	peers := 100_000
	if testing.Short() {
		peers = 1000
	}
	for b.Loop() {
		h := vl1test.New(b, vl1test.Options{})
		root := h.Roots[0]
		root.Bind.Mute.Store(true)
		ids := make([]*identity.Identity, peers)
		for i := range ids {
			ids[i] = fakeIdentity(b, uint64(0x1000000000+i))
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for i, id := range ids {
			ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), 9993)
			if err := root.AddPeer(id, []netip.AddrPort{ap}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		if n := root.Status().PeerCount; n < peers {
			b.Fatalf("root holds %d peers", n)
		}
		b.ReportMetric((float64(m1.HeapAlloc)-float64(m0.HeapAlloc))/float64(peers), "B/peer")
		runtime.KeepAlive(ids)
	}
}

// fakeIdentity has random keys and a chosen address: fine for memory
// accounting, where nobody checks the proof of work.
func fakeIdentity(tb testing.TB, addr uint64) *identity.Identity {
	var pub [64]byte
	rand.Read(pub[:])
	id, err := identity.Parse(fmt.Sprintf("%010x:0:%x", addr, pub))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// The parallel benchmarks run the data path from every core at once
// (b.RunParallel; compare -cpu 1,2): without a node-wide lock, packets per
// second grow with the cores.

// BenchmarkSendParallel is BenchmarkSend/1400 from every core.
func BenchmarkSendParallel(b *testing.B) {
	_, a, peer, _ := pair(b)
	a.Bind.Mute.Store(true)
	p := frame(1400)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Send(peer.Address(), wire.VerbFRAME, p, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// BenchmarkTxBatchParallel sends batches of 32 fragmented FRAMEs (2800
// bytes, as a device's read batch brings them) through TxBatch, armored in
// place, one batch per goroutine.
func BenchmarkTxBatchParallel(b *testing.B) {
	_, a, peer, _ := pair(b)
	a.Bind.Mute.Store(true)
	const batch = 32
	payload := frame(2800)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tx := a.NewTxBatch()
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = make([]byte, vl1.HeaderRoom+len(payload))
		}
		for i := 0; pb.Next(); i++ {
			buf := bufs[i%batch]
			copy(buf[vl1.HeaderRoom:], payload)
			if !tx.Add(peer.Address(), wire.VerbFRAME, buf, vl1.HeaderRoom, len(buf)) {
				b.Error("no route")
				return
			}
			if tx.Len() == batch {
				tx.Flush()
			}
		}
		tx.Flush()
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// BenchmarkReceiveParallel is BenchmarkReceive/1400 from every core, each
// goroutine with its own datagram buffer.
func BenchmarkReceiveParallel(b *testing.B) {
	_, a, peer, up := pair(b)
	packets := distinctPackets(a, peer, 1400)
	from := transport.Endpoint{Addr: a.Endpoint()}
	before := up.n.Load()
	var next atomic.Uint64
	b.SetBytes(1400)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, transport.MaxDatagram)
		for pb.Next() {
			d := packets[next.Add(1)%uint64(len(packets))][0]
			peer.Receive(from, buf[:copy(buf, d)])
		}
	})
	// A goroutine preempted for a whole cycle of the 1024 packets can
	// meet a copy the other just delivered: the replay window drops it.
	if up.n.Load()-before < uint64(b.N-b.N/1000) {
		b.Fatalf("delivered %d of %d", up.n.Load()-before, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// BenchmarkRelayParallel is BenchmarkRelay from every core.
func BenchmarkRelayParallel(b *testing.B) {
	root, pkt, from := relaySetup(b)
	before := root.Stats().Relayed
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, len(pkt))
		for pb.Next() {
			copy(buf, pkt)
			root.Receive(from, buf)
		}
	})
	if got := root.Stats().Relayed - before; got < uint64(b.N) {
		b.Fatalf("relayed %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}
