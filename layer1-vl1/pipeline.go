package vl1

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ztgo/ztgo/internal/pagebuf"
	transport "github.com/ztgo/ztgo/layer0-transport"
)

// The receive pipeline of Run, after wireguard-go's: each socket's reader
// admits a batch of datagrams (reassembly, relaying), hands the packets to
// the crypto workers to be opened on every core, and queues the batch for
// its deliverer, which waits for the batch to be opened and hands the
// packets up in the order they arrived. The reader is already reading the
// next batch meanwhile. Small batches on an idle pipeline skip the
// hand-offs: a lone ping pays no goroutine switch.

// rxInFlight is how many batches one socket may have between its reader
// and its deliverer.
const rxInFlight = 4

// parallelMin is the smallest batch worth spreading over the workers.
const parallelMin = 4

type rxBatch struct {
	n      *Node
	arena  []byte // bufs are slices of it
	bufs   [][]byte
	sizes  []int
	eps    []transport.Endpoint
	items  []rxItem
	now    int64
	wg     sync.WaitGroup
	openFn func(lo, hi int)
}

func (b *rxBatch) openRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		b.n.open(&b.items[i])
	}
}

// workerJob asks a crypto worker to run fn(lo, hi) and then wg.Done.
type workerJob struct {
	fn     func(lo, hi int)
	lo, hi int
	wg     *sync.WaitGroup
}

// cryptoWorkers open received packets and armor sent ones for every
// pipeline and TxBatch of a running node.
type cryptoWorkers struct {
	size   int
	jobs   chan workerJob
	wg     sync.WaitGroup
	mu     sync.RWMutex // held shared while submitting, so stop never closes jobs under a sender
	closed bool
}

// submit runs j on a worker, or here when the workers have stopped.
func (w *cryptoWorkers) submit(j workerJob) {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		j.fn(j.lo, j.hi)
		j.wg.Done()
		return
	}
	w.jobs <- j
	w.mu.RUnlock()
}

func startCryptoWorkers(size int) *cryptoWorkers {
	w := &cryptoWorkers{size: size, jobs: make(chan workerJob, size*rxInFlight*4)}
	for range size {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range w.jobs {
				j.fn(j.lo, j.hi)
				j.wg.Done()
			}
		}()
	}
	return w
}

func (w *cryptoWorkers) stop() {
	w.mu.Lock()
	w.closed = true
	close(w.jobs)
	w.mu.Unlock()
	w.wg.Wait()
}

// receivePipeline runs one socket's reader and deliverer until the
// transport closes or ctx ends.
func (n *Node) receivePipeline(ctx context.Context, fn transport.ReceiveFunc, workers *cryptoWorkers, batch int) {
	// Batches are made as the socket needs them: a quiet socket (most
	// secondary, tertiary and IPv6 ones) keeps a single batch of buffers.
	free := make(chan *rxBatch, rxInFlight)
	made := 0
	var arenas [][]byte
	defer func() {
		for _, a := range arenas {
			pagebuf.Free(a)
		}
	}()
	// release gives back the pages of every batch not in flight, when the
	// transport says the socket went quiet: a burst grows up to rxInFlight
	// batches, and their pages would otherwise stay resident.
	release := func(cur *rxBatch) {
		pagebuf.Release(cur.arena)
		for range len(free) {
			b := <-free
			pagebuf.Release(b.arena)
			free <- b
		}
	}
	next := func() *rxBatch {
		select {
		case b := <-free:
			return b
		default:
		}
		if made < rxInFlight {
			made++
			b := &rxBatch{n: n, bufs: make([][]byte, batch), sizes: make([]int, batch), eps: make([]transport.Endpoint, batch), items: make([]rxItem, 0, batch)}
			b.openFn = b.openRange
			arena := pagebuf.Alloc(batch * transport.MaxDatagram)
			arenas = append(arenas, arena)
			b.arena = arena
			for i := range b.bufs {
				b.bufs[i] = arena[i*transport.MaxDatagram : (i+1)*transport.MaxDatagram : (i+1)*transport.MaxDatagram]
			}
			return b
		}
		return <-free
	}
	queued := make(chan *rxBatch, rxInFlight)
	var inflight atomic.Int32 // queued or being delivered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range queued {
			b.wg.Wait()
			n.deliverBatch(b)
			inflight.Add(-1)
			free <- b
		}
	}()
	defer func() {
		close(queued)
		<-done
	}()
	spread := workers.size + 1
	for {
		b := next()
		k, err := fn(b.bufs, b.sizes, b.eps)
		if k == 0 && err == nil {
			release(b)
			free <- b
			continue
		}
		if err != nil {
			free <- b
			if ctx.Err() != nil || errors.Is(err, transport.ErrClosed) {
				return
			}
			n.log.Warn("receive failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		b.now = n.now()
		b.items = b.items[:0]
		for i := range k {
			if it, ok := n.admit(b.now, b.eps[i], b.bufs[i][:b.sizes[i]]); ok {
				b.items = append(b.items, it)
			}
		}
		if (noPipeline || len(b.items) < parallelMin) && inflight.Load() == 0 {
			// Idle pipeline, small batch: no hand-off at all.
			for i := range b.items {
				n.open(&b.items[i])
			}
			n.deliverBatch(b)
			free <- b
			continue
		}
		// Split the batch; the reader opens the first share itself.
		share := max((len(b.items)+spread-1)/spread, parallelMin)
		for lo := share; lo < len(b.items); lo += share {
			b.wg.Add(1)
			workers.submit(workerJob{fn: b.openFn, lo: lo, hi: min(lo+share, len(b.items)), wg: &b.wg})
		}
		b.openRange(0, min(share, len(b.items)))
		inflight.Add(1)
		queued <- b
	}
}

// deliverBatch hands a batch's packets up in order, then lets the upper
// layer flush what they produced.
func (n *Node) deliverBatch(b *rxBatch) {
	for i := range b.items {
		n.deliverItem(b.now, &b.items[i])
	}
	clear(b.items)
	n.flushUpper()
}

var noPipeline = os.Getenv("ZTGO_PIPELINE") == "0"
