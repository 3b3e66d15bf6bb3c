// Package dns is the OS port that gives a network interface the DNS
// servers and search domain a network's controller pushes (allowDNS).
//
// On Linux it talks to systemd-resolved over D-Bus as resolvectl does
// (SetLinkDNS, SetLinkDomains, RevertLink on the interface's index); on a
// system without systemd-resolved but with resolvconf it hands resolvconf
// a nameserver/search file for the interface; otherwise it logs once and
// does nothing. Other systems are not supported yet.
//
// zerotier-one 1.14.1 leaves DNS alone on Linux (its tap's setDns is
// empty; zerotier-systemd-manager does this job there); ztgo does it
// itself.
package dns

import (
	"log/slog"
	"net/netip"
	"sync"
)

// Options configure an Applier.
type Options struct {
	// BusAddress is the D-Bus address to find systemd-resolved on; empty
	// means the system bus.
	BusAddress string
	// Resolvconf is the resolvconf program used when the bus has no
	// systemd-resolved; empty means "resolvconf" on PATH.
	Resolvconf string
	Logger     *slog.Logger
}

// Applier sets and reverts interfaces' DNS. It picks its backend on first
// use and is safe for concurrent use.
type Applier struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	backend backend // nil until first use
}

type backend interface {
	set(ifname, domain string, servers []netip.Addr) error
	revert(ifname string) error
	close() error
}

// New returns an Applier; it connects to nothing until first used.
func New(opts Options) *Applier {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Applier{opts: opts, log: log}
}

// SetDNS gives the interface the search domain and servers, replacing what
// it had.
func (a *Applier) SetDNS(ifname, domain string, servers []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.get().set(ifname, domain, servers)
}

// RevertDNS removes the DNS settings SetDNS gave the interface.
func (a *Applier) RevertDNS(ifname string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.get().revert(ifname)
}

// Close releases the bus connection, if any.
func (a *Applier) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.backend == nil {
		return nil
	}
	err := a.backend.close()
	a.backend = nil
	return err
}

func (a *Applier) get() backend {
	if a.backend == nil {
		a.backend = pick(a.opts, a.log)
	}
	return a.backend
}

// none is the backend of a system where DNS cannot be applied: it was
// logged once when picked.
type none struct{}

func (none) set(string, string, []netip.Addr) error { return nil }
func (none) revert(string) error                    { return nil }
func (none) close() error                           { return nil }
