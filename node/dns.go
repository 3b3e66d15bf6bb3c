package node

import (
	"fmt"
	"net/netip"

	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// DNSConfigurer gives a network's interface the DNS servers and search
// domain its controller pushes, for networks whose allowDNS is on. It is
// an OS port (drivers/dns), composed by the caller; nil means DNS is never
// applied.
type DNSConfigurer interface {
	SetDNS(ifname, domain string, servers []netip.Addr) error
	RevertDNS(ifname string) error
}

// syncDNS applies a network's pushed DNS to its device's interface when
// allowDNS is on, the network is OK and its config has DNS (a domain), and
// reverts it otherwise. It calls the port only when that changes what the
// interface should have.
func (n *Node) syncDNS(info vl2.Info, dev Device, allow bool) {
	if n.dns == nil {
		return
	}
	var servers []netip.Addr
	for _, s := range info.DNS.Servers {
		if s.Addr().IsValid() {
			servers = append(servers, s.Addr())
		}
	}
	want := ""
	if allow && info.Status == vl2.StatusOK && info.DNS.Domain != "" {
		want = fmt.Sprint(info.DNS.Domain, servers)
	}
	n.dnsMu.Lock()
	defer n.dnsMu.Unlock()
	// Leave removes the device before reverting under dnsMu: a change
	// racing a leave must not set DNS again afterwards.
	if n.Device(info.NetworkID) != dev || n.dnsSet[info.NetworkID] == want {
		return
	}
	if want == "" {
		n.revertDNSLocked(info.NetworkID, dev)
		return
	}
	if err := n.dns.SetDNS(dev.Name(), info.DNS.Domain, servers); err != nil {
		n.log.Warn("cannot set the network's DNS", "network", vl2wire.NetworkIDString(info.NetworkID), "device", dev.Name(), "err", err)
		return
	}
	n.log.Info("set the network's DNS", "network", vl2wire.NetworkIDString(info.NetworkID), "device", dev.Name(), "domain", info.DNS.Domain, "servers", servers)
	n.dnsSet[info.NetworkID] = want
}

// revertDNS undoes syncDNS for a network's device, if it set anything.
func (n *Node) revertDNS(nwid uint64, dev Device) {
	if n.dns == nil {
		return
	}
	n.dnsMu.Lock()
	defer n.dnsMu.Unlock()
	n.revertDNSLocked(nwid, dev)
}

func (n *Node) revertDNSLocked(nwid uint64, dev Device) {
	if n.dnsSet[nwid] == "" {
		return
	}
	delete(n.dnsSet, nwid)
	if err := n.dns.RevertDNS(dev.Name()); err != nil {
		n.log.Warn("cannot revert the network's DNS", "network", vl2wire.NetworkIDString(nwid), "device", dev.Name(), "err", err)
	}
}
