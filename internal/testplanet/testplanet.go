// Package testplanet makes private planets for tests, so no test node ever
// uses the public one. It is apart from testutil, which the transport
// layer's tests use and which must therefore import no layer.
package testplanet

import (
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// Single is a planet whose only root is id at endpoint, signed with id's
// own key.
func Single(id *identity.Identity, worldID uint64, endpoint netip.AddrPort) []byte {
	sk := id.SecretKey()
	return world.Make(world.Planet, worldID, 1, id.PublicKey(),
		[]world.Root{{Identity: id.Public(), StableEndpoints: []netip.AddrPort{endpoint}}}, &sk).Append(nil)
}
