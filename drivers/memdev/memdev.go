// Package memdev is an in-memory frame device: the OS side of a virtual
// network for tests and simulations. What the network delivers is kept
// for the test to read; what the test injects is what the "OS" sends.
// It also records the addresses and routes its owner applies, like a tap
// whose interface configuration a test can inspect.
//
// It satisfies vl2.FrameDevice with plain types and imports no layer, so
// the VL2 test harness (layer2-vl2/vl2test) uses it too.
package memdev

import (
	"errors"
	"net/netip"
	"slices"
	"sync"

	"github.com/ztgo/ztgo/drivers/internal/chanread"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("memdev: closed")

// Device is one in-memory frame device.
type Device struct {
	name string
	mtu  int

	in     chan []byte
	closed chan struct{}
	once   sync.Once

	mu        sync.Mutex
	delivered [][]byte
	onWrite   func(frame []byte)
	addrs     []netip.Prefix
	routes    []netip.Prefix
	up        bool
}

// New makes a device.
func New(name string, mtu int) *Device {
	return &Device{name: name, mtu: mtu, in: make(chan []byte, 1024), closed: make(chan struct{})}
}

// Name implements the frame device interface.
func (d *Device) Name() string { return d.name }

// MTU implements the frame device interface.
func (d *Device) MTU() int { return d.mtu }

// BatchSize implements the frame device interface.
func (d *Device) BatchSize() int { return 16 }

// Inject queues a frame as if the OS had sent it; Read returns it.
func (d *Device) Inject(frame []byte) error {
	select {
	case <-d.closed:
		return ErrClosed
	default:
	}
	select {
	case d.in <- append([]byte(nil), frame...):
		return nil
	case <-d.closed:
		return ErrClosed
	}
}

// Read implements the frame device interface.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return chanread.Read(d.in, d.closed, ErrClosed, bufs, sizes, offset)
}

// Write implements the frame device interface: frames are kept, and passed
// to the OnWrite hook if one is set.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.closed:
		return 0, ErrClosed
	default:
	}
	d.mu.Lock()
	hook := d.onWrite
	var frames [][]byte
	for _, b := range bufs {
		f := append([]byte(nil), b[offset:]...)
		d.delivered = append(d.delivered, f)
		frames = append(frames, f)
	}
	d.mu.Unlock()
	if hook != nil {
		for _, f := range frames {
			hook(f)
		}
	}
	return len(bufs), nil
}

// OnWrite calls fn with every frame written to the OS side.
func (d *Device) OnWrite(fn func(frame []byte)) {
	d.mu.Lock()
	d.onWrite = fn
	d.mu.Unlock()
}

// Delivered returns and forgets the frames written so far.
func (d *Device) Delivered() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.delivered
	d.delivered = nil
	return out
}

// Configure records the interface state its owner applies.
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

// Close implements the frame device interface.
func (d *Device) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}
