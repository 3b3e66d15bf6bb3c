package vl1

import (
	"context"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// PingResult is the answer to one ECHO.
type PingResult struct {
	RTT    time.Duration
	Direct bool // the reply arrived on a direct path (hops 0)
}

// PingWait sends ECHO to a until a reply arrives or ctx ends. While a is
// still unknown the ECHO waits for WHOIS, so it is re-sent every 500 ms.
func (n *Node) PingWait(ctx context.Context, a identity.Address) (PingResult, error) {
	ch := make(chan PingResult, 1)
	var ids []uint64
	defer func() {
		n.mu.Lock()
		for _, id := range ids {
			delete(n.pings, id)
		}
		n.mu.Unlock()
	}()
	t := time.NewTicker(whoisRetryDelay * time.Millisecond)
	defer t.Stop()
	for {
		sent := n.clock()
		n.mu.Lock()
		now := sent.UnixMilli()
		var id uint64
		p := n.peers[a]
		if p != nil {
			id, _ = n.sendTo(now, p, wire.VerbECHO, nil, false, nil)
		} else if a != n.addr && !a.IsReserved() {
			n.requestWhois(now, a)
		}
		if id != 0 {
			ids = append(ids, id)
			n.pings[id] = pingWaiter{ch: ch, sent: now}
		}
		n.unlock()
		if a == n.addr || a.IsReserved() {
			return PingResult{}, ErrReserved
		}
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return PingResult{}, ctx.Err()
		case <-t.C:
		}
	}
}

type pingWaiter struct {
	ch   chan PingResult
	sent int64
}

// echoAnswered wakes a PingWait whose ECHO this OK answers.
func (n *Node) echoAnswered(now int64, inReID uint64, hops int) {
	w, ok := n.pings[inReID]
	if !ok {
		return
	}
	delete(n.pings, inReID)
	select {
	case w.ch <- PingResult{RTT: time.Duration(now-w.sent) * time.Millisecond, Direct: hops == 0}:
	default:
	}
}
