// Package vl2test extends the VL1 harness with VL2: every node gets a
// switch, members get in-memory frame devices, and a node can run the
// network controller. Virtual time, no sleeps.
package vl2test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/ztgo/ztgo/drivers/memdev"
	"github.com/ztgo/ztgo/layer0-transport/memnet"
	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/controller"
)

// Member is a simulated machine with VL2.
type Member struct {
	*vl1test.Node
	Switch     *vl2.Switch
	Controller *controller.Controller // nil unless made with AddController

	mu      sync.Mutex
	devices map[uint64]*memdev.Device
}

// Harness is a VL1 harness whose nodes all run VL2.
type Harness struct {
	*vl1test.Harness
	Members []*Member
}

// New builds the internet, the planet and its roots (roots run VL2 too:
// they keep the multicast directory).
func New(tb testing.TB, opts vl1test.Options) *Harness {
	h := &Harness{Harness: vl1test.New(tb, opts)}
	for _, r := range h.Roots {
		h.attach(r)
	}
	return h
}

func (h *Harness) attach(n *vl1test.Node) *Member {
	m := &Member{Node: n, devices: map[uint64]*memdev.Device{}}
	m.Switch = vl2.New(vl2.Config{Link: n.Node, OnChange: m.apply})
	n.Node.SetUpper(m.Switch)
	h.Members = append(h.Members, m)
	return m
}

// apply plays the OS: the device gets the network's addresses and routes.
func (m *Member) apply(info vl2.Info) {
	m.mu.Lock()
	d := m.devices[info.NetworkID]
	m.mu.Unlock()
	if d == nil {
		return
	}
	routes := make([]netip.Prefix, 0, len(info.Routes))
	for _, r := range info.Routes {
		routes = append(routes, r.Target)
	}
	d.Configure(info.Status == vl2.StatusOK, info.Addresses, routes)
}

// Add starts a member (nat 0 = public address).
func (h *Harness) Add(name string, nat memnet.NATType) *Member {
	return h.attach(h.Harness.Add(name, nat))
}

// AddController starts a member that also runs the network controller,
// keeping its database in dir ("" = memory).
func (h *Harness) AddController(name, dir string) *Member {
	m := h.Add(name, 0)
	h.StartController(m, dir)
	return m
}

// Restart brings a stopped member back as a restarted process: same
// identity and address, a fresh engine and switch, rejoining nwids.
func (h *Harness) Restart(m *Member, nwids ...uint64) *Member {
	n := h.attach(h.Harness.Restart(m.Node))
	n.Name = m.Name
	for _, id := range nwids {
		n.Join(id)
	}
	return n
}

// RestartController brings a stopped controller node back as a new
// process would: same identity and address, a fresh engine and switch,
// the controller database read again from dir.
func (h *Harness) RestartController(m *Member, dir string) *Member {
	n := h.attach(h.Harness.Restart(m.Node))
	n.Name = m.Name
	h.StartController(n, dir)
	return n
}

// StartController (re)starts m's controller from dir.
func (h *Harness) StartController(m *Member, dir string) {
	c, err := controller.New(controller.Config{Identity: m.Identity(), Dir: dir, Sender: m.Switch, Now: h.Net.Now})
	if err != nil {
		h.TB.Fatal(err)
	}
	m.Controller = c
	m.Switch.SetController(c)
}

// Join joins a network with an in-memory device and returns the device.
// Frames from the "OS" go in through Send; nothing reads the device.
func (m *Member) Join(nwid uint64) *memdev.Device {
	d := memdev.New(m.Name, 2800)
	m.mu.Lock()
	m.devices[nwid] = d
	m.mu.Unlock()
	if _, err := m.Switch.Join(nwid, d); err != nil {
		panic(err)
	}
	return d
}

// Device returns the device of a joined network.
func (m *Member) Device(nwid uint64) *memdev.Device {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.devices[nwid]
}

// Send puts a frame on the network as m's OS would.
func (m *Member) Send(nwid uint64, frame []byte) {
	if n := m.Switch.Network(nwid); n != nil {
		n.HandleFrame(frame)
	}
}
