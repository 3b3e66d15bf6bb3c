package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	ztcli "github.com/ztgo/ztgo/cli"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// runNetns is `ztgo-demo --netns`: the same network as separate `ztgo
// run` processes, each in a network namespace of its own with a real TAP
// device, joined by a core router. Everything it makes is removed at the
// end, and only the processes it started are stopped.
func (d *demo) runNetns(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("--netns needs root (it creates network namespaces and TAP devices)")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("--netns needs %s installed", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	exe, err := ztgoBinary(d.ztgo, self)
	if err != nil {
		return err
	}
	fmt.Fprintln(d.w, "ztgo-demo --netns — root, controller and two members as separate processes with TAP devices")
	if d.dir, err = os.MkdirTemp("", "ztgo-demo-"); err != nil {
		return err
	}
	prefix := fmt.Sprintf("ztd%d", os.Getpid()%100000)
	var nss []string
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				p.Process.Kill()
			}
		}
		for _, ns := range nss {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	}()
	sh := func(ns string, args ...string) (string, error) {
		if ns != "" {
			args = append([]string{"ip", "netns", "exec", ns}, args...)
		}
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		return string(out), err
	}
	must := func(ns string, args ...string) error {
		if out, err := sh(ns, args...); err != nil {
			return fmt.Errorf("%s: %v %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	core := prefix + "-core"
	nss = append(nss, core)
	if err := must("", "ip", "netns", "add", core); err != nil {
		return err
	}
	must(core, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	names := []string{"root", "controller", "alice", "bob"}
	home := map[string]string{}
	ns := map[string]string{}
	for i, n := range names {
		ns[n] = prefix + "-" + n
		home[n] = filepath.Join(d.dir, n)
		os.MkdirAll(home[n], 0o700)
		nss = append(nss, ns[n])
		for _, args := range [][]string{
			{"", "ip", "netns", "add", ns[n]},
			{ns[n], "ip", "link", "set", "lo", "up"},
			{core, "ip", "link", "add", "l" + n[:1] + fmt.Sprint(i), "type", "veth", "peer", "name", "eth0", "netns", ns[n]},
			{core, "ip", "addr", "add", fmt.Sprintf("198.18.%d.1/24", i+1), "dev", "l" + n[:1] + fmt.Sprint(i)},
			{core, "ip", "link", "set", "l" + n[:1] + fmt.Sprint(i), "up"},
			{ns[n], "ip", "addr", "add", fmt.Sprintf("198.18.%d.2/24", i+1), "dev", "eth0"},
			{ns[n], "ip", "link", "set", "eth0", "up"},
			{ns[n], "ip", "route", "add", "198.18.0.0/16", "via", fmt.Sprintf("198.18.%d.1", i+1)},
		} {
			if err := must(args[0], args[1:]...); err != nil {
				return err
			}
		}
	}
	d.step("made namespaces %s-{core,root,controller,alice,bob} on 198.18.0.0/16 (no default routes)", prefix)
	rootID, err := identity.Generate(rand.Reader)
	if err != nil {
		return err
	}
	os.WriteFile(filepath.Join(home["root"], "identity.secret"), []byte(rootID.SecretString()), 0o600)
	spec := fmt.Sprintf(`{"worldType":"planet","id":"5a7e57d","roots":[{"identity":%q,"stableEndpoints":["198.18.1.2/9993"]}]}`, rootID.String())
	os.WriteFile(filepath.Join(d.dir, "planet.json"), []byte(spec), 0o644)
	if err := must("", exe, "world", "create", filepath.Join(d.dir, "planet.json"), "--key", filepath.Join(d.dir, "planet.key"), "-o", filepath.Join(d.dir, "planet")); err != nil {
		return err
	}
	planet, _ := os.ReadFile(filepath.Join(d.dir, "planet"))
	for _, n := range names {
		os.WriteFile(filepath.Join(home[n], "planet"), planet, 0o644)
		cmd := exec.Command("ip", "netns", "exec", ns[n], exe, "run", home[n])
		if d.verbose {
			cmd.Stderr = d.errw
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
	}
	d.step("started four `ztgo run` processes with a private planet (root %v)", rootID.Address())
	ztgo := func(n string, args ...string) string {
		out, _ := sh(ns[n], append([]string{exe}, append(args, "-D", home[n])...)...)
		return out
	}
	for _, n := range names {
		if err := wait(ctx, n+" online", func() bool { return strings.Contains(ztgo(n, "info"), "ONLINE") }); err != nil {
			return err
		}
	}
	d.step("all four online")
	out := ztgo("controller", "controller", "network", "create", "--json",
		`{"name":"ztgo-demo","v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.17.10","ipRangeEnd":"10.147.17.250"}],"routes":[{"target":"10.147.17.0/24"}]}`)
	var netw map[string]any
	if err := json.Unmarshal([]byte(out), &netw); err != nil {
		return fmt.Errorf("network create: %q", out)
	}
	nwid, _ := netw["id"].(string)
	d.step("controller created network %s", nwid)
	for _, n := range []string{"alice", "bob"} {
		ztgo(n, "join", nwid)
	}
	addrOf := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(home[n], "identity.public"))
		return string(b[:10])
	}
	if err := wait(ctx, "pending members", func() bool {
		l := ztgo("controller", "controller", "member", "list", nwid)
		return strings.Contains(l, addrOf("alice")) && strings.Contains(l, addrOf("bob"))
	}); err != nil {
		return err
	}
	for _, n := range []string{"alice", "bob"} {
		ztgo("controller", "controller", "member", "authorize", nwid, addrOf(n))
	}
	d.step("alice and bob joined and were authorized")
	ip := map[string]string{}
	for _, n := range []string{"alice", "bob"} {
		if err := wait(ctx, n+"'s address", func() bool {
			f := strings.Fields(ztgo(n, "get", nwid, "ip4"))
			if len(f) > 0 {
				ip[n] = f[0]
			}
			return len(f) > 0 && strings.Contains(ztgo(n, "listnetworks"), " OK ")
		}); err != nil {
			return err
		}
	}
	dev := strings.Fields(ztgo("alice", "get", nwid, "portDeviceName"))
	d.step("alice has %s on %v, bob has %s", ip["alice"], dev, ip["bob"])
	if out, err := sh(ns["alice"], "ping", "-c", "3", "-W", "2", "-i", "0.2", ip["bob"]); err != nil {
		return fmt.Errorf("ping: %v\n%s", err, out)
	} else {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		d.step("kernel ping alice -> bob: %s", lines[len(lines)-1])
	}
	srv := exec.Command("ip", "netns", "exec", ns["bob"], self, "serve", ip["bob"]+":80")
	if err := srv.Start(); err != nil {
		return err
	}
	procs = append(procs, srv)
	var page string
	if err := wait(ctx, "HTTP", func() bool {
		out, err := sh(ns["alice"], self, "fetch", "http://"+ip["bob"]+"/")
		page = strings.TrimSpace(out)
		return err == nil
	}); err != nil {
		return err
	}
	d.step("HTTP GET http://%s/ from alice's namespace: %q", ip["bob"], page)
	return nil
}

// ztgoBinary finds the ztgo that --netns runs: the one named, else the one
// beside this program (make build puts both in bin/), else ztgo on PATH.
func ztgoBinary(named, self string) (string, error) {
	if named != "" {
		return filepath.Abs(named)
	}
	beside := filepath.Join(filepath.Dir(self), "ztgo")
	if st, err := os.Stat(beside); err == nil && st.Mode().IsRegular() {
		return beside, nil
	}
	p, err := exec.LookPath("ztgo")
	if err != nil {
		return "", fmt.Errorf("--netns runs ztgo, which is neither beside %s nor on PATH (name it with --ztgo)", self)
	}
	return filepath.Abs(p)
}

// demoHelpers are the HTTP ends of --netns: bob serves, alice fetches.
func demoHelpers() []*cli.Command {
	return []*cli.Command{
		{Name: "serve", Hidden: true, ArgsUsage: "ADDR", Action: func(ctx context.Context, cmd *cli.Command) error {
			host, _ := os.Hostname()
			return http.ListenAndServe(cmd.Args().First(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "Hello from bob (%s) over ztgo with TAP devices\n", host)
			}))
		}},
		{Name: "fetch", Hidden: true, ArgsUsage: "URL", Action: func(ctx context.Context, cmd *cli.Command) error {
			c := &http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get(cmd.Args().First())
			if err != nil {
				return ztcli.Fail(ztcli.ExitFailure, "%v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			fmt.Fprint(cmd.Root().Writer, string(b))
			return nil
		}},
	}
}
