package vl2

import (
	"net/netip"

	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// FrameDevice is the OS side of a network, shaped like wireguard-go's
// tun.Device but carrying whole Ethernet frames (14-byte header, no FCS).
// Frames start at offset in each buffer.
type FrameDevice interface {
	// Read blocks until at least one frame the OS sent is available.
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	// Write hands frames to the OS.
	Write(bufs [][]byte, offset int) (int, error)
	MTU() int
	Name() string
	Close() error
	BatchSize() int
}

// Info is what the OS side needs to configure the device: the network's
// externally visible state (vl2.md §7.3). Owners get it through
// Config.OnChange whenever it changes.
type Info struct {
	NetworkID        uint64
	MAC              vl2wire.MAC
	Name             string
	Status           Status
	Type             string // PRIVATE or PUBLIC
	MTU              int
	Bridge           bool
	BroadcastEnabled bool
	Revision         uint64
	Addresses        []netip.Prefix
	Routes           []vl2wire.Route
	DNS              vl2wire.DNS
	MulticastLimit   int
	// MulticastSubscriptions are the groups the node itself listens to on
	// the network: each static address's ARP or solicited-node group and
	// what the OS side subscribed, sorted (not broadcast, which the
	// config enables), as 1.14.1 lists them.
	MulticastSubscriptions []vl2wire.MulticastGroup
}

// Status is a network's status (vl2.md §7.1).
type Status int

// Statuses, with 1.14.1's codes.
const (
	StatusRequestingConfiguration Status = 0
	StatusOK                      Status = 1
	StatusAccessDenied            Status = 2
	StatusNotFound                Status = 3
	StatusPortError               Status = 4
	StatusClientTooOld            Status = 5
	StatusAuthenticationRequired  Status = 6
)

func (s Status) String() string {
	switch s {
	case StatusRequestingConfiguration:
		return "REQUESTING_CONFIGURATION"
	case StatusOK:
		return "OK"
	case StatusAccessDenied:
		return "ACCESS_DENIED"
	case StatusNotFound:
		return "NOT_FOUND"
	case StatusPortError:
		return "PORT_ERROR"
	case StatusClientTooOld:
		return "CLIENT_TOO_OLD"
	case StatusAuthenticationRequired:
		return "AUTHENTICATION_REQUIRED"
	}
	return "UNKNOWN"
}
