package utun

import (
	"fmt"
	"net/netip"
	"os/exec"
)

func tunName(uint64) string { return "utun" }

func run(args []string) { _ = exec.Command(args[0], args[1:]...).Run() }

func addAddrCmd(dev string, p netip.Prefix) []string {
	if p.Addr().Is4() {
		return []string{"/sbin/ifconfig", dev, "inet", p.String(), p.Addr().String(), "alias"}
	}
	return []string{"/sbin/ifconfig", dev, "inet6", p.Addr().String(), "prefixlen", fmt.Sprint(p.Bits()), "alias"}
}

func delAddrCmd(dev string, p netip.Prefix) []string {
	if p.Addr().Is4() {
		return []string{"/sbin/ifconfig", dev, "inet", p.Addr().String(), "-alias"}
	}
	return []string{"/sbin/ifconfig", dev, "inet6", p.Addr().String(), "-alias"}
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "-inet"
	}
	return "-inet6"
}

func addRouteCmd(dev string, p netip.Prefix) []string {
	return []string{"/sbin/route", "add", family(p), p.Masked().String(), "-interface", dev}
}

func delRouteCmd(dev string, p netip.Prefix) []string {
	return []string{"/sbin/route", "delete", family(p), p.Masked().String(), "-interface", dev}
}
