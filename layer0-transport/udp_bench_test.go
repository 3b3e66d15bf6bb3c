package transport

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks compare the two modes over loopback, where both ends'
// kernel work lands on this machine: "offload" (GSO/GRO on Linux) and
// "plain" (recvmmsg/sendmmsg, one datagram per message). Loopback never
// segments a GSO message before a GRO socket, so it shows the most offload
// can save; across a NIC the segmenting happens in the card or the driver.
//
//	go test -run '^$' -bench 'UDPSend$|UDPReceive$' -benchmem -count 10 ./layer0-transport > b.txt
//	benchstat -col /mode b.txt

var benchBatches = []struct {
	name  string
	sizes []int
}{
	// 64 fragment heads: the best case for a run.
	{"64x1432", repeat(1432, 64)},
	// 32 packets of 2800 bytes as VL1 orders them: heads, then tails (the
	// rest of the packet behind a 16-byte fragment header).
	{"32x2800frames", slices.Concat(repeat(1432, 32), repeat(2800-1432+16, 32))},
	// A lone datagram, as a ping or an ACK goes: on Linux it is followed
	// by the yield (internal/fastsys; ZTGO_YIELD=0 to compare).
	{"1x1432", repeat(1432, 1)},
}

// BenchmarkUDPSend sends batches from parallel goroutines to a socket that
// nobody reads (the kernel drops at its full queue): the cost of a
// datagram through the stack up to the receiving socket.
func BenchmarkUDPSend(b *testing.B) {
	for _, mode := range offloadModes {
		for _, batch := range benchBatches {
			b.Run("mode="+mode.name+"/batch="+batch.name, func(b *testing.B) {
				u, _, _ := openLoopback(b, false, mode.off)
				_, _, sink := openLoopback(b, false, mode.off)
				out := datagrams(0, batch.sizes...)
				b.SetBytes(int64(sum(batch.sizes)))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := u.Send(out, Endpoint{Addr: sink}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(out)), "ns/datagram")
			})
		}
	}
}

// BenchmarkUDPReceive receives datagrams (one op each) that a sender
// goroutine keeps coming in batches of 64×1432, a few batches ahead of
// the receiver so that the socket never overflows: in one Send ("batch",
// which GSO/GRO carry as one message) or in 64 Sends ("singles", which
// nothing coalesces, the case where GRO's extra copy shows).
func BenchmarkUDPReceive(b *testing.B) {
	for _, mode := range offloadModes {
		for _, singles := range []bool{false, true} {
			name := "mode=" + mode.name + "/batch=64x1432"
			if singles {
				name = "mode=" + mode.name + "/batch=64x1432singles"
			}
			b.Run(name, func(b *testing.B) { benchReceive(b, mode.off, singles) })
		}
	}
}

func benchReceive(b *testing.B, disableOffload, singles bool) {
	sender, _, _ := openLoopback(b, false, disableOffload)
	receiver, fn, to := openLoopback(b, false, disableOffload)
	out := datagrams(0, repeat(1432, 64)...)
	credits := make(chan struct{}, 8) // batches in flight
	for range cap(credits) {
		credits <- struct{}{}
	}
	stop, sent := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				sent <- nil
				return
			case <-credits:
			}
			if err := send(sender, out, Endpoint{Addr: to}, singles); err != nil {
				sent <- err
				return
			}
		}
	}()
	var progress atomic.Int64
	defer stallWatchdog(&progress, func() { receiver.Close() })()
	bufs := make([][]byte, UDPBatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagram)
	}
	sizes, eps := make([]int, len(bufs)), make([]Endpoint, len(bufs))
	b.SetBytes(1432)
	b.ReportAllocs()
	b.ResetTimer()
	for got, credited := 0, 0; got < b.N; {
		k, err := fn(bufs, sizes, eps)
		if err != nil {
			b.Fatalf("after %d datagrams (lost ones stall the sender): %v", got, err)
		}
		got += k
		progress.Store(int64(got))
		for ; got-credited >= len(out); credited += len(out) {
			credits <- struct{}{}
		}
	}
	b.StopTimer()
	close(stop)
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
}

func send(u *UDP, bufs [][]byte, ep Endpoint, oneByOne bool) error {
	if !oneByOne {
		return u.Send(bufs, ep)
	}
	for i := range bufs {
		if err := u.Send(bufs[i:i+1], ep); err != nil {
			return err
		}
	}
	return nil
}

// stallWatchdog calls stalled when progress stands still for a second,
// until the function it returns is called.
func stallWatchdog(progress *atomic.Int64, stalled func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(-1)
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			now := progress.Load()
			if now == last {
				stalled()
				return
			}
			last = now
		}
	}()
	return func() { close(done) }
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
