// Command ztgo-demo runs a whole ZeroTier network of ztgo nodes: a private
// root, a controller and two members, in one process with userspace TCP/IP
// stacks or (with --netns, as root) as separate `ztgo run` processes with
// TAP devices in network namespaces. It is a binary of its own so that the
// node does not carry a userspace network stack it never uses.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	ztcli "github.com/ztgo/ztgo/cli"
	"github.com/ztgo/ztgo/drivers/netstack"
	"github.com/ztgo/ztgo/internal/loopback"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/world"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
	"github.com/ztgo/ztgo/node"
)

func main() {
	os.Exit(ztcli.Tool(command(), os.Args, os.Stdout, os.Stderr))
}

func command() *cli.Command {
	return &cli.Command{
		Name:  "ztgo-demo",
		Usage: "run a whole virtual network in this process: root, controller, two members; ping and HTTP across it",
		Description: "Needs no root and no internet: the nodes talk over loopback UDP with a private planet,\n" +
			"and the members use userspace TCP/IP stacks as their network devices.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Usage: "show the nodes' logs"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up after this long", Value: 90 * time.Second},
			&cli.BoolFlag{Name: "netns", Usage: "separate processes with TAP devices in network namespaces (needs root)"},
			&cli.StringFlag{Name: "ztgo", Usage: "the ztgo binary --netns runs (default: the one beside this program, else on PATH)", TakesFile: true},
		},
		Commands: demoHelpers(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			ctx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
			defer cancel()
			// Interrupted, it still removes what it made.
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			d := &demo{w: cmd.Root().Writer, start: time.Now(), verbose: cmd.Bool("verbose"), errw: cmd.Root().ErrWriter, ztgo: cmd.String("ztgo")}
			run := d.run
			if cmd.Bool("netns") {
				run = d.runNetns
			}
			err := run(ctx)
			d.stop()
			if err != nil {
				fmt.Fprintf(d.w, "FAILED after %.2fs: %v\n", time.Since(d.start).Seconds(), err)
				return ztcli.Exit(ztcli.ExitFailure)
			}
			fmt.Fprintf(d.w, "summary: %d steps OK in %.2fs — a ZeroTier network with a private root, a controller and two members, all ztgo\n", d.steps, time.Since(d.start).Seconds())
			return nil
		},
	}
}

type demoNode struct {
	name  string
	node  *node.Node
	stop  context.CancelFunc
	done  chan struct{}
	token string
}

type demo struct {
	w, errw io.Writer
	start   time.Time
	verbose bool
	ztgo    string // --ztgo
	steps   int
	dir     string
	nodes   map[string]*demoNode
}

func (d *demo) step(format string, args ...any) {
	d.steps++
	fmt.Fprintf(d.w, "[%6.2fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) stop() {
	for _, n := range d.nodes {
		n.stop()
		<-n.done
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

func (d *demo) run(ctx context.Context) error {
	fmt.Fprintln(d.w, "ztgo-demo — a whole ZeroTier network in one process, over loopback UDP")
	var err error
	if d.dir, err = os.MkdirTemp("", "ztgo-demo-"); err != nil {
		return err
	}
	names := []string{"root", "controller", "alice", "bob"}
	// Each node has a loopback /24 of its own (127.0.1.1, 127.0.2.1, ...;
	// Linux routes all of 127/8 to lo): the root admits one new identity
	// per /24 every 2 s, as ZeroTier's does, and four nodes sharing
	// 127.0.0.1 would wait ~6 s for it.
	ports := map[string]uint16{}
	addrs := map[string]netip.Addr{}
	for i, n := range names {
		addrs[n] = netip.AddrFrom4([4]byte{127, 0, byte(i + 1), 1})
		if ports[n], err = freePort(addrs[n]); err != nil {
			return err
		}
		os.MkdirAll(filepath.Join(d.dir, n), 0o700)
		os.WriteFile(filepath.Join(d.dir, n, "local.conf"), []byte(`{"settings":{"allowSecondaryPort":false,"portMappingEnabled":false}}`), 0o600)
	}
	rootID, err := identity.Generate(rand.Reader)
	if err != nil {
		return err
	}
	os.WriteFile(filepath.Join(d.dir, "root", "identity.secret"), []byte(rootID.SecretString()), 0o600)
	key, err := world.GenerateKeyPair(rand.Reader)
	if err != nil {
		return err
	}
	rootAt := netip.AddrPortFrom(addrs["root"], ports["root"])
	planet := world.Make(world.Planet, 0x5a7e5700+uint64(time.Now().Unix()%1000), uint64(time.Now().UnixMilli()), key.Public,
		[]world.Root{{Identity: rootID.Public(), StableEndpoints: []netip.AddrPort{rootAt}}}, &key.Secret)
	for _, n := range names {
		os.WriteFile(filepath.Join(d.dir, n, "planet"), planet.Append(nil), 0o644)
	}
	d.step("made a private planet: root %v at %v (the public planet is never used)", rootID.Address(), rootAt)

	logger := slog.New(slog.DiscardHandler)
	if d.verbose {
		logger = slog.New(slog.NewTextHandler(d.errw, nil))
	}
	d.nodes = map[string]*demoNode{}
	for _, name := range names {
		n, err := node.Open(node.Options{
			Home: filepath.Join(d.dir, name), Port: int(ports[name]), Logger: logger.With("who", name),
			AllowLoopback: true, ListenAddr: addrs[name],
			Devices: func(nwid uint64, mac vl2wire.MAC, mtu int) (node.Device, error) {
				var m [6]byte
				copy(m[:], mac.Append(nil))
				return netstack.New(fmt.Sprintf("%s-%016x", name, nwid), m, mtu)
			},
		})
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		nctx, stop := context.WithCancel(context.Background())
		dn := &demoNode{name: name, node: n, stop: stop, done: make(chan struct{}), token: n.Token}
		go func() { n.Run(nctx); close(dn.done) }()
		d.nodes[name] = dn
	}
	d.step("started root, controller, alice and bob (%v, %v, %v)", d.nodes["controller"].node.VL1.Address(), d.nodes["alice"].node.VL1.Address(), d.nodes["bob"].node.VL1.Address())

	if err := wait(ctx, "every node online", func() bool {
		for _, n := range d.nodes {
			if !n.node.VL1.Status().Online {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	d.step("all nodes online (each said HELLO to the root from a loopback /24 of its own: new identities are rate-limited per /24, as in ZeroTier)")

	ctl := d.nodes["controller"]
	var netw map[string]any
	body := `{"name":"ztgo-demo","private":true,"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.17.10","ipRangeEnd":"10.147.17.250"}],"routes":[{"target":"10.147.17.0/24"}]}`
	if err := d.api(ctx, ctl, "POST", "/controller/network/"+ctl.node.VL1.Address().String()+"______", body, &netw); err != nil {
		return err
	}
	nwidText, _ := netw["id"].(string)
	nwid, err := vl2wire.ParseNetworkID(nwidText)
	if err != nil {
		return fmt.Errorf("controller returned %v", netw)
	}
	d.step("controller created private network %s \"ztgo-demo\" through its REST API", nwidText)

	for _, m := range []string{"alice", "bob"} {
		if err := d.api(ctx, d.nodes[m], "POST", "/network/"+nwidText, "{}", nil); err != nil {
			return err
		}
	}
	if err := wait(ctx, "members to ask the controller", func() bool {
		var members map[string]any
		d.api(ctx, ctl, "GET", "/controller/network/"+nwidText+"/member", "", &members)
		return len(members) == 2
	}); err != nil {
		return err
	}
	d.step("alice and bob joined; the controller lists them as pending members")
	for _, m := range []string{"alice", "bob"} {
		if err := d.api(ctx, ctl, "POST", "/controller/network/"+nwidText+"/member/"+d.nodes[m].node.VL1.Address().String(), `{"authorized":true}`, nil); err != nil {
			return err
		}
	}
	d.step("authorized both through the controller API")

	alice, bob := d.nodes["alice"].node.Device(nwid).(*netstack.Device), d.nodes["bob"].node.Device(nwid).(*netstack.Device)
	if err := wait(ctx, "addresses", func() bool { return len(alice.Addresses()) > 0 && len(bob.Addresses()) > 0 }); err != nil {
		return err
	}
	bobIP := bob.Addresses()[0].Addr()
	d.step("alice got %v, bob got %v (from the controller's pool)", alice.Addresses()[0], bob.Addresses()[0])

	var total time.Duration
	for seq := range uint16(3) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rtt, err := alice.Ping(pctx, bobIP, seq+1)
		cancel()
		if err != nil {
			return err
		}
		total += rtt
	}
	d.step("ping %v from alice: 3/3 replies, average %.2f ms (ARP, then ICMP, over ZeroTier)", bobIP, float64(total.Microseconds())/3000)

	ln, err := bob.ListenTCP(80)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from bob (%v) over ztgo\n", d.nodes["bob"].node.VL1.Address())
	})}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		return alice.DialTCP(ctx, ap)
	}}}
	resp, err := client.Get("http://" + bobIP.String() + "/")
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Hello from bob") {
		return fmt.Errorf("HTTP: %d %q", resp.StatusCode, page)
	}
	d.step("HTTP GET http://%v/ from alice: %d %q", bobIP, resp.StatusCode, strings.TrimSpace(string(page)))
	aliceVL1, bobAddr := d.nodes["alice"].node.VL1, d.nodes["bob"].node.VL1.Address()
	if err := wait(ctx, "a direct path", func() bool { return aliceVL1.DirectPath(bobAddr) }); err != nil {
		return err
	}
	d.step("first packets went through the root; now alice and bob talk directly (root introduced them)")
	return nil
}

// freePort finds a port free for UDP on addr (the node) and for TCP on
// 127.0.0.1 (its local API, which takes the same number and always listens
// there).
func freePort(addr netip.Addr) (uint16, error) {
	var last error
	for range 20 {
		port, err := loopback.FreePort()
		if err != nil {
			return 0, err
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
		if err == nil {
			c.Close()
			return port, nil
		}
		last = err
	}
	return 0, last
}

// api calls a node's local API with its token.
func (d *demo) api(ctx context.Context, n *demoNode, method, path, body string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", n.node.Port(), path), strings.NewReader(body))
	req.Header.Set("X-ZT1-Auth", n.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s on %s: %d %s", method, path, n.name, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func wait(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-t.C:
		}
	}
	return nil
}
