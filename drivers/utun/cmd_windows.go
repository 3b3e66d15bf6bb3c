package utun

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
)

// tunName is the adapter name zerotier-one gives its connection.
func tunName(nwid uint64) string { return fmt.Sprintf("ZeroTier One [%016x]", nwid) }

func run(args []string) { _ = exec.Command(args[0], args[1:]...).Run() }

func mask(p netip.Prefix) string { return net.IP(net.CIDRMask(p.Bits(), 32)).String() }

func addAddrCmd(dev string, p netip.Prefix) []string {
	if p.Addr().Is4() {
		return []string{"netsh", "interface", "ipv4", "add", "address", dev, p.Addr().String(), mask(p)}
	}
	return []string{"netsh", "interface", "ipv6", "add", "address", dev, p.String()}
}

func delAddrCmd(dev string, p netip.Prefix) []string {
	fam := "ipv6"
	if p.Addr().Is4() {
		fam = "ipv4"
	}
	return []string{"netsh", "interface", fam, "delete", "address", dev, p.Addr().String()}
}

func addRouteCmd(dev string, p netip.Prefix) []string {
	fam := "ipv6"
	if p.Addr().Is4() {
		fam = "ipv4"
	}
	return []string{"netsh", "interface", fam, "add", "route", p.Masked().String(), dev}
}

func delRouteCmd(dev string, p netip.Prefix) []string {
	fam := "ipv6"
	if p.Addr().Is4() {
		fam = "ipv4"
	}
	return []string{"netsh", "interface", fam, "delete", "route", p.Masked().String(), dev}
}
