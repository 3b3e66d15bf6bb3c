//go:build !linux

package cli

import "github.com/ztgo/ztgo/node"

// tapDevices: TAP devices on this OS are not implemented yet; networks get
// configs but no interface.
func tapDevices() node.DeviceFactory { return nil }
