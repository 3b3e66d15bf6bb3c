package controller

import (
	"context"
	"sort"
)

// Copy copies every network of the controller with address ctl (10 hex
// digits), with its members, from one store to another, records as they
// are (revisions included): controller.d to PostgreSQL or back. A record
// in to with the same ID is replaced; others are left alone. Neither
// store should be in use by a running controller.
func Copy(ctx context.Context, from, to Store, ctl string) (networks, members int, err error) {
	nets, mems, err := from.Load(ctx, ctl)
	if err != nil {
		return 0, 0, err
	}
	ids := make([]string, 0, len(nets))
	for id := range nets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := nets[id]
		if _, _, err := to.UpdateNetwork(ctx, id, func(record) record { return clone(n) }); err != nil {
			return networks, members, err
		}
		networks++
		for addr, m := range mems[id] {
			if _, _, err := to.UpdateMember(ctx, id, addr, func(record) record { return clone(m) }); err != nil {
				return networks, members, err
			}
			members++
		}
	}
	return networks, members, nil
}
