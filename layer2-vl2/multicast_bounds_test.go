package vl2

import (
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

func group(i int) vl2wire.MulticastGroup {
	return vl2wire.MulticastGroup{MAC: vl2wire.MAC(0x0100_5e00_0000 | uint64(i)), ADI: uint32(i >> 20)}
}

// TestMulticastTableIsBounded: a flood of MULTICAST_LIKEs (issue 11,
// defect 3: one peer's 400 packets put 222 000 groups into a root) fills
// at most a peer's share; many peers fill at most a network's share and
// the table's, the oldest subscriptions going first; expiry keeps the
// counts right.
func TestMulticastTableIsBounded(t *testing.T) {
	db := newMulticastDB()
	const nw1, nw2 = 0x1111111111000001, 0x2222222222000002
	flooder := identity.Address(0x0102030405)
	for i := range 100_000 {
		db.add(int64(i), nw1, group(i), flooder)
	}
	if db.perPeer[flooder] != maxLikesPerPeer || db.total != maxLikesPerPeer || db.refused != 100_000-maxLikesPerPeer {
		t.Fatalf("one peer holds %d (total %d, refused %d)", db.perPeer[flooder], db.total, db.refused)
	}
	// Many peers on one network: capped per network, oldest out first.
	now := int64(200_000)
	for p := range 40 {
		for i := range maxLikesPerPeer {
			now++
			db.add(now, nw1, group(p<<12|i), identity.Address(0x1000000000+p))
		}
	}
	if db.perNet[nw1] != maxLikesPerNetwork {
		t.Fatalf("network holds %d subscriptions, cap %d", db.perNet[nw1], maxLikesPerNetwork)
	}
	if db.perPeer[flooder] != 0 {
		t.Fatal("the oldest subscriptions (the flooder's) were not the ones evicted")
	}
	newest := identity.Address(0x1000000000 + 39)
	if got := db.members(nw1, group(39<<12|(maxLikesPerPeer-1))); len(got) != 1 || got[0] != newest {
		t.Fatalf("the newest subscription is missing: %v", got)
	}
	// Across networks: the table's cap.
	for p := range 80 {
		for i := range maxLikesPerPeer {
			now++
			db.add(now, nw2+uint64(p), group(i), identity.Address(0x2000000000+p))
		}
	}
	if db.total > maxLikes || len(db.groups) > maxLikes {
		t.Fatalf("table holds %d subscriptions in %d groups, cap %d", db.total, len(db.groups), maxLikes)
	}
	if len(db.order) > 2*maxLikes+1024 {
		t.Fatalf("eviction order grew to %d", len(db.order))
	}
	// A legitimate subscription still gets in.
	if !db.add(now+1, nw1, group(7), identity.Address(0x3000000001)) {
		t.Fatal("a new subscription was refused")
	}
	// Everything expires, and the counts come back to zero.
	db.expire(now + 1 + likeExpiry + gatherInterval)
	if db.total != 0 || len(db.perPeer) != 0 || len(db.perNet) != 0 || len(db.groups) != 0 {
		t.Fatalf("after expiry: total %d, peers %d, networks %d, groups %d", db.total, len(db.perPeer), len(db.perNet), len(db.groups))
	}
}
