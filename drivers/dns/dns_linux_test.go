//go:build linux

package dns

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ztgo/ztgo/drivers/dns/dnstest"
)

func loIndex(t *testing.T) int32 {
	t.Helper()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no lo interface: %v", err)
	}
	return int32(lo.Index)
}

// TestResolvedOverDBus: against a private bus with a recording stand-in
// for systemd-resolved, SetDNS sends SetLinkDNS (family and bytes per
// server) and SetLinkDomains (a search domain, not routing-only) for the
// interface's index, and RevertDNS sends RevertLink.
func TestResolvedOverDBus(t *testing.T) {
	addr := dnstest.Bus(t)
	r := dnstest.NewResolved(t, addr)
	idx := loIndex(t)
	a := New(Options{BusAddress: addr, Resolvconf: "/nonexistent", Logger: slog.New(slog.DiscardHandler)})
	defer a.Close()
	servers := []netip.Addr{netip.MustParseAddr("10.9.0.53"), netip.MustParseAddr("fd00::53"), netip.MustParseAddr("::ffff:10.9.0.54")}
	if err := a.SetDNS("lo", "zt.example", servers); err != nil {
		t.Fatal(err)
	}
	want := []dnstest.Call{
		{Method: "SetLinkDNS", Index: idx, Servers: []dnstest.Server{
			{Family: 2, Address: []byte{10, 9, 0, 53}},
			{Family: 10, Address: netip.MustParseAddr("fd00::53").AsSlice()},
			{Family: 2, Address: []byte{10, 9, 0, 54}},
		}},
		{Method: "SetLinkDomains", Index: idx, Domains: []dnstest.Domain{{Domain: "zt.example", RoutingOnly: false}}},
	}
	if got := r.Calls(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %+v, want %+v", got, want)
	}
	if err := a.RevertDNS("lo"); err != nil {
		t.Fatal(err)
	}
	if got := r.Calls(); !reflect.DeepEqual(got, []dnstest.Call{{Method: "RevertLink", Index: idx}}) {
		t.Fatalf("revert calls %+v", got)
	}
	if err := a.SetDNS("no-such-if0", "zt.example", servers); err == nil {
		t.Fatal("no error for a missing interface")
	}
	if err := a.RevertDNS("no-such-if0"); err != nil {
		t.Fatalf("revert of a missing interface: %v", err)
	}
	if got := r.Calls(); len(got) != 0 {
		t.Fatalf("calls for a missing interface: %+v", got)
	}
}

// TestResolvconfWithoutResolved: a bus without systemd-resolved falls back
// to resolvconf, which gets the interface and a nameserver/search file.
func TestResolvconfWithoutResolved(t *testing.T) {
	addr := dnstest.Bus(t)
	dir := t.TempDir()
	prog := filepath.Join(dir, "resolvconf")
	script := "#!/bin/sh\necho \"$@\" >> " + dir + "/args\ncat >> " + dir + "/stdin\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a := New(Options{BusAddress: addr, Resolvconf: prog, Logger: slog.New(slog.DiscardHandler)})
	defer a.Close()
	if err := a.SetDNS("zt0", "zt.example", []netip.Addr{netip.MustParseAddr("10.9.0.53")}); err != nil {
		t.Fatal(err)
	}
	if err := a.RevertDNS("zt0"); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if string(args) != "-a zt0\n-d zt0\n" || string(stdin) != "nameserver 10.9.0.53\nsearch zt.example\n" {
		t.Fatalf("resolvconf args %q stdin %q", args, stdin)
	}
}

// TestNeitherDoesNothing: without resolved or resolvconf, calls succeed
// and do nothing.
func TestNeitherDoesNothing(t *testing.T) {
	a := New(Options{BusAddress: "unix:path=/nonexistent/bus", Resolvconf: "/nonexistent/resolvconf", Logger: slog.New(slog.DiscardHandler)})
	defer a.Close()
	if err := a.SetDNS("lo", "zt.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.RevertDNS("lo"); err != nil {
		t.Fatal(err)
	}
}
