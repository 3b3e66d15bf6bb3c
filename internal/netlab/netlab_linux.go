package netlab

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ListenUDP opens a UDP socket inside ns, from the test process itself: the
// socket is made by a thread that has joined ns for that moment only.
func (l *Lab) ListenUDP(ns string, addr netip.AddrPort) *net.UDPConn {
	l.t.Helper()
	var conn *net.UDPConn
	var err error
	l.In(ns, func() { conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr)) })
	if err != nil {
		l.t.Fatalf("listen on %s in %s: %v", addr, ns, err)
	}
	l.t.Cleanup(func() { conn.Close() })
	return conn
}

// In runs f on a thread that has joined ns for that call only: sockets f
// opens stay in ns, and netlink queries f makes see ns's interfaces.
func (l *Lab) In(ns string, f func()) {
	l.t.Helper()
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread is left locked (and so ends with this goroutine)
		// unless it got back into the test's own namespace.
		self, e := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if e != nil {
			err = e
			return
		}
		defer self.Close()
		target, e := os.Open(filepath.Join("/var/run/netns", ns))
		if e != nil {
			err = e
			return
		}
		defer target.Close()
		if err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return
		}
		f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	<-done
	if err != nil {
		l.t.Fatalf("enter %s: %v", ns, err)
	}
}

// ServeSTUN answers STUN binding requests (RFC 5389) at addr inside ns
// with the requester's address, ignoring CHANGE-REQUEST: enough for
// miniupnpd's check that its WAN address is not behind a NAT.
func (l *Lab) ServeSTUN(ns string, addr netip.AddrPort) {
	l.t.Helper()
	conn := l.ListenUDP(ns, addr)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < 20 || buf[0] != 0 || buf[1] != 1 || !from.Addr().Unmap().Is4() {
				continue
			}
			ip := from.Addr().Unmap().As4()
			resp := []byte{1, 1, 0, 12}
			resp = append(resp, buf[4:20]...) // magic cookie, transaction ID
			resp = append(resp, 0, 1, 0, 8, 0, 1, byte(from.Port()>>8), byte(from.Port()))
			resp = append(resp, ip[:]...)
			_, _ = conn.WriteToUDPAddrPort(resp, from)
		}
	}()
}

// MasqueradeRandom makes ns a NAT router for the lan prefix like
// Masquerade, but with a random source port per connection: a
// symmetric-like NAT that no hole punch gets through.
func (l *Lab) MasqueradeRandom(ns, wanIf, lan string) {
	l.t.Helper()
	l.Must(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	rules := fmt.Sprintf("table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  ip saddr %s oifname %q masquerade random\n }\n}\n", lan, wanIf)
	f := filepath.Join(l.t.TempDir(), "nat.nft")
	if err := os.WriteFile(f, []byte(rules), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.Must(ns, "nft", "-f", f)
}

// MiniUPnPd runs Debian's miniupnpd (nftables backend) in router ns as a
// UPnP IGD and NAT-PMP server for the LAN on lanIf, mapping ports of
// extIf's address. 198.18.0.0/15 is reserved, so miniupnpd only forwards
// after a STUN server (ServeSTUN) at stun confirms that the address is
// not behind another NAT. It returns once miniupnpd listens.
func (l *Lab) MiniUPnPd(ns, extIf, lanIf string, stun netip.AddrPort) *Proc {
	l.t.Helper()
	dir := l.t.TempDir()
	// The chains miniupnpd fills, as Debian's nft_init.sh makes them.
	fw := `table inet miniupnpd {
 chain miniupnpd { }
 chain prerouting_miniupnpd { }
 chain postrouting_miniupnpd { }
 chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
 chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
 chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
}
`
	conf := fmt.Sprintf(`ext_ifname=%s
listening_ip=%s
enable_natpmp=yes
enable_upnp=yes
secure_mode=no
system_uptime=yes
uuid=3b2f7c1e-8a4d-4e5b-9c6f-0d1e2f3a4b5c
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
lease_file=%s
ext_perform_stun=yes
ext_stun_host=%s
ext_stun_port=%d
allow 1024-65535 0.0.0.0/0 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`, extIf, lanIf, filepath.Join(dir, "leases"), stun.Addr(), stun.Port())
	for name, text := range map[string]string{"fw.nft": fw, "miniupnpd.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			l.t.Fatal(err)
		}
	}
	l.Must(ns, "nft", "-f", filepath.Join(dir, "fw.nft"))
	p := l.Start(ns, "miniupnpd", "miniupnpd", "-d", "-f", filepath.Join(dir, "miniupnpd.conf"), "-P", filepath.Join(dir, "pid"))
	if !Eventually(15*time.Second, 100*time.Millisecond, func() bool {
		return strings.Contains(p.Output(), "Listening for NAT-PMP")
	}) {
		l.t.Fatalf("miniupnpd did not start:\n%s", p.Output())
	}
	return p
}
