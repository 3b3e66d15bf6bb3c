// Package portmap asks the local gateway to forward a UDP port to us, with
// NAT-PMP or UPnP IGD, as 1.14.1 does for the tertiary port when
// portMappingEnabled is on (osdep/PortMapper.cpp). It keeps the lease
// renewed, reports the gateway's external address:port through a callback
// (the node hands it to VL1, which advertises it in PUSH_DIRECT_PATHS), and
// deletes the mapping when its context ends.
//
// It imports no ztgo layer: the node wires it in.
package portmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/huin/goupnp"
	"github.com/huin/goupnp/dcps/internetgateway2"
	"github.com/jackpal/gateway"
	natpmp "github.com/jackpal/go-nat-pmp"
)

// RefreshPeriod is ZT_PORTMAPPER_REFRESH_DELAY: how often the mapping is
// renewed (and, when there is none, searched for again).
const RefreshPeriod = 300 * time.Second

// portTries is how many external ports are tried, from the internal port
// upwards, when the gateway refuses one (PortMapper.cpp tries 60).
const portTries = 60

// Config configures a Mapper.
type Config struct {
	// Port is the local UDP port to map.
	Port uint16
	// Description names the mapping on the gateway; 1.14.1 uses
	// "ZeroTier/<address>@<port>".
	Description string
	// OnChange is called with the mapped external address whenever it
	// changes, and with the zero AddrPort when the mapping is lost or
	// deleted. Called from the mapper's goroutine.
	OnChange func(netip.AddrPort)
	Logger   *slog.Logger
	// Refresh is the renewal period (default RefreshPeriod); leases are
	// asked for twice as long, so one missed renewal does not lose it.
	Refresh time.Duration
	// Gateway is where NAT-PMP requests go; zero means the default route's
	// gateway. Without either, only UPnP is tried.
	Gateway netip.Addr
}

// Mapper keeps one UDP port mapped on the gateway.
type Mapper struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	external netip.AddrPort
	// the current mapping, so it can be renewed and deleted
	proto  string // "natpmp" or "upnp"
	upnp   igd
	pmp    *natpmp.Client
	extPrt uint16
}

// New makes a mapper; Run starts it.
func New(cfg Config) *Mapper {
	if cfg.Refresh <= 0 {
		cfg.Refresh = RefreshPeriod
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Mapper{cfg: cfg, log: cfg.Logger.With("portmap", cfg.Port)}
}

// External is the mapped external address, or the zero AddrPort.
func (m *Mapper) External() netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.external
}

// Run maps the port and keeps it mapped until ctx ends, then deletes the
// mapping (within a few seconds) and returns.
func (m *Mapper) Run(ctx context.Context) {
	defer func() {
		del, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		m.remove(del)
	}()
	retry := 500 * time.Millisecond
	for {
		wait := m.cfg.Refresh
		if err := m.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Debug("no port mapping", "err", err)
			m.set(netip.AddrPort{})
			// Try again soon (the network may just be coming up), then
			// less and less often, down to once per refresh period as
			// PortMapper.cpp does once both protocols failed.
			wait = min(retry, m.cfg.Refresh)
			retry *= 2
		} else {
			retry = 500 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refresh renews the current mapping or makes a new one: NAT-PMP first,
// then UPnP, as PortMapper.cpp does.
func (m *Mapper) refresh(ctx context.Context) error {
	lease := 2 * m.cfg.Refresh
	m.mu.Lock()
	proto, ext := m.proto, m.extPrt
	m.mu.Unlock()
	// Renewal: the same external port on the same gateway.
	switch proto {
	case "natpmp":
		if ap, err := m.pmpMap(m.pmp, ext, lease); err == nil {
			m.set(ap)
			return nil
		}
	case "upnp":
		if ap, err := m.upnpMap(ctx, m.upnp, ext, lease); err == nil {
			m.set(ap)
			return nil
		}
	}
	m.forget()
	var errs []error
	if gw := m.gateway(); gw.IsValid() {
		c := natpmp.NewClientWithTimeout(gw.AsSlice(), 3*time.Second)
		ap, err := m.pmpMap(c, m.cfg.Port, lease)
		if err == nil {
			m.adopt("natpmp", c, nil, ap)
			return nil
		}
		errs = append(errs, fmt.Errorf("NAT-PMP via %s: %w", gw, err))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	clients, err := discover(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("UPnP: %w", err))...)
	}
	for _, c := range clients {
		for i := range portTries {
			port := int(m.cfg.Port) + i
			if port >= 65535 { // wrap as PortMapper.cpp does
				port = port - 65535 + 1025
			}
			ap, err := m.upnpMap(ctx, c, uint16(port), lease)
			if err == nil {
				m.adopt("upnp", nil, c, ap)
				return nil
			}
			errs = append(errs, fmt.Errorf("UPnP port %d: %w", port, err))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return errors.Join(append(errs, errors.New("no gateway mapped the port"))...)
}

func (m *Mapper) gateway() netip.Addr {
	if m.cfg.Gateway.IsValid() {
		return m.cfg.Gateway
	}
	ip, err := gateway.DiscoverGateway()
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func (m *Mapper) pmpMap(c *natpmp.Client, ext uint16, lease time.Duration) (netip.AddrPort, error) {
	addr, err := c.GetExternalAddress()
	if err != nil {
		return netip.AddrPort{}, err
	}
	r, err := c.AddPortMapping("udp", int(m.cfg.Port), int(ext), int(lease/time.Second))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom4(addr.ExternalIPAddress), r.MappedExternalPort), nil
}

func (m *Mapper) upnpMap(ctx context.Context, c igd, ext uint16, lease time.Duration) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ipStr, err := c.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, err := netip.ParseAddr(ipStr)
	if err != nil || !ip.IsValid() || ip.IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("gateway has no external address (%q)", ipStr)
	}
	local := c.LocalAddr()
	if local == nil {
		return netip.AddrPort{}, errors.New("no local address toward the gateway")
	}
	secs := uint32(lease / time.Second)
	err = c.AddPortMappingCtx(ctx, "", ext, "UDP", m.cfg.Port, local.String(), true, m.cfg.Description, secs)
	if err != nil && secs != 0 {
		// Some gateways only take permanent leases (error 725); 1.14.1
		// always asks for one and renews it all the same.
		err = c.AddPortMappingCtx(ctx, "", ext, "UDP", m.cfg.Port, local.String(), true, m.cfg.Description, 0)
	}
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ip.Unmap(), ext), nil
}

func (m *Mapper) adopt(proto string, p *natpmp.Client, u igd, ap netip.AddrPort) {
	m.mu.Lock()
	m.proto, m.pmp, m.upnp, m.extPrt = proto, p, u, ap.Port()
	m.mu.Unlock()
	m.log.Info("port mapped on the gateway", "via", proto, "external", ap)
	m.set(ap)
}

func (m *Mapper) forget() {
	m.mu.Lock()
	m.proto, m.pmp, m.upnp, m.extPrt = "", nil, nil, 0
	m.mu.Unlock()
}

func (m *Mapper) set(ap netip.AddrPort) {
	m.mu.Lock()
	changed := m.external != ap
	m.external = ap
	m.mu.Unlock()
	if changed && m.cfg.OnChange != nil {
		m.cfg.OnChange(ap)
	}
}

// remove deletes the mapping from the gateway.
func (m *Mapper) remove(ctx context.Context) {
	m.mu.Lock()
	proto, p, u, ext := m.proto, m.pmp, m.upnp, m.extPrt
	m.mu.Unlock()
	var err error
	switch proto {
	case "natpmp":
		// A lifetime of 0 deletes (RFC 6886 §3.4).
		_, err = p.AddPortMapping("udp", int(m.cfg.Port), 0, 0)
	case "upnp":
		err = u.DeletePortMappingCtx(ctx, "", ext, "UDP")
	default:
		return
	}
	if err != nil {
		m.log.Debug("cannot delete port mapping", "via", proto, "err", err)
	} else {
		m.log.Info("port mapping deleted", "via", proto, "external port", ext)
	}
	m.forget()
	m.set(netip.AddrPort{})
}

var noKeepAlive = &http.Transport{DisableKeepAlives: true}

// igd is what the mapper needs of a WANIPConnection or WANPPPConnection
// service; the goupnp clients of all three have these methods.
type igd interface {
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
	AddPortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string, internalPort uint16, internalClient string, enabled bool, description string, leaseDuration uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string) error
	LocalAddr() net.IP
	GetServiceClient() *goupnp.ServiceClient
}

// discover finds the gateway's IGD services by SSDP: IGDv2's
// WANIPConnection:2 first, then v1's WANIPConnection:1 and
// WANPPPConnection:1.
func discover(ctx context.Context) ([]igd, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []igd
	var errs []error
	add := func(cs []igd, err error) {
		out = append(out, cs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(clients(internetgateway2.NewWANIPConnection2ClientsCtx(ctx)))
	if len(out) == 0 {
		add(clients(internetgateway2.NewWANIPConnection1ClientsCtx(ctx)))
	}
	if len(out) == 0 {
		add(clients(internetgateway2.NewWANPPPConnection1ClientsCtx(ctx)))
	}
	if len(out) == 0 {
		return nil, errors.Join(append(errs, errors.New("no Internet Gateway Device found"))...)
	}
	return out, nil
}

func clients[C igd](cs []C, _ []error, err error) ([]igd, error) {
	out := make([]igd, len(cs))
	for i, c := range cs {
		// One SOAP call every few minutes: no idle connection (and its
		// goroutines) left behind in a shared transport.
		c.GetServiceClient().SOAPClient.HTTPClient.Transport = noKeepAlive
		out[i] = c
	}
	return out, err
}
