package node

import (
	"net/netip"

	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// Device is a network's OS side: a frame device that also takes the
// network's addresses and routes (tap, userspace stack, memory).
type Device interface {
	vl2.FrameDevice
	Configure(up bool, addrs, routes []netip.Prefix)
}

// GatewayRouter is implemented by devices that install routes through a
// gateway on the network (targets[i] via vias[i]).
type GatewayRouter interface {
	ConfigureGateways(targets []netip.Prefix, vias []netip.Addr)
}

// DeviceFactory makes the device for a joined network; nil means networks
// get no device (configs only).
type DeviceFactory func(nwid uint64, mac vl2wire.MAC, mtu int) (Device, error)

// Join joins a network with a device from the node's factory and starts
// moving its frames.
func (n *Node) Join(nwid uint64) (*vl2.Network, error) {
	if nw := n.VL2.Network(nwid); nw != nil {
		return nw, nil
	}
	var dev Device
	portError := false
	if n.devices != nil {
		d, err := n.devices(nwid, vl2wire.MACFor(n.VL1.Address(), nwid), 2800)
		if err != nil {
			// As zerotier-one: the network is joined but shows PORT_ERROR.
			n.log.Error("cannot create the network's device", "network", vl2wire.NetworkIDString(nwid), "err", err)
			portError = true
		} else {
			dev = d
			n.devMu.Lock()
			n.devs[nwid] = d
			n.devMu.Unlock()
		}
	}
	var fd vl2.FrameDevice
	if dev != nil {
		fd = dev
	}
	nw, err := n.VL2.Join(nwid, fd)
	if err != nil {
		if dev != nil {
			dev.Close()
		}
		return nil, err
	}
	if portError {
		nw.SetPortError()
	}
	if dev != nil {
		n.wg.Add(1)
		go n.pump(nw, dev)
		nw.Refresh()
	}
	return nw, nil
}

// Leave leaves a network and removes its device.
func (n *Node) Leave(nwid uint64) error {
	err := n.VL2.Leave(nwid)
	n.devMu.Lock()
	dev := n.devs[nwid]
	delete(n.devs, nwid)
	n.devMu.Unlock()
	if dev != nil {
		n.revertDNS(nwid, dev)
		dev.Close()
	}
	return err
}

// Device returns the device of a joined network, if it has one.
func (n *Node) Device(nwid uint64) Device {
	n.devMu.Lock()
	defer n.devMu.Unlock()
	return n.devs[nwid]
}

// pump moves frames the OS sent into the network until the device closes.
// Frames are read with room in front for the packet header, so unicast
// frames are encrypted and sent where they lie.
func (n *Node) pump(nw *vl2.Network, dev Device) {
	defer n.wg.Done()
	batch := max(dev.BatchSize(), 1)
	size := vl2.ReadHeadroom + 14 + max(dev.MTU(), 1500)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	sizes := make([]int, batch)
	tx := n.VL1.NewTxBatch()
	for {
		k, err := dev.Read(bufs, sizes, vl2.ReadHeadroom)
		if err != nil {
			return
		}
		nw.HandleFrames(tx, bufs[:k], sizes[:k], vl2.ReadHeadroom)
	}
}

// onNetworkChange applies a network's state to its device: addresses,
// routes and, with allowDNS, DNS.
func (n *Node) onNetworkChange(info vl2.Info) {
	dev := n.Device(info.NetworkID)
	if dev == nil {
		return
	}
	settings := n.Home.loadSettings(info.NetworkID)
	addrs, routes, gwTargets, gwVias := settings.allowedWithGateways(info)
	up := info.Status == vl2.StatusOK
	dev.Configure(up, addrs, routes)
	if g, ok := dev.(GatewayRouter); ok {
		if !up {
			gwTargets, gwVias = nil, nil
		}
		g.ConfigureGateways(gwTargets, gwVias)
	}
	n.syncDNS(info, dev, settings.AllowDNS)
}

func (n *Node) closeDevices() {
	n.devMu.Lock()
	devs := n.devs
	n.devs = map[uint64]Device{}
	n.devMu.Unlock()
	for nwid, d := range devs {
		n.revertDNS(nwid, d)
		d.Close()
	}
}
