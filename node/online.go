package node

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// watchOnline logs the node's ONLINE and OFFLINE changes (the states
// zerotier-cli info shows) and, while no root answers, which roots it is
// trying, so a node that cannot reach its planet says so.
func (n *Node) watchOnline(ctx context.Context) {
	t := time.NewTicker(n.onlineEvery)
	defer t.Stop()
	online := false
	lastNag := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := n.VL1.Status()
		now := time.Now()
		switch {
		case st.Online && !online:
			n.log.Info("ONLINE: a root answers", "address", st.Address, "via", n.VL1.BestUpstream())
		case !st.Online && online:
			n.log.Warn("OFFLINE: no root has answered lately", "address", st.Address)
			lastNag = now
		case !st.Online && !st.Root && now.Sub(lastNag) >= n.rootNagEvery:
			n.log.Warn(fmt.Sprintf("no root reachable yet (tried %s)", n.rootEndpoints()))
			lastNag = now
		}
		online = st.Online
	}
}

// rootEndpoints lists the planet's and moons' roots with their addresses.
func (n *Node) rootEndpoints() string {
	planet, moons := n.VL1.Worlds()
	var out []string
	for _, w := range append(moons, planet) {
		if w == nil {
			continue
		}
		for _, r := range w.Roots {
			eps := make([]string, len(r.StableEndpoints))
			for i, ep := range r.StableEndpoints {
				eps[i] = ep.String()
			}
			out = append(out, r.Identity.Address().String()+" at "+strings.Join(eps, ", "))
		}
	}
	if len(out) == 0 {
		return "no roots: the planet lists none"
	}
	return strings.Join(out, "; ")
}
