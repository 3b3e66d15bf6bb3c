//go:build linux

package dns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"time"

	"github.com/godbus/dbus/v5"
)

// systemd-resolved's D-Bus names (org.freedesktop.resolve1(5)).
const (
	resolvedName   = "org.freedesktop.resolve1"
	resolvedPath   = "/org/freedesktop/resolve1"
	resolvedPrefix = "org.freedesktop.resolve1.Manager."
)

// callTimeout bounds one D-Bus call.
const callTimeout = 10 * time.Second

// pick chooses systemd-resolved when the bus has it (running, or startable
// by D-Bus activation as resolvectl would start it), else resolvconf when
// installed, else nothing.
func pick(opts Options, log *slog.Logger) backend {
	r := &resolved{address: opts.BusAddress}
	err := r.connect()
	if err == nil {
		var ok bool
		if ok, err = r.present(); ok {
			log.Info("allowDNS: setting DNS through systemd-resolved")
			return r
		}
		r.close()
	}
	prog := opts.Resolvconf
	if prog == "" {
		prog = "resolvconf"
	}
	if path, lerr := exec.LookPath(prog); lerr == nil {
		log.Info("allowDNS: no systemd-resolved on the system bus; setting DNS through resolvconf", "resolvconf", path, "bus", errString(err))
		return resolvconf{path: path}
	}
	log.Warn("allowDNS: neither systemd-resolved nor resolvconf found; networks' DNS will not be set", "bus", errString(err))
	return none{}
}

func errString(err error) string {
	if err == nil {
		return "systemd-resolved not on the bus"
	}
	return err.Error()
}

// resolved talks to systemd-resolved's Manager object.
type resolved struct {
	address string // "" = system bus
	conn    *dbus.Conn
}

func (r *resolved) connect() error {
	var err error
	if r.address == "" {
		r.conn, err = dbus.ConnectSystemBus()
	} else {
		r.conn, err = dbus.Connect(r.address)
	}
	return err
}

// present reports whether resolved owns its name or can be activated.
func (r *resolved) present() (bool, error) {
	var owned bool
	if err := r.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, resolvedName).Store(&owned); err != nil {
		return false, err
	}
	if owned {
		return true, nil
	}
	var names []string
	if err := r.conn.BusObject().Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err != nil {
		return false, err
	}
	return slices.Contains(names, resolvedName), nil
}

func (r *resolved) call(method string, args ...any) error {
	if r.conn == nil || !r.conn.Connected() {
		if r.conn != nil {
			r.conn.Close()
		}
		if err := r.connect(); err != nil {
			return fmt.Errorf("dns: reconnect to the bus: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := r.conn.Object(resolvedName, resolvedPath).CallWithContext(ctx, resolvedPrefix+method, 0, args...).Err; err != nil {
		return fmt.Errorf("dns: systemd-resolved %s: %w", method, err)
	}
	return nil
}

// linkAddress is resolved's (iay): an address family and the address's
// bytes.
type linkAddress struct {
	Family  int32
	Address []byte
}

// linkDomain is resolved's (sb): a domain and whether it only routes
// queries (false: it is also a search domain, as `resolvectl domain` sets).
type linkDomain struct {
	Domain      string
	RoutingOnly bool
}

// Linux address families, as resolved takes them.
const (
	afInet  = 2
	afInet6 = 10
)

func (r *resolved) set(ifname, domain string, servers []netip.Addr) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	idx := int32(ifi.Index)
	addrs := []linkAddress{}
	for _, s := range servers {
		s = s.Unmap()
		if s.Is4() {
			addrs = append(addrs, linkAddress{afInet, s.AsSlice()})
		} else if s.Is6() {
			addrs = append(addrs, linkAddress{afInet6, s.AsSlice()})
		}
	}
	if err := r.call("SetLinkDNS", idx, addrs); err != nil {
		return err
	}
	domains := []linkDomain{}
	if domain != "" {
		domains = append(domains, linkDomain{Domain: domain})
	}
	return r.call("SetLinkDomains", idx, domains)
}

func (r *resolved) revert(ifname string) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		// The interface is gone, and resolved forgets a link that goes.
		return nil
	}
	return r.call("RevertLink", int32(ifi.Index))
}

func (r *resolved) close() error {
	if r.conn == nil {
		return nil
	}
	err := r.conn.Close()
	r.conn = nil
	return err
}

// resolvconf hands resolvconf(8) a resolv.conf fragment per interface.
type resolvconf struct{ path string }

func (c resolvconf) run(stdin []byte, args ...string) error {
	cmd := exec.Command(c.path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("dns: %s %v: %w: %s", c.path, args, err, bytes.TrimSpace(out))
	}
	return nil
}

func (c resolvconf) set(ifname, domain string, servers []netip.Addr) error {
	var b bytes.Buffer
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s.Unmap())
	}
	if domain != "" {
		fmt.Fprintf(&b, "search %s\n", domain)
	}
	return c.run(b.Bytes(), "-a", ifname)
}

func (c resolvconf) revert(ifname string) error {
	err := c.run(nil, "-d", ifname)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// resolvconf -d of an interface it does not know is harmless.
		return nil
	}
	return err
}

func (resolvconf) close() error { return nil }
