package transport

import (
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
)

// fakeInterfaces replaces the system's interfaces for one test.
func fakeInterfaces(t *testing.T, addrs map[string][]string, down ...string) {
	t.Helper()
	old := interfaceAddrs
	t.Cleanup(func() { interfaceAddrs = old })
	interfaceAddrs = func() (map[string][]netip.Addr, map[string]bool, error) {
		as, up := map[string][]netip.Addr{}, map[string]bool{}
		for name, list := range addrs {
			up[name] = !slices.Contains(down, name)
			for _, a := range list {
				as[name] = append(as[name], netip.MustParseAddr(a))
			}
		}
		return as, up, nil
	}
}

// TestWantedLinks checks which interface addresses are bound: 1.14.1's
// scopes, its own skip list, the deny list, down interfaces and the Skip
// hook; settings.bind replaces the enumeration.
func TestWantedLinks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the system skip list differs")
	}
	fakeInterfaces(t, map[string][]string{
		"eth0":    {"198.18.1.2", "fe80::1", "2001:db8::2"},
		"eth1":    {"198.18.2.2", "169.254.3.3"},
		"lo":      {"127.0.0.1", "::1"},
		"ztabc":   {"10.147.17.5"},
		"tun0":    {"10.8.0.2"},
		"tap1":    {"10.9.0.2"},
		"docker0": {"172.17.0.1"},
		"wlan0":   {"198.18.3.2"},
		"eth9":    {"198.18.9.2", "224.0.0.1", "0.1.2.3"},
		"eth7":    {"198.18.7.2", "198.18.7.3"},
	}, "wlan0")
	skip := func(a netip.Addr) bool { return a == netip.MustParseAddr("198.18.7.3") }
	got, err := wantedLinks(LinkOptions{Interfaces: true, DenyPrefixes: []string{"docker", ""}, Skip: skip}, false)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, l := range got {
		if !l.device {
			t.Errorf("%v not tied to its device", l)
		}
		s = append(s, l.ifname+" "+l.addr.String())
	}
	want := []string{"eth0 198.18.1.2", "eth0 2001:db8::2", "eth1 198.18.2.2", "eth7 198.18.7.2", "eth9 198.18.9.2"}
	if !slices.Equal(s, want) {
		t.Fatalf("bound %q\nwant  %q", s, want)
	}
	got, _ = wantedLinks(LinkOptions{Interfaces: true}, true)
	for _, l := range got {
		if l.addr.Is6() {
			t.Fatalf("IPv6 %v bound IPv4-only", l)
		}
	}
	got, _ = wantedLinks(LinkOptions{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.2"), netip.MustParseAddr("203.0.113.1")}}, false)
	if len(got) != 2 || got[0].ifname != "eth1" || got[0].device || got[1].ifname != "" {
		t.Fatalf("explicit: %+v", got)
	}
}

// TestUDPExplicitBind binds settings.bind's addresses, one socket per
// address and port, and tells them apart on receive; the explicit list is
// bound as given (loopback included), as 1.14.1 does.
func TestUDPExplicitBind(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	lo1, lo2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	u := NewUDP(UDPOptions{IPv4Only: true, SecondaryPort: true, Links: LinkOptions{Addrs: []netip.Addr{lo1, lo2}, Rescan: time.Hour}})
	fns, port, err := u.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if len(fns) != 4 || len(u.Ports()) != 2 || u.Ports()[0] != port {
		t.Fatalf("%d receive funcs, ports %v", len(fns), u.Ports())
	}
	if got := u.LocalAddrs(); len(got) != 4 || !slices.Contains(got, netip.AddrPortFrom(lo2, port)) {
		t.Fatalf("local addrs %v", got)
	}
	peer := NewUDP(UDPOptions{IPv4Only: true, ListenAddr4: lo1})
	pfns, pport, err := peer.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// Datagrams to each address arrive on that address's socket.
	for _, dst := range []netip.Addr{lo1, lo2} {
		if err := peer.Send([][]byte{[]byte(dst.String())}, Endpoint{Addr: netip.AddrPortFrom(dst, port), Socket: 0}); err != nil {
			t.Fatal(err)
		}
	}
	socketOf := map[string]int{}
	bufs, sizes, eps := make([][]byte, 8), make([]int, 8), make([]Endpoint, 8)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagram)
	}
	for i, fn := range fns {
		// Every address bound, so function i reads socket i.
		info, _ := u.SocketInfo(i)
		if info.Port != port {
			continue // the secondary port's sockets: nothing sent there
		}
		n, err := fn(bufs, sizes, eps)
		if err != nil || n != 1 {
			t.Fatalf("read %d %v", n, err)
		}
		socketOf[string(bufs[0][:sizes[0]])] = eps[0].Socket
	}
	// 127.0.0.2 answers on lo without being one of its addresses.
	for a, ifname := range map[netip.Addr]string{lo1: "lo", lo2: ""} {
		info, ok := u.SocketInfo(socketOf[a.String()])
		if !ok || info.Local != a || info.Interface != ifname && runtime.GOOS == "linux" {
			t.Fatalf("datagram to %v came in on socket %d: %+v", a, socketOf[a.String()], info)
		}
	}
	// A reply from a given socket leaves from its address.
	if err := u.Send([][]byte{[]byte("back")}, Endpoint{Addr: netip.AddrPortFrom(lo1, pport), Socket: socketOf[lo2.String()]}); err != nil {
		t.Fatal(err)
	}
	n, err := pfns[0](bufs, sizes, eps)
	if err != nil || n != 1 || eps[0].Addr != netip.AddrPortFrom(lo2, port) {
		t.Fatalf("reply %d %v from %v", n, err, eps[0].Addr)
	}
}
