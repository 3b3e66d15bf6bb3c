//go:build !linux && !freebsd && !darwin && !windows

package cli

import "github.com/ztgo/ztgo/node"

// tapDevices: no network device on this OS yet; networks get configs only.
func tapDevices() node.DeviceFactory { return nil }
