//go:build linux || freebsd

package cli

import (
	"github.com/ztgo/ztgo/drivers/tap"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
	"github.com/ztgo/ztgo/node"
)

// tapDevices makes a Linux TAP interface per joined network.
func tapDevices() node.DeviceFactory {
	return func(nwid uint64, mac vl2wire.MAC, mtu int) (node.Device, error) {
		var m [6]byte
		copy(m[:], mac.Append(nil))
		return tap.New(nwid, m, mtu)
	}
}
