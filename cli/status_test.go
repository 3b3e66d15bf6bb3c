package cli

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/loopback"
	"github.com/ztgo/ztgo/internal/testplanet"
	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/node"
)

func freeUDPPort(t *testing.T) int {
	p, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return int(p)
}

// startNode runs a node in process on loopback with the given planet.
func startNode(t *testing.T, home string, port int, planet []byte) {
	t.Helper()
	os.WriteFile(filepath.Join(home, "planet"), planet, 0o644)
	os.WriteFile(filepath.Join(home, "local.conf"), []byte(`{"settings":{"allowSecondaryPort":false,"portMappingEnabled":false}}`), 0o644)
	n, err := node.Open(node.Options{Home: home, Port: port, Logger: slog.New(slog.DiscardHandler), AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestInfoPeersPingAgainstRunningNodes(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	dir := t.TempDir()
	rootHome, leafHome := filepath.Join(dir, "root"), filepath.Join(dir, "leaf")
	os.MkdirAll(rootHome, 0o700)
	os.MkdirAll(leafHome, 0o700)
	secret, _ := os.ReadFile("../testdata/captures/basic/root.identity.secret")
	os.WriteFile(filepath.Join(rootHome, "identity.secret"), secret, 0o600)
	leafSecret, _ := os.ReadFile("../testdata/captures/basic/za.identity.secret")
	os.WriteFile(filepath.Join(leafHome, "identity.secret"), leafSecret, 0o600)
	rootID, _ := identity.Parse(string(secret))
	leafID, _ := identity.Parse(string(leafSecret))
	port := freeUDPPort(t)
	planet := testplanet.Single(rootID, 42, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	startNode(t, rootHome, port, planet)
	startNode(t, leafHome, 0, planet)

	deadline := time.Now().Add(10 * time.Second)
	var r result
	for time.Now().Before(deadline) {
		if r = run(t, "info", "-D", leafHome); strings.HasSuffix(r.stdout, "ONLINE\n") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.stdout != "200 info "+leafID.Address().String()+" 1.14.1 ONLINE\n" || r.code != 0 {
		t.Fatalf("info: %+v", r)
	}
	r = run(t, "ping", "-D", leafHome, "-c", "1", rootID.Address().String())
	if r.code != 0 || !strings.Contains(r.stdout, "reply from "+rootID.Address().String()) {
		t.Fatalf("ping: %+v", r)
	}
	r = run(t, "peers", "-D", leafHome)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || lines[0] != "200 peers" || !strings.HasPrefix(lines[2], rootID.Address().String()+" 1.14.1 PLANET ") ||
		!strings.Contains(lines[2], " DIRECT   ") || !strings.HasSuffix(lines[2], "127.0.0.1/"+itoa(port)) {
		t.Fatalf("peers: %q", r.stdout)
	}
	r = run(t, "listpeers", "-D", leafHome)
	if r.code != 0 || !strings.Contains(r.stdout, "200 listpeers "+rootID.Address().String()+" 127.0.0.1/"+itoa(port)+";") || !strings.HasSuffix(r.stdout, " 1.14.1 PLANET\n") {
		t.Fatalf("listpeers: %q", r.stdout)
	}
	r = run(t, "info", "-j", "-D", rootHome)
	if r.code != 0 || !strings.Contains(r.stdout, `"address": "`+rootID.Address().String()+`"`) || !strings.Contains(r.stdout, `"online": true`) {
		t.Fatalf("info -j: %+v", r)
	}
	r = run(t, "info", "-D", leafHome, "-T", "wrong")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ztgo info: 401 info {}") {
		t.Fatalf("bad token: %+v", r)
	}
	r = run(t, "ping", "-D", leafHome, "-c", "1", "-W", "300ms", "0123456789")
	if r.code != 1 || !strings.Contains(r.stdout, "no reply") {
		t.Fatalf("ping nobody: %+v", r)
	}
}

func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "info", "-D", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "zerotier-one.port not found") {
		t.Fatalf("%+v", r)
	}
	os.WriteFile(filepath.Join(dir, "zerotier-one.port"), []byte(itoa(freeUDPPort(t))), 0o644)
	if r = run(t, "peers", "-D", dir); r.code != 2 || !strings.Contains(r.stderr, "authtoken.secret") {
		t.Fatalf("%+v", r)
	}
	os.WriteFile(filepath.Join(dir, "authtoken.secret"), []byte("x"), 0o600)
	if r = run(t, "listpeers", "-D", dir); r.code != 1 || !strings.Contains(r.stderr, "the node is not running: nothing answers at 127.0.0.1:") {
		t.Fatalf("%+v", r)
	}
	// A port file left by a node that has stopped.
	if r = run(t, "join", "-D", dir, "8056c2e21c000001"); r.code != 1 || !strings.Contains(r.stderr, "the node is not running") {
		t.Fatalf("%+v", r)
	}
	if r = run(t, "join", "-D", dir, "0000000000000000"); r.code != 2 || !strings.Contains(r.stderr, "0000000000000000 is refused: no network has it") {
		t.Fatalf("%+v", r)
	}
	for _, args := range [][]string{{"ping", "-D", dir}, {"ping", "-D", dir, "xyz"}, {"run", "-p", "70000", dir}, {"run", dir, "extra"}} {
		if r = run(t, args...); r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
