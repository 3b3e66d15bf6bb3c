//go:build linux

package tap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/ztgo/ztgo/internal/fastsys"
	"golang.org/x/sys/unix"
)

// Device is a Linux TAP interface.
type Device struct {
	f    *os.File
	name string
	mtu  int
	link netlink.Link
	vnet *vnetIO // nil without offloads

	mu     sync.Mutex
	addrs  []netip.Prefix
	routes []netip.Prefix
	gws    []netlink.Route
}

// New creates the TAP interface for a network, sets its MAC and MTU and
// brings it up. It needs CAP_NET_ADMIN.
func New(nwid uint64, mac [6]byte, mtu int) (*Device, error) {
	name := ""
	for trial := 0; trial < 1000; trial++ {
		name = Name(nwid, trial)
		if _, err := os.Stat("/proc/sys/net/ipv4/conf/" + name); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	fd, offloads, err := openTAP(name, os.Getenv(offloadEnv) != "0")
	if err != nil {
		return nil, fmt.Errorf("tap: create %s: %w (run as root, or with CAP_NET_ADMIN)", name, err)
	}
	d := &Device{f: os.NewFile(uintptr(fd), "/dev/net/tun"), name: name, mtu: mtu}
	if offloads != 0 {
		if d.vnet, err = newVnetIO(d.f, mtu, offloads); err != nil {
			d.f.Close()
			return nil, err
		}
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetHardwareAddr(link, net.HardwareAddr(mac[:]))
	}
	if err == nil {
		err = netlink.LinkSetMTU(link, mtu)
	}
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		d.f.Close()
		return nil, fmt.Errorf("tap: configure %s: %w", name, err)
	}
	d.link = link
	return d, nil
}

// Offloads reports whether the device moves super-frames to and from the
// kernel (IFF_VNET_HDR with TSO); otherwise it moves one frame at a time.
func (d *Device) Offloads() bool { return d.vnet != nil }

// BatchSize is how many frames one Read may return.
func (d *Device) BatchSize() int {
	if d.vnet != nil {
		return offloadBatch
	}
	return 1
}

// Read returns frames the OS sent, each at most MTU+14 bytes.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if d.vnet != nil {
		return d.vnet.read(bufs, sizes, offset)
	}
	return readPlain(d.f, bufs, sizes, offset)
}

// Write hands frames to the OS; frames over the MTU are dropped, as
// zerotier-one does.
func (d *Device) Write(bufs [][]byte, offset int) (n int, err error) {
	if d.vnet != nil {
		n, err = d.vnet.write(bufs, offset)
	} else {
		n, err = writePlain(d.f, d.mtu, bufs, offset)
	}
	if len(bufs) == 1 && err == nil {
		fastsys.YieldAfterLone() // let the program this frame woke run first
	}
	return n, err
}

// Configure makes the interface's addresses and routes the given ones,
// adding and removing only the differences. Routes that are the on-link
// prefix of an address are left to the kernel.
func (d *Device) Configure(up bool, addrs, routes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !up {
		addrs, routes = nil, nil
	}
	for _, p := range d.addrs {
		if !slices.Contains(addrs, p) {
			_ = netlink.AddrDel(d.link, &netlink.Addr{IPNet: ipNet(p)})
		}
	}
	var kept []netip.Prefix
	for _, p := range addrs {
		if slices.Contains(d.addrs, p) {
			kept = append(kept, p)
			continue
		}
		a := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD // the controller assigned it: nobody else has it
		}
		if err := netlink.AddrReplace(d.link, a); err == nil {
			kept = append(kept, p)
		}
	}
	d.addrs = kept
	var wanted []netip.Prefix
	for _, r := range routes {
		onLink := false
		for _, a := range addrs {
			if a.Masked() == r.Masked() {
				onLink = true
			}
		}
		if !onLink {
			wanted = append(wanted, r.Masked())
		}
	}
	for _, r := range d.routes {
		if !slices.Contains(wanted, r) {
			_ = netlink.RouteDel(&netlink.Route{LinkIndex: d.link.Attrs().Index, Dst: ipNet(r)})
		}
	}
	var installed []netip.Prefix
	for _, r := range wanted {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: d.link.Attrs().Index, Dst: ipNet(r), Protocol: unix.RTPROT_STATIC}); err == nil {
			installed = append(installed, r)
		}
	}
	d.routes = installed
}

// ConfigureGateways installs routes through gateways on the network,
// metric 5000 as zerotier-one uses, replacing the previous set.
func (d *Device) ConfigureGateways(targets []netip.Prefix, vias []netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var want []netlink.Route
	for i, t := range targets {
		want = append(want, netlink.Route{LinkIndex: d.link.Attrs().Index, Dst: ipNet(t.Masked()), Gw: net.IP(vias[i].AsSlice()),
			Priority: 5000, Protocol: unix.RTPROT_STATIC})
	}
	same := func(a, b netlink.Route) bool { return a.Dst.String() == b.Dst.String() && a.Gw.Equal(b.Gw) }
	for _, r := range d.gws {
		if !slices.ContainsFunc(want, func(w netlink.Route) bool { return same(w, r) }) {
			_ = netlink.RouteDel(&r)
		}
	}
	var installed []netlink.Route
	for _, r := range want {
		if err := netlink.RouteReplace(&r); err == nil {
			installed = append(installed, r)
		}
	}
	d.gws = installed
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Close removes the interface (with its addresses and routes).
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f.Close()
}
