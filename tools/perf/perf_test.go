package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// Knobs, all from the environment (the Makefile passes DURATION and RUNS).
type settings struct {
	duration    int      // seconds per iperf3 TCP run (ZTGO_PERF_DURATION, 5)
	runs        int      // runs per measurement, the median is reported (ZTGO_PERF_RUNS, 3)
	udpDuration int      // seconds per UDP probe (ZTGO_PERF_UDP_DURATION, 2)
	udpProbes   int      // UDP rate probes at most (ZTGO_PERF_UDP_PROBES, 6)
	bin         string   // ztgo binary (ZTGO_BIN; built if unset)
	refBin      string   // zerotier-one binary for the reference row (ZTGO_REFERENCE_BIN)
	memberEnv   []string // VAR=VALUE pairs for the ztgo members (ZTGO_PERF_MEMBER_ENV)
	hold        int      // seconds to keep the lab up at the end, to inspect it (ZTGO_PERF_HOLD)
	quiet       int      // seconds of quiet after the runs before RSS is read again (ZTGO_PERF_QUIET)
	pairs       string   // rows to measure: ztgo, ref, bare (ZTGO_PERF_PAIRS, all of them)
}

func (s settings) want(pair string) bool {
	return s.pairs == "" || strings.Contains(","+s.pairs+",", ","+pair+",")
}

// lossLimit is the UDP loss, in percent, that still counts as loss-free.
const lossLimit = 0.1

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// daemon is one ZeroTier node of the lab: ztgo or zerotier-one.
type daemon struct {
	name, ns, home string
	underlay       string // its veth address on the bridge
	proc           *netlab.Proc
	pid            int
	exe            string
	cli            []string // the CLI command; "-D HOME" is added
	addr           string   // ZeroTier address
	ip             string   // managed IPv4 address on the network
}

func (d *daemon) run(lab *netlab.Lab, args ...string) string {
	var cmd []string
	if filepath.Base(d.cli[0]) == "zerotier-cli" {
		// zerotier-cli takes its switches glued: -DHOME.
		cmd = append([]string{d.cli[0], "-D" + d.home}, args...)
	} else {
		cmd = append(append([]string{d.cli[0]}, args...), "-D", d.home)
	}
	out, _ := lab.Run(d.ns, cmd...)
	return out
}

// endpoint is one end of a measured pair.
type endpoint struct {
	ns, ip string
	pid    int // the daemon whose CPU and memory are measured; 0 = none
}

func TestPerf(t *testing.T) {
	if os.Getenv("ZTGO_PERF") != "1" {
		t.Skip("a benchmark, not a test: run `make perf` as root (it sets ZTGO_PERF=1)")
	}
	if os.Geteuid() != 0 {
		t.Skip("make perf needs root (network namespaces and TAP devices): skipped")
	}
	s := settings{
		duration:    envInt("ZTGO_PERF_DURATION", 5),
		runs:        envInt("ZTGO_PERF_RUNS", 3),
		udpDuration: envInt("ZTGO_PERF_UDP_DURATION", 2),
		udpProbes:   envInt("ZTGO_PERF_UDP_PROBES", 6),
		bin:         os.Getenv("ZTGO_BIN"),
		refBin:      os.Getenv("ZTGO_REFERENCE_BIN"),
		memberEnv:   strings.Fields(os.Getenv("ZTGO_PERF_MEMBER_ENV")),
		hold:        envInt("ZTGO_PERF_HOLD", 0),
		quiet:       envInt("ZTGO_PERF_QUIET", 5),
		pairs:       os.Getenv("ZTGO_PERF_PAIRS"),
	}
	if !s.want("ref") {
		s.refBin = ""
	}
	lab := netlab.New(t, "ping", "iperf3")
	dir := t.TempDir()
	if s.bin == "" {
		s.bin = filepath.Join(dir, "ztgo")
		build := exec.Command("go", "build", "-o", s.bin, "github.com/ztgo/ztgo/cli/ztgo")
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build ships it
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build ztgo: %v\n%s", err, out)
		}
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	s.bin = abs(s.bin)
	if s.refBin != "" {
		s.refBin = abs(s.refBin)
	}
	header := machine(s)
	fmt.Print(header)
	start := time.Now()

	// One namespace with the bridge; the root (also the controller) and
	// the members each in their own namespace with a veth on it.
	br := lab.NS("br")
	lab.Bridge(br)
	host := 0
	node := func(name string) *daemon {
		host++
		d := &daemon{name: name, ns: lab.NS(name), home: filepath.Join(dir, name), underlay: fmt.Sprintf("198.18.0.%d", host)}
		if err := os.MkdirAll(d.home, 0o700); err != nil {
			t.Fatal(err)
		}
		lab.Link(br, d.ns, "eth0", d.underlay+"/24")
		return d
	}
	root, a, b := node("root"), node("a"), node("b")
	var c, d *daemon
	if s.refBin != "" {
		c, d = node("c"), node("d")
	}
	planet := privatePlanet(t, lab, s.bin, dir, root, root.underlay+"/9993")
	for _, n := range []*daemon{root, a, b, c, d} {
		if n != nil {
			if err := os.WriteFile(filepath.Join(n.home, "planet"), planet, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	startZtgo(t, lab, s, root, nil)
	startZtgo(t, lab, s, a, s.memberEnv)
	startZtgo(t, lab, s, b, s.memberEnv)
	waitOnline(t, lab, root, a, b)
	root.addr = address(t, root)

	out := root.run(lab, "controller", "network", "create", "--json",
		`{"name":"perf","private":true,"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.17.10","ipRangeEnd":"10.147.17.250"}],"routes":[{"target":"10.147.17.0/24"}]}`)
	var netw struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &netw); err != nil || netw.ID == "" {
		t.Fatalf("network create: %v %q", err, out)
	}
	joinAll(t, lab, root, netw.ID, a, b)
	waitDirect(t, lab, a, b)
	t.Logf("ztgo members up after %v: a %s %s pid %d, b %s %s pid %d", time.Since(start).Round(time.Second), a.addr, a.ip, a.pid, b.addr, b.ip, b.pid)
	idle := []string{memLine("ztgo a (idle, network up)", a.pid), memLine("ztgo b (idle, network up)", b.pid)}

	// The table is printed even when a later step fails, with what was
	// measured until then.
	var zt, ref, bare []Result
	var note string
	details := idle
	defer func() {
		rows := append(append(append([]Result(nil), zt...), ref...), bare...)
		if t.Failed() {
			note += "INCOMPLETE: the run failed; see the log above.\n"
		}
		fmt.Printf("\n%s\n%s", Table(rows), note)
		fmt.Printf("\nMemory of the daemons (kB):\n")
		for _, l := range details {
			fmt.Printf("- %s\n", l)
		}
		load, _ := os.ReadFile("/proc/loadavg")
		fmt.Printf("\nwall time %v, load average at the end %s\n", time.Since(start).Round(time.Second), strings.Join(strings.Fields(string(load))[:3], " "))
	}()

	// The reference pair comes up while ztgo's is still there, idle, so
	// that round trips can be measured in turns: ping times on a VM drift
	// with what ran just before, and pairs measured minutes apart differ
	// by more than the two implementations do.
	refUp := false
	if s.refBin != "" {
		if !startReference(t, lab, s, dir, c, d) {
			note = "ZeroTierOne reference row skipped: ZTGO_REFERENCE_BIN does not run.\n"
		} else {
			waitOnline(t, lab, c, d)
			joinAll(t, lab, root, netw.ID, c, d)
			waitDirect(t, lab, c, d)
			details = append(details, memLine("zerotier-one c (idle, network up)", c.pid), memLine("zerotier-one d (idle, network up)", d.pid))
			refUp = true
		}
	}
	if refUp && s.want("ztgo") {
		note += interleavedRTT(t, s, endpoint{a.ns, a.ip, a.pid}, endpoint{b.ns, b.ip, b.pid}, endpoint{c.ns, c.ip, c.pid}, endpoint{d.ns, d.ip, d.pid})
	}

	if s.want("ztgo") {
		ztStart := time.Now()
		r, det := measure(t, lab, s, "ztgo ↔ ztgo", endpoint{a.ns, a.ip, a.pid}, endpoint{b.ns, b.ip, b.pid})
		zt = append(zt, r)
		details = append(details, det...)
		t.Logf("ztgo pair measured in %v", time.Since(ztStart).Round(time.Second))
	}
	if s.want("bare") {
		r, _ := measure(t, lab, s, "bare underlay (veth + bridge)", endpoint{a.ns, a.underlay, 0}, endpoint{b.ns, b.underlay, 0})
		bare = append(bare, r)
	}

	if s.hold > 0 {
		fmt.Printf("holding the lab for %d s: ztgo members a pid %d (%s), b pid %d (%s)\n", s.hold, a.pid, a.ns, b.pid, b.ns)
		time.Sleep(time.Duration(s.hold) * time.Second)
	}
	_ = a.proc.Stop()
	_ = b.proc.Stop()

	switch {
	case refUp:
		r, det := measure(t, lab, s, "ZeroTierOne ↔ ZeroTierOne (reference, "+version(lab, c)+")", endpoint{c.ns, c.ip, c.pid}, endpoint{d.ns, d.ip, d.pid})
		ref = append(ref, r)
		details = append(details, det...)
	case s.want("ref"):
		note = "ZeroTierOne reference row skipped: set ZTGO_REFERENCE_BIN to a zerotier-one 1.14.1 binary to measure it.\n"
	}
}

// machine describes where and how the numbers were taken.
func machine(s settings) string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	commit := os.Getenv("ZTGO_PERF_COMMIT")
	if commit != "" {
	} else if out, err := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	} else {
		commit = "?"
	}
	iperfVersion := "?"
	if out, err := exec.Command("iperf3", "--version").Output(); err == nil {
		iperfVersion = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return fmt.Sprintf("ztgo perf: commit %s, %s; %d CPUs (%s), kernel %s, load average %s\n"+
		"iperf3 %ds x %d runs (median), UDP probes %ds, loss-free = at most %.1f%% lost; %s\n",
		commit, runtime.Version(), runtime.NumCPU(), model, strings.TrimSpace(string(kernel)), strings.Join(strings.Fields(string(load))[:3], " "),
		s.duration, s.runs, s.udpDuration, lossLimit, iperfVersion)
}

// privatePlanet makes root an identity and a planet naming it at
// endpoint: no node of the lab ever uses ZeroTier's public planet.
func privatePlanet(t *testing.T, lab *netlab.Lab, bin, dir string, root *daemon, endpoint string) []byte {
	t.Helper()
	lab.Must("", bin, "identity", "generate", filepath.Join(root.home, "identity.secret"), filepath.Join(root.home, "identity.public"))
	pub, err := os.ReadFile(filepath.Join(root.home, "identity.public"))
	if err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`{"worldType":"planet","id":"7e5f0fa1","roots":[{"identity":%q,"stableEndpoints":[%q]}]}`, strings.TrimSpace(string(pub)), endpoint)
	if err := os.WriteFile(filepath.Join(dir, "planet.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	lab.Must("", bin, "world", "create", filepath.Join(dir, "planet.json"), "--key", filepath.Join(dir, "planet.key"), "-o", filepath.Join(dir, "planet"))
	planet, err := os.ReadFile(filepath.Join(dir, "planet"))
	if err != nil {
		t.Fatal(err)
	}
	return planet
}

func startZtgo(t *testing.T, lab *netlab.Lab, s settings, d *daemon, env []string) {
	t.Helper()
	// Each node runs its own copy of the binary, as it would on a machine
	// of its own: the node releases its image's start-up pages only where
	// no other process maps them (node/image_linux.go).
	// The copy is synced: pages still dirty in the page cache could not be
	// released, which no installed binary has to fear.
	exe := d.home + ".ztgo"
	if err := copySynced(s.bin, exe); err != nil {
		t.Fatal(err)
	}
	args := []string{exe, "run", d.home}
	if len(env) > 0 {
		// env execs too, so the PID is still the node's.
		args = append(append([]string{"env"}, env...), args...)
	}
	d.proc = lab.Start(d.ns, "ztgo "+d.name, args...)
	d.exe, d.cli = exe, []string{s.bin}
}

func copySynced(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startReference starts zerotier-one on c and d, with its CLI through a
// zerotier-cli link (the binary picks its personality from its name).
func startReference(t *testing.T, lab *netlab.Lab, s settings, dir string, nodes ...*daemon) bool {
	t.Helper()
	cliLink := filepath.Join(dir, "zerotier-cli")
	if err := os.Symlink(s.refBin, cliLink); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(s.refBin, "-v").CombinedOutput(); err != nil {
		t.Logf("ZTGO_REFERENCE_BIN %s does not run: %v %s", s.refBin, err, out)
		return false
	}
	for _, d := range nodes {
		// No port mapping and no TCP relay: nothing of the lab looks for
		// anything outside it.
		conf := `{"settings":{"portMappingEnabled":false,"allowTcpFallbackRelay":false}}`
		if err := os.WriteFile(filepath.Join(d.home, "local.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		d.proc = lab.Start(d.ns, "zerotier-one "+d.name, s.refBin, "-p9993", d.home)
		d.exe, d.cli = s.refBin, []string{cliLink}
	}
	return true
}

func version(lab *netlab.Lab, d *daemon) string {
	f := strings.Fields(d.run(lab, "info"))
	if len(f) >= 4 {
		return f[3]
	}
	return "?"
}

// waitOnline waits for each node to be ONLINE, and checks that the PID
// netlab started is the node itself (ip netns exec execs it).
func waitOnline(t *testing.T, lab *netlab.Lab, nodes ...*daemon) {
	t.Helper()
	for _, d := range nodes {
		if !netlab.Eventually(60*time.Second, 200*time.Millisecond, func() bool { return strings.Contains(d.run(lab, "info"), "ONLINE") }) {
			t.Fatalf("%s not online: %s\n%s", d.name, d.run(lab, "info"), d.proc.Output())
		}
		d.pid = d.proc.Cmd.Process.Pid
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", d.pid))
		want, _ := filepath.EvalSymlinks(d.exe)
		if err != nil || exe != want {
			t.Fatalf("%s: pid %d runs %q, not %q: CPU and memory would be someone else's", d.name, d.pid, exe, want)
		}
		d.addr = address(t, d)
	}
}

func address(t *testing.T, d *daemon) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.home, "identity.public"))
	if err != nil || len(b) < 10 {
		t.Fatalf("%s: no identity.public: %v", d.name, err)
	}
	return string(b[:10])
}

// joinAll joins the members to nwid, authorizes them on the controller
// and waits for their managed IPv4 addresses.
func joinAll(t *testing.T, lab *netlab.Lab, ctl *daemon, nwid string, members ...*daemon) {
	t.Helper()
	for _, m := range members {
		if out := m.run(lab, "join", nwid); !strings.Contains(out, "200 join OK") {
			t.Fatalf("join %s: %q", m.name, out)
		}
	}
	for _, m := range members {
		if !netlab.Eventually(60*time.Second, 200*time.Millisecond, func() bool {
			return strings.Contains(ctl.run(lab, "controller", "member", "list", nwid), m.addr)
		}) {
			t.Fatalf("%s never reached the controller", m.name)
		}
		ctl.run(lab, "controller", "member", "authorize", nwid, m.addr)
	}
	for _, m := range members {
		if !netlab.Eventually(60*time.Second, 200*time.Millisecond, func() bool {
			for _, line := range strings.Split(m.run(lab, "listnetworks"), "\n") {
				f := strings.Fields(line)
				if len(f) == 9 && f[2] == nwid && f[5] == "OK" && strings.HasPrefix(f[7], "zt") {
					for _, p := range strings.Split(f[8], ",") {
						if ip, _, ok := strings.Cut(p, "/"); ok && strings.HasPrefix(ip, "10.147.17.") {
							m.ip = ip
							return true
						}
					}
				}
			}
			return false
		}) {
			t.Fatalf("%s has no address: %s", m.name, m.run(lab, "listnetworks"))
		}
	}
}

// waitDirect pings until both members list a DIRECT path to each other.
func waitDirect(t *testing.T, lab *netlab.Lab, a, b *daemon) {
	t.Helper()
	direct := func(from, to *daemon) bool {
		for _, line := range strings.Split(from.run(lab, "peers"), "\n") {
			if strings.HasPrefix(line, to.addr) && strings.Contains(line, "DIRECT") && strings.Contains(line, to.underlay) {
				return true
			}
		}
		return false
	}
	if !netlab.Eventually(60*time.Second, 300*time.Millisecond, func() bool {
		_, _ = runIn(a.ns, 5*time.Second, "ping", "-c", "2", "-i", "0.1", "-W", "1", b.ip)
		return direct(a, b) && direct(b, a)
	}) {
		t.Fatalf("no direct path between %s and %s:\n%s\n%s", a.name, b.name, a.run(lab, "peers"), b.run(lab, "peers"))
	}
}

// runIn runs a short command in ns and returns its standard output; the
// error carries the standard error.
func runIn(ns string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

// iperf runs an iperf3 client in ns against server, once more if it fails
// (the server may still be closing the previous test).
func iperf(ns, server string, seconds int, extra ...string) (Iperf, error) {
	args := append([]string{"iperf3", "-c", server, "-t", strconv.Itoa(seconds), "-J"}, extra...)
	var last error
	for try := 0; try < 2; try++ {
		out, err := runIn(ns, time.Duration(seconds+30)*time.Second, args...)
		r, perr := ParseIperf([]byte(out))
		if perr == nil {
			return r, nil
		}
		last = fmt.Errorf("%v (%v)", perr, err)
		time.Sleep(time.Second)
	}
	return Iperf{}, last
}

// interleavedRTT pings a→b and c→d in turns, 100 pings 10 ms apart each
// turn, 2×RUNS turns per pair, and returns a line comparing the medians of
// the turns' averages and minimums.
func interleavedRTT(t *testing.T, s settings, a, b, c, d endpoint) string {
	t.Helper()
	var avg, min, all [2][]float64
	for range 2 * s.runs {
		for i, p := range [][2]endpoint{{a, b}, {c, d}} {
			out, err := runIn(p[0].ns, 30*time.Second, "ping", "-c", "100", "-i", "0.01", "-W", "1", p[1].ip)
			mn, av, perr := ParsePing(out)
			if perr != nil {
				t.Logf("interleaved ping: %v %v", perr, err)
			}
			avg[i], min[i] = append(avg[i], av), append(min[i], mn)
			all[i] = append(all[i], PingTimes(out)...)
		}
	}
	t.Logf("interleaved ping avg: ztgo %v, ZeroTierOne %v ms", avg[0], avg[1])
	// An average is at the mercy of a few stalls when the machine is busy;
	// the quantiles of every ping are not.
	q := func(i int) string {
		return fmt.Sprintf("p10 %.3f, median %.3f, p90 %.3f", Quantile(all[i], 0.1), Quantile(all[i], 0.5), Quantile(all[i], 0.9))
	}
	return fmt.Sprintf("Ping RTT in turns (%d × 100 pings a pair, 10 ms apart, median of the turns): ztgo avg %.3f ms (min %.3f), ZeroTierOne avg %.3f ms (min %.3f).\n"+
		"Every ping of the turns (ms): ztgo %s; ZeroTierOne %s.\n",
		2*s.runs, Median(avg[0]), Median(min[0]), Median(avg[1]), Median(min[1]), q(0), q(1))
}

// measure fills one row: ping, TCP both ways with 1 and 4 streams, CPU
// per GB over the TCP runs, the loss-free UDP rate, then memory.
func measure(t *testing.T, lab *netlab.Lab, s settings, pair string, a, b endpoint) (Result, []string) {
	t.Helper()
	r := NewResult(pair)
	srv := lab.Start(b.ns, "iperf3 server "+pair, "iperf3", "-s", "-B", b.ip)
	defer srv.Stop()
	netlab.Eventually(5*time.Second, 50*time.Millisecond, func() bool { return strings.Contains(srv.Output(), "listening") })

	var rtts []float64
	for i := 0; i < s.runs; i++ {
		out, err := runIn(a.ns, 30*time.Second, "ping", "-q", "-c", "100", "-i", "0.01", "-W", "1", b.ip)
		_, avg, perr := ParsePing(out)
		if perr != nil {
			t.Logf("%s ping: %v %v", pair, perr, err)
		}
		t.Logf("%s ping: %s", pair, lastLine(out)) // min/avg/max/mdev
		rtts = append(rtts, avg)
	}
	r.RTTms = Median(rtts)
	t.Logf("%s ping avg %v ms -> %.3f", pair, rtts, r.RTTms)

	cpu0 := cpus(a, b)
	var moved float64
	for k, c := range []struct {
		name  string
		extra []string
	}{
		{"a→b 1 stream", nil},
		{"a→b 4 streams", []string{"-P", "4"}},
		{"b→a 1 stream", []string{"-R"}},
		{"b→a 4 streams", []string{"-R", "-P", "4"}},
	} {
		var mbps []float64
		for i := 0; i < s.runs; i++ {
			res, err := iperf(a.ns, b.ip, s.duration, c.extra...)
			if err != nil {
				t.Logf("%s TCP %s: %v", pair, c.name, err)
				mbps = append(mbps, math.NaN())
				continue
			}
			mbps = append(mbps, res.Bps/1e6)
			moved += res.Bytes
		}
		r.TCP[k] = Median(mbps)
		t.Logf("%s TCP %s: %.0f Mbit/s -> %.0f", pair, c.name, mbps, r.TCP[k])
	}
	cpu1 := cpus(a, b)
	for i := range 2 {
		if cpu0[i] >= 0 && cpu1[i] >= 0 && moved > 0 {
			r.CPUperGB[i] = (cpu1[i] - cpu0[i]) / (moved / 1e9)
		}
	}
	t.Logf("%s CPU over TCP runs: a %.2f s, b %.2f s for %.2f GB", pair, cpu1[0]-cpu0[0], cpu1[1]-cpu0[1], moved/1e9)

	r.UDPpps = udpSearch(t, s, pair, a, b)

	var det []string
	for i, e := range []endpoint{a, b} {
		if e.pid == 0 {
			continue
		}
		st, err := ProcStatus(e.pid)
		if err != nil {
			t.Logf("%s: %v", pair, err)
			continue
		}
		r.RSSkB[i], r.HWMkB[i] = st["VmRSS"], st["VmHWM"]
		det = append(det, memLine(fmt.Sprintf("%s %s (after the throughput runs)", pair, "ab"[i:i+1]), e.pid))
	}
	if s.quiet > 0 && (a.pid != 0 || b.pid != 0) {
		time.Sleep(time.Duration(s.quiet) * time.Second)
		for i, e := range []endpoint{a, b} {
			if st, err := ProcStatus(e.pid); e.pid != 0 && err == nil {
				r.QuietkB[i] = st["VmRSS"]
				det = append(det, memLine(fmt.Sprintf("%s %s (then %d s quiet)", pair, "ab"[i:i+1], s.quiet), e.pid))
			}
		}
	}
	return r, det
}

// cpus reads the CPU seconds of both ends' daemons (-1 where none).
func cpus(a, b endpoint) [2]float64 {
	out := [2]float64{-1, -1}
	for i, e := range []endpoint{a, b} {
		if e.pid != 0 {
			if v, err := ProcCPU(e.pid); err == nil {
				out[i] = v
			}
		}
	}
	return out
}

// memLine is a one-line memory summary of pid from /proc.
func memLine(what string, pid int) string {
	st, err := ProcStatus(pid)
	if err != nil {
		return fmt.Sprintf("%s: %v", what, err)
	}
	line := fmt.Sprintf("%s: VmRSS %d (RssAnon %d, RssFile %d, RssShmem %d), VmHWM %d, VmSize %d, VmData %d, VmStk %d, Threads %d",
		what, st["VmRSS"], st["RssAnon"], st["RssFile"], st["RssShmem"], st["VmHWM"], st["VmSize"], st["VmData"], st["VmStk"], st["Threads"])
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		sm := ParseStatusKB(string(b))
		line += fmt.Sprintf("; smaps_rollup Pss %d, Anonymous %d, Private_Dirty %d", sm["Pss"], sm["Anonymous"], sm["Private_Dirty"])
	}
	return line
}

// udpSearch finds the highest rate of 1200-byte datagrams a→b that
// arrives with at most lossLimit percent lost: first unlimited (the
// sender's own ceiling), then a bisection below the rate that was offered.
func udpSearch(t *testing.T, s settings, pair string, a, b endpoint) float64 {
	t.Helper()
	const size = 1200
	probe := func(bps float64) (Iperf, bool) {
		res, err := iperf(a.ns, b.ip, s.udpDuration, "-u", "-l", strconv.Itoa(size), "-b", fmt.Sprintf("%.0f", bps))
		if err != nil {
			t.Logf("%s UDP at %.0f Mbit/s: %v", pair, bps/1e6, err)
			return res, false
		}
		ok := res.LossPercent() <= lossLimit
		t.Logf("%s UDP offered %s: %.0f pps arrived, %.2f%% lost", pair, map[bool]string{true: "unlimited", false: fmt.Sprintf("%.0f Mbit/s", bps/1e6)}[bps == 0], res.PPS(), res.LossPercent())
		return res, ok
	}
	first, ok := probe(0)
	if ok {
		return first.PPS()
	}
	if first.Seconds <= 0 || first.Packets <= 0 {
		return math.NaN()
	}
	lo, hi := 0.0, float64(first.Packets)*size*8/first.Seconds
	best := math.NaN()
	for i := 1; i < s.udpProbes && (lo == 0 || hi/lo > 1.05); i++ {
		mid := (lo + hi) / 2
		res, ok := probe(mid)
		if ok {
			lo, best = mid, res.PPS()
		} else {
			hi = mid
		}
	}
	return best
}
