//go:build darwin || windows

package cli

import (
	"github.com/ztgo/ztgo/drivers/utun"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
	"github.com/ztgo/ztgo/node"
)

// tapDevices: macOS and Windows use a layer-3 TUN behind the Ethernet
// adapter.
func tapDevices() node.DeviceFactory {
	return func(nwid uint64, mac vl2wire.MAC, mtu int) (node.Device, error) {
		var m [6]byte
		copy(m[:], mac.Append(nil))
		return utun.New(nwid, m, mtu)
	}
}
