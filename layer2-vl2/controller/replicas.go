package controller

import (
	"context"
	"maps"
)

// Controllers sharing a store (two `ztgo run` with one identity on one
// PostgreSQL database) follow each other: the store reports what the other
// changed (Store.Watch), and storeChanged applies it as this controller's
// own API would have — memory follows the store, online members get their
// new configs, and a member deauthorized or deleted there is revoked here
// too, so whichever replica a member talks to tells it.

// follow is what a followed change asks of the members.
type follow struct {
	nwid, addr string
	revoke     bool // else push a fresh config
}

// storeChanged applies a change another writer made to the store.
func (c *Controller) storeChanged(ch Change) {
	ctx := context.Background()
	var todo []follow
	c.mu.Lock()
	if c.db == nil { // New failed to load
		c.mu.Unlock()
		return
	}
	// Re-read under c.mu, as the API writes under it: what is read is
	// never older than what this controller wrote last.
	switch {
	case ch.Resync:
		todo = c.resyncLocked(ctx)
	case ch.Member == "":
		todo = c.followNetworkLocked(ctx, ch.Network)
	default:
		todo = c.followMemberLocked(ctx, ch.Network, ch.Member)
	}
	c.mu.Unlock()
	for _, f := range todo {
		if f.revoke {
			c.revoke(f.nwid, f.addr)
		} else {
			c.push(f.nwid, f.addr)
		}
	}
}

// differs reports whether a record was changed: created, deleted, or
// stored again with another revision or content.
func differs(old, next record) bool {
	if old == nil || next == nil {
		return old != nil || next != nil
	}
	return revisionOf(old) != revisionOf(next) || changed(old, next)
}

// memberFollow is what a member's change asks, as SetMember and
// DeleteMember do it: a deletion or deauthorization revokes, another change
// pushes.
func memberFollow(nwid, addr string, old, next record) (follow, bool) {
	switch {
	case next == nil:
		return follow{nwid, addr, true}, old != nil
	case old != nil && toBool(old["authorized"], false) && !toBool(next["authorized"], false):
		return follow{nwid, addr, true}, true
	}
	return follow{nwid, addr, false}, differs(old, next)
}

func (c *Controller) followNetworkLocked(ctx context.Context, nwid string) []follow {
	next, err := c.db.store.Get(ctx, nwid, "")
	if err != nil {
		c.log.Warn("controller database: cannot read a network another controller changed", "network", nwid, "err", err)
		return nil
	}
	old := c.db.networks[nwid]
	if !differs(old, next) {
		return nil
	}
	var todo []follow
	for a := range c.db.members[nwid] {
		// A deleted network revokes all its members, as DeleteNetwork does.
		todo = append(todo, follow{nwid, a, next == nil})
	}
	c.db.refreshNetwork(nwid, next)
	return todo
}

func (c *Controller) followMemberLocked(ctx context.Context, nwid, addr string) []follow {
	var todo []follow
	if c.db.networks[nwid] == nil {
		todo = c.followNetworkLocked(ctx, nwid)
		if c.db.networks[nwid] == nil {
			return todo
		}
	}
	next, err := c.db.store.Get(ctx, nwid, addr)
	if err != nil {
		c.log.Warn("controller database: cannot read a member another controller changed", "network", nwid, "member", addr, "err", err)
		return todo
	}
	old := c.db.members[nwid][addr]
	c.db.refreshMember(nwid, addr, next)
	if f, ok := memberFollow(nwid, addr, old, next); ok {
		todo = append(todo, f)
	}
	return todo
}

// resyncLocked reloads everything, after changes may have been missed, and
// follows whatever differs from memory.
func (c *Controller) resyncLocked(ctx context.Context) []follow {
	networks, members, err := c.db.store.Load(ctx, c.addr.String())
	if err != nil {
		c.log.Warn("controller database: cannot reload after missing changes", "err", err)
		return nil
	}
	var todo []follow
	for nwid := range c.db.networks {
		if networks[nwid] == nil {
			for a := range c.db.members[nwid] {
				todo = append(todo, follow{nwid, a, true})
			}
		}
	}
	for nwid, n := range networks {
		if members[nwid] == nil {
			members[nwid] = map[string]record{}
		}
		netChanged := differs(c.db.networks[nwid], n)
		seen := maps.Clone(c.db.members[nwid])
		for a, m := range members[nwid] {
			delete(seen, a)
			if f, ok := memberFollow(nwid, a, c.db.members[nwid][a], m); ok {
				todo = append(todo, f)
			} else if netChanged {
				todo = append(todo, follow{nwid, a, false})
			}
		}
		for a := range seen { // deleted meanwhile
			todo = append(todo, follow{nwid, a, true})
		}
	}
	c.db.replace(networks, members)
	return todo
}
