// Package node composes the layers into a running ZeroTier node: home
// directory state, the UDP transport, the VL1 engine and the local JSON
// API. It holds no protocol logic of its own.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/world"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/controller"
	"github.com/ztgo/ztgo/node/portmap"
)

// The engine is VL2's link and the switch is VL1's upper layer.
var (
	_ vl2.Link  = (*vl1.Node)(nil)
	_ vl1.Upper = (*vl2.Switch)(nil)
)

// Options configure a node.
type Options struct {
	Home   string
	Port   int // primary port; -1 means "not given" (local.conf or 9993)
	Logger *slog.Logger
	// AllowLoopback lets paths over 127.0.0.1 carry traffic (demos on one
	// machine); 1.14.1 never allows it.
	AllowLoopback bool
	// Devices makes each joined network's OS device; nil = none.
	Devices DeviceFactory
	// DNS applies pushed DNS settings to devices (allowDNS); nil = never.
	DNS DNSConfigurer
	// ListenAddr restricts the UDP sockets to one local IPv4 address.
	ListenAddr netip.Addr
}

// Node is a running ztgo node.
type Node struct {
	Home       Home
	VL1        *vl1.Node
	VL2        *vl2.Switch
	Controller *controller.Controller
	Conf       *LocalConf
	Token      string

	log          *slog.Logger
	udp          *transport.UDP
	bind         *transport.Fallback
	fns          []transport.ReceiveFunc
	port         uint16
	api          *http.Server
	apiLns       []net.Listener
	devices      DeviceFactory
	metricsToken string
	latency      *peerLatency         // zt_peer_latency, made with the API handler
	cached       []*identity.Identity // from peers.d, checked by Run
	confMu       sync.Mutex           // Conf.Raw, which POST /config/settings replaces
	mapper       *portmap.Mapper      // nil unless portMappingEnabled
	devMu        sync.Mutex
	devs         map[uint64]Device
	dns          DNSConfigurer
	dnsMu        sync.Mutex
	dnsSet       map[uint64]string // what syncDNS set per network
	wg           sync.WaitGroup
	// onlineEvery and rootNagEvery pace watchOnline (tests shorten them
	// before Run).
	onlineEvery, rootNagEvery time.Duration
}

// Open prepares a node: state files, sockets and the API listener. Run
// starts it.
func Open(opts Options) (*Node, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	home := Home(opts.Home)
	if err := os.MkdirAll(opts.Home, 0o755); err != nil {
		return nil, fmt.Errorf("home directory: %w", err)
	}
	conf, err := home.LoadLocalConf(log)
	if err != nil {
		return nil, err
	}
	id, created, err := home.Identity()
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("generated a new identity", "address", id.Address())
	}
	token, err := home.Token("authtoken.secret")
	if err != nil {
		return nil, fmt.Errorf("auth token: %w", err)
	}
	metricsToken, err := home.Token("metricstoken.secret")
	if err != nil {
		return nil, fmt.Errorf("metrics token: %w", err)
	}
	planet, err := home.Planet()
	if err != nil {
		return nil, err
	}
	if planet == nil {
		planet = world.Default()
	}
	moons, err := home.Moons()
	if err != nil {
		return nil, err
	}
	s := conf.Settings
	port := 9993
	if opts.Port >= 0 {
		port = opts.Port
	}
	if s.PrimaryPort != nil {
		port = *s.PrimaryPort
	}
	uopts := transport.UDPOptions{
		ListenAddr4:   opts.ListenAddr,
		IPv4Only:      opts.ListenAddr.IsValid(),
		SecondaryPort: boolOr(s.AllowSecondaryPort, true),
		TertiaryPort:  boolOr(s.PortMappingEnabled, true),
	}
	if opts.ListenAddr.IsValid() {
		if links := conf.linkOptions(); links.Interfaces || len(links.Addrs) > 0 {
			log.Warn("a listen address was given; local.conf's bind and interface settings are not used")
		}
	} else {
		uopts.Links = conf.linkOptions()
		uopts.Log = log
	}
	if s.SecondaryPort != nil {
		uopts.SecondaryPortNumber = uint16(*s.SecondaryPort)
	}
	if s.TertiaryPort != nil {
		uopts.TertiaryPortNumber = uint16(*s.TertiaryPort)
	}
	udp := transport.NewUDP(uopts)
	bonding := conf.Bonding.InUse()
	if bonding && boolOr(s.ForceTcpRelay, false) {
		log.Warn("local.conf: forceTcpRelay cannot be used with multipath bonding; disabled (as zerotier-one does)")
	}
	bind, err := transport.NewFallback(udp, fallbackOptions(s, planet, bonding))
	if err != nil {
		log.Warn("tcpFallbackRelay unusable; no TCP fallback", "err", err)
		bind, _ = transport.NewFallback(udp, transport.FallbackOptions{})
	}
	fns, bound, lns, err := openPorts(bind, uint16(port), conf.AllowManagementFrom)
	if err != nil {
		return nil, err
	}
	closeAPI := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	n := &Node{bind: bind, Home: home, Conf: conf, Token: token, log: log, udp: udp, fns: fns, port: bound, apiLns: lns, metricsToken: metricsToken, devices: opts.Devices, devs: map[uint64]Device{}, dns: opts.DNS, dnsSet: map[uint64]string{},
		onlineEvery: time.Second, rootNagEvery: 10 * time.Second}
	if uopts.TertiaryPort {
		// The tertiary port is mapped on the gateway (UPnP/NAT-PMP), and
		// the mapped address joins the candidates VL1 pushes to peers as
		// 1.14.1 adds it to its local interface addresses.
		ports := udp.Ports()
		tertiary := ports[len(ports)-1]
		n.mapper = portmap.New(portmap.Config{
			Port:        tertiary,
			Description: fmt.Sprintf("ZeroTier/%s@%d", id.Address(), tertiary),
			Logger:      log,
		})
	}
	n.VL1, err = vl1.New(vl1.Config{
		Identity:      id,
		Bind:          bind,
		LocalAddrs:    n.localAddrs,
		Planet:        planet,
		Moons:         moons,
		Logger:        log,
		AllowLoopback: opts.AllowLoopback,
		Bonding:       conf.Bonding,
		PhysicalMTU:   conf.PhysicalMTU,
		OnWorld: func(w *world.World) {
			if err := home.SaveWorld(w); err != nil {
				log.Warn("cannot save world update", "err", err)
			}
		},
	})
	if err != nil {
		closeAPI()
		bind.Close()
		return nil, err
	}
	// The layers are wired here, both ways: VL2 sends through VL1 (its
	// Link), VL1 hands VL2 its verbs, timers and batch flushes (its Upper).
	n.VL2 = vl2.New(vl2.Config{Link: n.VL1, Logger: log, Store: networkStore{home}, OnChange: n.onNetworkChange})
	n.VL1.SetUpper(n.VL2)
	store, err := controller.OpenStore(context.Background(), home.ControllerDbPath(conf), log)
	if err == nil {
		n.Controller, err = controller.New(controller.Config{Identity: id, Store: store, Sender: n.VL2, Logger: log})
	}
	if err != nil {
		closeAPI()
		bind.Close()
		return nil, err
	}
	n.VL2.SetController(n.Controller)
	for _, nwid := range (networkStore{home}).joined() {
		if _, err := n.Join(nwid); err != nil {
			log.Warn("cannot rejoin network", "network", nwid, "err", err)
		}
	}
	for _, p := range home.PeerCache() {
		switch err := n.VL1.AddPeer(p.Identity, p.Addrs); {
		case err == nil:
			n.cached = append(n.cached, p.Identity)
		case !errors.Is(err, vl1.ErrReserved):
			log.Warn("cached peer unusable; forgotten", "peer", p.Identity.Address(), "err", err)
			_ = os.Remove(home.path("peers.d", p.Identity.Address().String()+".peer"))
		}
	}
	if err := home.WriteText("zerotier-one.port", strconv.Itoa(int(bound)), 0o644); err != nil {
		log.Warn("cannot write zerotier-one.port", "err", err)
	}
	n.api = &http.Server{Handler: n.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	return n, nil
}

// Port is the primary port (UDP and the local API).
func (n *Node) Port() uint16 { return n.port }

// Ports are every bound UDP port, primary first.
func (n *Node) Ports() []uint16 { return n.udp.Ports() }

// Run serves until ctx ends, then saves the peer cache and shuts down.
func (n *Node) Run(ctx context.Context) error {
	n.log.Info("node running", "address", n.VL1.Address(), "ports", n.udp.Ports(), "home", string(n.Home))
	var wg sync.WaitGroup
	for _, ln := range n.apiLns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("local API stopped", "err", err, "addr", ln.Addr())
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.checkCachedPeers(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.returnMemory(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.watchOnline(ctx)
	}()
	if n.mapper != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.mapper.Run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.sampleLatency(ctx)
	}()
	err := n.VL1.Run(ctx, n.fns)
	n.closeDevices()
	n.wg.Wait()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = n.api.Shutdown(shutdown)
	wg.Wait()
	n.savePeers()
	if err := n.Controller.Close(); err != nil {
		n.log.Warn("cannot close the controller database", "err", err)
	}
	n.log.Info("node stopped")
	return err
}

// localAddrs are the candidate addresses VL1 pushes to peers: each bound
// interface address with each port, then the gateway's mapped address.
func (n *Node) localAddrs() []netip.AddrPort {
	addrs := n.bind.LocalAddrs()
	if n.mapper != nil {
		if ext := n.mapper.External(); ext.IsValid() {
			addrs = append(addrs, ext)
		}
	}
	return addrs
}

// checkCachedPeers checks the proof of work of the identities peers.d gave
// us, in the background (12 ms each: a root may cache thousands), and
// forgets the ones that fail, with their files: peers.d is not trusted
// more than the network.
func (n *Node) checkCachedPeers(ctx context.Context) {
	for _, id := range n.cached {
		if ctx.Err() != nil {
			return
		}
		if err := vl1.ValidateIdentity(id); err != nil {
			n.log.Warn("cached peer identity fails validation; forgotten", "peer", id.Address(), "err", err)
			n.VL1.ForgetPeer(id.Address())
			_ = os.Remove(n.Home.path("peers.d", id.Address().String()+".peer"))
		}
	}
	n.cached = nil
}

// savePeers writes peers.d so a restart can say HELLO to known peers.
func (n *Node) savePeers() {
	for _, p := range n.VL1.Peers() {
		if p.Role != vl1.RoleLeaf || len(p.Paths) == 0 {
			continue
		}
		cp := CachedPeer{Identity: p.Identity, Version: [3]uint16{uint16(p.Version.Major), uint16(p.Version.Minor), p.Version.Revision}}
		if p.Proto > 0 {
			cp.Proto = uint16(p.Proto)
		}
		for _, pa := range p.Paths {
			cp.Addrs = append(cp.Addrs, pa.Endpoint.Addr)
		}
		if err := n.Home.SavePeer(cp); err != nil {
			n.log.Warn("cannot save peer cache", "peer", p.Address, "err", err)
		}
	}
}

// openPorts binds the UDP ports and the local API on the primary port's
// number. A port picked at random (0) is picked again when its TCP twin is
// taken: a random UDP port can collide with another program's TCP port,
// often an outgoing connection's.
func openPorts(bind *transport.Fallback, port uint16, allow []netip.Prefix) ([]transport.ReceiveFunc, uint16, []net.Listener, error) {
	for tries := 1; ; tries++ {
		fns, bound, err := bind.Open(port)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%w (is another node using port %d? set another with -p)", err, port)
		}
		lns, err := listenAPI(bound, allow)
		if err == nil {
			return fns, bound, lns, nil
		}
		bind.Close()
		if port != 0 || tries == 16 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, 0, nil, err
		}
	}
}
