package transport

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ztgo/ztgo/internal/netlab"
)

// TestUDPBindsPerLink runs a per-link bind inside a namespace joined to a
// second one by two veth links (198.18.1.0/24 on l1, 198.18.2.0/24 on l2),
// with a ZeroTier-like tap name and a denied name carrying addresses too:
//
//   - one socket per usable interface address, its interface known, and a
//     datagram to each address arrives on that address's socket;
//   - the socket of l2 is tied to l2 (SO_BINDTODEVICE): it cannot reach
//     l1's subnet even though the host can;
//   - a link added later is bound at the next rescan and handed over
//     through TakeReceivers; a link removed is unbound and its receive
//     function ends with ErrClosed.
func TestUDPBindsPerLink(t *testing.T) {
	lab := netlab.New(t)
	a, b := lab.NS("la"), lab.NS("lb")
	lab.Pair(a, "l1", "198.18.1.1/24", b, "l1", "198.18.1.2/24")
	lab.Pair(a, "l2", "198.18.2.1/24", b, "l2", "198.18.2.2/24")
	lab.Pair(a, "zt0", "198.18.5.1/24", b, "zt0", "198.18.5.2/24")
	lab.Pair(a, "bad0", "198.18.6.1/24", b, "bad0", "198.18.6.2/24")

	u := NewUDP(UDPOptions{IPv4Only: true, Links: LinkOptions{Interfaces: true, DenyPrefixes: []string{"bad"}, Rescan: time.Hour}})
	var fns []ReceiveFunc
	var port uint16
	var err error
	lab.In(a, func() { fns, port, err = u.Open(0) })
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	a1, a2 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1")
	if got := u.LocalAddrs(); len(got) != 2 || got[0] != netip.AddrPortFrom(a1, port) || got[1] != netip.AddrPortFrom(a2, port) {
		t.Fatalf("bound %v: want l1 and l2 only", got)
	}
	if len(fns) != 2 {
		t.Fatalf("%d receive functions", len(fns))
	}
	peer := lab.ListenUDP(b, netip.MustParseAddrPort("0.0.0.0:0"))
	bufs, sizes, eps := make([][]byte, 4), make([]int, 4), make([]Endpoint, 4)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagram)
	}
	read := func(fn ReceiveFunc) Endpoint {
		t.Helper()
		n, err := fn(bufs, sizes, eps)
		if err != nil || n != 1 {
			t.Fatalf("read %d %v", n, err)
		}
		return eps[0]
	}
	for i, dst := range []netip.Addr{a1, a2} {
		if _, err := peer.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(dst, port)); err != nil {
			t.Fatal(err)
		}
		ep := read(fns[i])
		info, ok := u.SocketInfo(ep.Socket)
		if want := []string{"l1", "l2"}[i]; !ok || info.Interface != want || info.Local != dst || info.Port != port {
			t.Fatalf("to %v: socket %d %+v, want interface %s", dst, ep.Socket, info, want)
		}
	}
	// Each socket is tied to its device.
	for i, want := range []string{"l1", "l2"} {
		var dev string
		var gerr error
		u.sockets[i].v4.sys.raw.Control(func(fd uintptr) {
			dev, gerr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		})
		if gerr != nil || dev != want {
			t.Fatalf("socket %d bound to device %q (%v), want %s", i, dev, gerr, want)
		}
	}
	b1 := netip.MustParseAddrPort(peer.LocalAddr().String())
	b1 = netip.AddrPortFrom(netip.MustParseAddr("198.18.1.2"), b1.Port())
	if err := u.Send([][]byte{[]byte("right link")}, Endpoint{Addr: b1, Socket: 0}); err != nil {
		t.Fatalf("l1 socket: %v", err)
	}
	buf := make([]byte, 64)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "right link" || from.Addr().Unmap() != a1 || from.Port() != port {
		t.Fatalf("got %q from %v: %v", buf[:n], from, err)
	}

	// A link comes: bound at the rescan, handed over.
	lab.Pair(a, "l3", "198.18.3.1/24", b, "l3", "198.18.3.2/24")
	lab.In(a, u.Rescan)
	select {
	case <-u.ReceiversAdded():
	default:
		t.Fatal("no signal for the new socket")
	}
	added := u.TakeReceivers()
	if len(added) != 1 || len(u.LocalAddrs()) != 3 {
		t.Fatalf("after l3 came: %d new receivers, bound %v", len(added), u.LocalAddrs())
	}
	peer.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("198.18.3.1:"+itoa(port)))
	if info, _ := u.SocketInfo(read(added[0]).Socket); info.Interface != "l3" {
		t.Fatalf("l3 socket: %+v", info)
	}
	// A link goes: unbound at the rescan; its reader ends.
	done := make(chan error, 1)
	go func() {
		_, err := fns[1](make([][]byte, 1), make([]int, 1), make([]Endpoint, 1))
		done <- err
	}()
	lab.Must(a, "ip", "link", "del", "l2")
	lab.In(a, u.Rescan)
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("l2 reader: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("l2 reader still blocked after l2 went")
	}
	if _, ok := u.SocketInfo(1); ok || len(u.LocalAddrs()) != 2 {
		t.Fatalf("l2 still bound: %v", u.LocalAddrs())
	}
	if err := u.Send([][]byte{[]byte("x")}, Endpoint{Addr: b1, Socket: 1}); err == nil {
		t.Fatal("sent on an unbound socket")
	}
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}
