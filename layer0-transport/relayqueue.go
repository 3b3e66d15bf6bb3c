package transport

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Both ends of the TCP relay write to their connections the same way:
// whoever has a datagram frames it as a record and puts it in the
// connection's bounded queue without ever waiting (a full queue drops it,
// as a full socket buffer would), and one writer goroutine per connection
// writes the queue out with a deadline, so a peer that stops reading costs
// its own connection and never the caller.

const (
	defaultRelayQueue        = 256
	defaultRelayWriteTimeout = 10 * time.Second
	// recordBatch is how many queued records one writev carries at most.
	recordBatch = 64
	// maxRecordMessage is the longest message a record's u16 length frames.
	maxRecordMessage = maxRecord - 1
)

// relayRecord is one framed record on its way to a writer; pooled.
type relayRecord struct{ b []byte }

var relayRecords = sync.Pool{New: func() any { return &relayRecord{b: make([]byte, 0, 1536)} }}

// addressedRecord frames data for to as one record, or returns nil when
// the message would not fit a record.
func addressedRecord(to netip.AddrPort, data []byte) *relayRecord {
	if 19+len(data) > maxRecordMessage {
		return nil
	}
	r := relayRecords.Get().(*relayRecord)
	r.b = AppendAddressed(append(r.b[:0], 0x17, 0x03, 0x03, 0, 0), to, data)
	n := len(r.b) - recordHeader
	r.b[3], r.b[4] = byte(n>>8), byte(n)
	return r
}

// plainRecord frames msg as one record; msg is at most a UDP datagram.
func plainRecord(msg []byte) *relayRecord {
	r := relayRecords.Get().(*relayRecord)
	r.b = AppendRecord(r.b[:0], msg)
	return r
}

func (r *relayRecord) release() {
	if cap(r.b) <= maxRecord+recordHeader {
		relayRecords.Put(r)
	}
}

// relayCounters are shared by everything one tunnel or server writes.
type relayCounters struct {
	sent          atomic.Uint64 // records the kernel took
	droppedFull   atomic.Uint64 // records refused by a full queue
	droppedDown   atomic.Uint64 // records with no connection to go to, or left when it ended
	writeTimeouts atomic.Uint64 // connections given up because writes stalled
}

// enqueue puts r in queue if there is room; it never waits.
func (n *relayCounters) enqueue(queue chan<- *relayRecord, r *relayRecord) bool {
	select {
	case queue <- r:
		return true
	default:
		r.release()
		n.droppedFull.Add(1)
		return false
	}
}

// discard empties a queue nobody will write any more.
func (n *relayCounters) discard(queue chan *relayRecord) {
	for {
		select {
		case r := <-queue:
			r.release()
			n.droppedDown.Add(1)
		default:
			return
		}
	}
}

// writeRecords writes what arrives on queue to c, a batch per writev,
// until stop closes (nil) or a write fails or outlasts timeout (the error;
// the caller closes c).
func writeRecords(c net.Conn, queue <-chan *relayRecord, stop <-chan struct{}, timeout time.Duration, n *relayCounters) error {
	batch := make([]*relayRecord, 0, recordBatch)
	iov := make(net.Buffers, 0, recordBatch)
	for {
		select {
		case r := <-queue:
			batch = append(batch[:0], r)
		case <-stop:
			return nil
		}
		for len(batch) < recordBatch && len(queue) > 0 {
			batch = append(batch, <-queue) // the only reader: this cannot wait
		}
		iov = iov[:0]
		for _, r := range batch {
			iov = append(iov, r.b)
		}
		err := c.SetWriteDeadline(time.Now().Add(timeout))
		if err == nil {
			pending := iov // WriteTo consumes its receiver
			_, err = pending.WriteTo(c)
		}
		for _, r := range batch {
			r.release()
		}
		if err != nil {
			n.droppedDown.Add(uint64(len(batch)))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				n.writeTimeouts.Add(1)
			}
			return err
		}
		n.sent.Add(uint64(len(batch)))
	}
}
