//go:build freebsd

package tap

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
)

// Device is a FreeBSD tap interface renamed as zerotier-one names it.
type Device struct {
	f    *os.File
	name string
	mtu  int

	mu     sync.Mutex
	addrs  []netip.Prefix
	routes []netip.Prefix
}

// New creates tapN, opens it, renames it zt<13 base32 digits> and sets
// its MAC and MTU.
func New(nwid uint64, mac [6]byte, mtu int) (*Device, error) {
	out, err := exec.Command("/sbin/ifconfig", "tap", "create").Output()
	if err != nil {
		return nil, fmt.Errorf("tap: ifconfig tap create: %w (run as root)", err)
	}
	orig := strings.TrimSpace(string(out))
	f, err := os.OpenFile("/dev/"+orig, os.O_RDWR, 0)
	if err != nil {
		exec.Command("/sbin/ifconfig", orig, "destroy").Run()
		return nil, fmt.Errorf("tap: open /dev/%s: %w", orig, err)
	}
	name := BSDName(nwid)
	if err := exec.Command("/sbin/ifconfig", orig, "name", name).Run(); err != nil {
		name = orig
	}
	if err := exec.Command("/sbin/ifconfig", name, "lladdr", net.HardwareAddr(mac[:]).String(), "mtu", fmt.Sprint(mtu), "up").Run(); err != nil {
		f.Close()
		return nil, fmt.Errorf("tap: configure %s: %w", name, err)
	}
	return &Device{f: f, name: name, mtu: mtu}, nil
}

// BatchSize is 1: the kernel hands out one frame per read.
func (d *Device) BatchSize() int { return 1 }

// Read returns one frame the OS sent.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return readPlain(d.f, bufs, sizes, offset)
}

// Write hands frames to the OS; frames over the MTU are dropped.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	return writePlain(d.f, d.mtu, bufs, offset)
}

// Configure sets addresses (ifconfig alias) and routes (route add).
func (d *Device) Configure(up bool, addrs, routes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !up {
		addrs, routes = nil, nil
	}
	fam := func(p netip.Prefix) string {
		if p.Addr().Is4() {
			return "inet"
		}
		return "inet6"
	}
	for _, p := range d.addrs {
		if !slices.Contains(addrs, p) {
			exec.Command("/sbin/ifconfig", d.name, fam(p), p.Addr().String(), "-alias").Run()
		}
	}
	for _, p := range addrs {
		if !slices.Contains(d.addrs, p) {
			exec.Command("/sbin/ifconfig", d.name, fam(p), p.String(), "alias").Run()
		}
	}
	for _, r := range d.routes {
		if !slices.Contains(routes, r) {
			exec.Command("/sbin/route", "delete", "-"+fam(r), r.Masked().String(), "-interface", d.name).Run()
		}
	}
	for _, r := range routes {
		if !slices.Contains(d.routes, r) && !slices.ContainsFunc(addrs, func(a netip.Prefix) bool { return a.Masked() == r.Masked() }) {
			exec.Command("/sbin/route", "add", "-"+fam(r), r.Masked().String(), "-interface", d.name).Run()
		}
	}
	d.addrs, d.routes = slices.Clone(addrs), slices.Clone(routes)
}

// Close destroys the interface.
func (d *Device) Close() error {
	err := d.f.Close()
	exec.Command("/sbin/ifconfig", d.name, "destroy").Run()
	return err
}
