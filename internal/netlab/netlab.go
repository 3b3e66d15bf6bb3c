// Package netlab builds throwaway networks of Linux network namespaces for
// end-to-end tests: namespaces, veth pairs, a bridge as "the internet",
// masquerading routers, and processes started inside them. Everything it
// makes is removed when the test ends, even on failure; it ends only the
// processes it started, by PID. Addresses come from 198.18.0.0/15 and no
// namespace gets a default route, so no packet can leave the machine.
//
// Tests need root. Without it they skip, unless ZTGO_E2E=1 (CI), which
// turns the skip into a failure.
package netlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"
)

// Lab is one test's set of namespaces and processes.
type Lab struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	nss    []string
	procs  []*Proc
}

// labs counts the labs New made.
var labs atomic.Int64

var sweepOnce sync.Once

// labNS is a lab's namespace name: zte, the PID of the process that made
// it, the lab's number in that process, a dash and the name.
var labNS = regexp.MustCompile(`^zte([0-9]+)(n[0-9]+)?-`)

// sweep deletes the namespaces of labs whose process is gone: go test's
// -timeout ends a test binary with a panic that runs no cleanup, and
// SIGKILL runs none either. A namespace is left alone while the process
// named in it lives, or while any process is inside it.
func sweep(t testing.TB) {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		m := labNS.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue // its process lives (or the PID is someone's again)
		}
		if out, err := exec.Command("ip", "netns", "pids", e.Name()).Output(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			continue
		}
		if out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("sweep: ip netns del %s: %v %s", e.Name(), err, out)
			continue
		}
		t.Logf("sweep: deleted %s, left by process %s", e.Name(), m[1])
	}
}

// Required reports whether CI demands the end-to-end tests.
func Required() bool { return os.Getenv("ZTGO_E2E") == "1" }

// New checks the prerequisites (root, ip, and the extra tools named) and
// returns an empty lab.
func New(t testing.TB, tools ...string) *Lab {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if Required() {
			t.Fatalf("ZTGO_E2E=1 but %s", msg)
		}
		t.Skipf("skipping end-to-end test: %s (run as root; CI sets ZTGO_E2E=1)", msg)
	}
	if os.Geteuid() != 0 {
		skip("not root")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			skip("%s not installed", tool)
		}
	}
	// Labs of one process are numbered after the first, so that tests
	// running in parallel get namespaces of their own.
	n := labs.Add(1) - 1
	if n == 0 {
		sweepOnce.Do(func() { sweep(t) })
	}
	l := &Lab{t: t, prefix: fmt.Sprintf("zte%d", os.Getpid())}
	if n > 0 {
		l.prefix += fmt.Sprintf("n%d", n)
	}
	t.Cleanup(l.cleanup)
	return l
}

// NS creates a namespace with its loopback up and returns its full name.
func (l *Lab) NS(name string) string {
	l.t.Helper()
	full := l.prefix + "-" + name
	l.mu.Lock()
	l.nss = append(l.nss, full)
	l.mu.Unlock()
	l.Must("", "ip", "netns", "add", full)
	l.Must(full, "ip", "link", "set", "lo", "up")
	return full
}

// Run runs a command inside ns ("" = the test's own namespace) and returns
// its combined output.
func (l *Lab) Run(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if ns != "" {
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	}
	// On timeout ask politely first, so the command can clean up.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Must is Run that fails the test on error.
func (l *Lab) Must(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.Run(ns, args...)
	if err != nil {
		l.t.Fatalf("%s in %q: %v\n%s", strings.Join(args, " "), ns, err, out)
	}
	return out
}

// Bridge makes a bridge named br0 in ns, up.
func (l *Lab) Bridge(ns string) {
	l.t.Helper()
	l.Must(ns, "ip", "link", "add", "br0", "type", "bridge")
	l.Must(ns, "ip", "link", "set", "br0", "up")
}

// Link connects ns (interface ifname, address cidr) to the bridge in
// bridgeNS through a veth pair.
func (l *Lab) Link(bridgeNS, ns, ifname, cidr string) {
	l.t.Helper()
	peer := "v" + ns[len(ns)-min(len(ns), 10):]
	l.Must(bridgeNS, "ip", "link", "add", peer, "type", "veth", "peer", "name", ifname, "netns", ns)
	l.Must(bridgeNS, "ip", "link", "set", peer, "master", "br0", "up")
	l.Must(ns, "ip", "addr", "add", cidr, "dev", ifname)
	l.Must(ns, "ip", "link", "set", ifname, "up")
}

// Pair connects two namespaces directly with a veth pair.
func (l *Lab) Pair(ns1, if1, cidr1, ns2, if2, cidr2 string) {
	l.t.Helper()
	l.Must(ns1, "ip", "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", ns2)
	l.Must(ns1, "ip", "addr", "add", cidr1, "dev", if1)
	l.Must(ns1, "ip", "link", "set", if1, "up")
	l.Must(ns2, "ip", "addr", "add", cidr2, "dev", if2)
	l.Must(ns2, "ip", "link", "set", if2, "up")
}

// Masquerade makes ns a NAT router: forwarding on, and source NAT for
// everything leaving through wanIf (nftables, inside ns only).
func (l *Lab) Masquerade(ns, wanIf string) {
	l.t.Helper()
	l.Must(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	rules := fmt.Sprintf("table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname %q masquerade\n }\n}\n", wanIf)
	f := filepath.Join(l.t.TempDir(), "nat.nft")
	if err := os.WriteFile(f, []byte(rules), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.Must(ns, "nft", "-f", f)
}

// Proc is a process started in a namespace.
type Proc struct {
	Cmd  *exec.Cmd
	Name string
	out  *testutil.SyncBuffer
	done chan struct{}
	err  error
}

// Output is what the process has printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Start runs a long-lived command inside ns.
func (l *Lab) Start(ns, name string, args ...string) *Proc {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	p := &Proc{Cmd: cmd, Name: name, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p
}

// Stop ends a process with SIGTERM (SIGKILL after 5 s) and reports how it
// exited.
func (p *Proc) Stop() error {
	if p.Cmd.Process == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

func (l *Lab) cleanup() {
	l.mu.Lock()
	procs, nss := l.procs, l.nss
	l.mu.Unlock()
	for _, p := range procs {
		_ = p.Stop()
		if l.t.Failed() {
			l.t.Logf("--- output of %s:\n%s", p.Name, p.Output())
		}
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if out, err := l.Run("", "ip", "netns", "del", nss[i]); err != nil {
			l.t.Logf("cleanup: ip netns del %s: %v %s", nss[i], err, out)
		}
	}
}

// Eventually polls cond every interval until it holds or timeout passes.
func Eventually(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
