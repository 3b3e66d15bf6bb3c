//go:build darwin || windows

// Package utun is the network device on macOS (utun) and Windows (wintun):
// wireguard-go's layer-3 TUN behind the Ethernet adapter of package
// l2adapter, with addresses and routes set through the OS tools.
package utun

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/ztgo/ztgo/drivers/l2adapter"
)

// Device is a TUN with an Ethernet face.
type Device struct {
	*l2adapter.Adapter
	name string

	mu     sync.Mutex
	addrs  []netip.Prefix
	routes []netip.Prefix
}

// New creates the TUN for a network.
func New(nwid uint64, mac [6]byte, mtu int) (*Device, error) {
	t, err := tun.CreateTUN(tunName(nwid), mtu)
	if err != nil {
		return nil, fmt.Errorf("utun: %w (run as administrator/root)", err)
	}
	name, err := t.Name()
	if err != nil {
		t.Close()
		return nil, err
	}
	return &Device{Adapter: l2adapter.New(t, name, mac, mtu), name: name}, nil
}

// Configure sets addresses and on-link routes, changing only differences.
func (d *Device) Configure(up bool, addrs, routes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !up {
		addrs, routes = nil, nil
	}
	d.Adapter.SetAddresses(addrs, routes)
	for _, p := range d.addrs {
		if !slices.Contains(addrs, p) {
			run(delAddrCmd(d.name, p))
		}
	}
	for _, p := range addrs {
		if !slices.Contains(d.addrs, p) {
			run(addAddrCmd(d.name, p))
		}
	}
	for _, r := range d.routes {
		if !slices.Contains(routes, r) {
			run(delRouteCmd(d.name, r))
		}
	}
	for _, r := range routes {
		if !slices.Contains(d.routes, r) {
			run(addRouteCmd(d.name, r))
		}
	}
	d.addrs, d.routes = slices.Clone(addrs), slices.Clone(routes)
}
