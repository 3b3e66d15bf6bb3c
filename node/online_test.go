package node

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testutil"

	"github.com/ztgo/ztgo/internal/loopback"
	"github.com/ztgo/ztgo/internal/testplanet"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOnlineLog: a node whose root does not answer says which roots it
// tries; once the root runs, it logs ONLINE.
func TestOnlineLog(t *testing.T) {
	secret := rootSecret(t)
	rootID, _ := identity.Parse(secret)
	p, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rootAt := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p)
	planet := testplanet.Single(rootID, 77, rootAt)
	leafHome := t.TempDir()
	leafSecret, err := os.ReadFile("../testdata/captures/basic/za.identity.secret")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(leafHome, "identity.secret"), leafSecret, 0o600)
	os.WriteFile(filepath.Join(leafHome, "planet"), planet, 0o644)
	var logs testutil.SyncBuffer
	leaf, err := Open(Options{Home: leafHome, Port: 0, AllowLoopback: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	leaf.onlineEvery, leaf.rootNagEvery = 20*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { leaf.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	want := "no root reachable yet (tried " + rootID.Address().String() + " at " + rootAt.String() + ")"
	waitFor(t, "the no-root warning", func() bool { return strings.Contains(logs.String(), want) })

	rootHome := t.TempDir()
	os.WriteFile(filepath.Join(rootHome, "identity.secret"), []byte(secret), 0o600)
	os.WriteFile(filepath.Join(rootHome, "planet"), planet, 0o644)
	_, stop := startWith(t, Options{Home: rootHome, Port: int(p), AllowLoopback: true, Logger: slog.New(slog.DiscardHandler)})
	defer stop()
	waitFor(t, "ONLINE", func() bool { return strings.Contains(logs.String(), "ONLINE: a root answers") })
}

// TestPortErrorReported: a network whose device cannot be made shows
// PORT_ERROR and 1.14.1's portError -999.
func TestPortErrorReported(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	n, stop := startWith(t, Options{Home: home, Port: 0, Logger: slog.New(slog.DiscardHandler),
		Devices: func(uint64, vl2wire.MAC, int) (Device, error) { return nil, errors.New("no /dev/net/tun") }})
	defer stop()
	post(t, n, "POST", "/network/cbf31c2eda000001", "{}")
	_, body := post(t, n, "GET", "/network/cbf31c2eda000001", "")
	if !strings.Contains(body, `"status":"PORT_ERROR"`) || !strings.Contains(body, `"portError":-999`) {
		t.Fatalf("network JSON %s", body)
	}
}
