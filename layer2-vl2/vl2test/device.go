package vl2test

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
)

// Device is the harness's OS side of a network: it keeps the frames the
// network delivers and the addresses and routes the owner applied. Frames
// from the "OS" go in through Member.Send, so Read only waits for Close.
// (drivers/memdev is the in-memory driver for nodes; the harness keeps
// its own so that VL2 never imports a driver.)
type Device struct {
	name      string
	mu        sync.Mutex
	delivered [][]byte
	up        bool
	addrs     []netip.Prefix
	routes    []netip.Prefix
	closed    chan struct{}
	once      sync.Once
}

func newDevice(name string) *Device { return &Device{name: name, closed: make(chan struct{})} }

var errClosed = errors.New("vl2test: device closed")

func (d *Device) Name() string   { return d.name }
func (d *Device) MTU() int       { return 2800 }
func (d *Device) BatchSize() int { return 1 }

func (d *Device) Read([][]byte, []int, int) (int, error) {
	<-d.closed
	return 0, errClosed
}

func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range bufs {
		d.delivered = append(d.delivered, slices.Clone(b[offset:]))
	}
	return len(bufs), nil
}

func (d *Device) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

// Delivered returns and forgets the frames the network delivered.
func (d *Device) Delivered() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.delivered
	d.delivered = nil
	return out
}

// Configure records the interface state the owner applies.
func (d *Device) Configure(up bool, addrs, routes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.up, d.addrs, d.routes = up, slices.Clone(addrs), slices.Clone(routes)
}

// State returns what Configure last recorded.
func (d *Device) State() (up bool, addrs, routes []netip.Prefix) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.up, slices.Clone(d.addrs), slices.Clone(d.routes)
}
