package node

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

// TestLinkSettings: settings.bind, settings.interfacePrefixBlacklist and
// bindInterfaces become the transport's link options; a malformed value
// stops the node with one line naming the entry and the expected form.
func TestLinkSettings(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	load := func(conf string) (*LocalConf, error) {
		os.WriteFile(filepath.Join(home, "local.conf"), []byte(conf), 0o644)
		return Home(home).LoadLocalConf(slog.New(slog.DiscardHandler))
	}
	for _, c := range []struct {
		conf      string
		ifaces    bool
		bind      []string
		deny      []string
		wantError string
		skip      string // an address the options skip
		keep      string // and one they keep
	}{
		{conf: `{}`},
		{conf: `{"settings":{"bindInterfaces":true}}`, ifaces: true},
		// A bond's links are interfaces: bonding binds them unless told not to.
		{conf: `{"settings":{"defaultBondingPolicy":"active-backup"}}`, ifaces: true},
		{conf: `{"settings":{"defaultBondingPolicy":"active-backup","bindInterfaces":false}}`},
		{conf: `{"settings":{"interfacePrefixBlacklist":["docker","",  "veth"]}}`, ifaces: true, deny: []string{"docker", "veth"}},
		{conf: `{"settings":{"interfacePrefixBlacklist":[]}}`},
		{conf: `{"settings":{"bind":["198.18.0.2","2001:db8::2","::ffff:198.18.0.3","198.18.0.4/9993"]}}`, bind: []string{"198.18.0.2", "2001:db8::2", "198.18.0.3", "198.18.0.4"}},
		{conf: `{"settings":{"bind":["198.18.0.2","eth0"]}}`, wantError: `settings.bind[1] "eth0" is not an IP address; write a local address such as`},
		{conf: `{"settings":{"bind":[5]}}`, wantError: `settings.bind[0] 5 is not an IP address`},
		{conf: `{"settings":{"bind":"198.18.0.2"}}`, wantError: `settings.bind must be an array of local IP addresses`},
		{conf: `{"settings":{"interfacePrefixBlacklist":"docker"}}`, wantError: `settings.interfacePrefixBlacklist must be an array of interface name prefixes`},
		{conf: `{"settings":{"interfacePrefixBlacklist":["docker",1]}}`, wantError: `settings.interfacePrefixBlacklist[1] 1 is not a string`},
		{conf: `{"settings":{"bindInterfaces":"yes"}}`, wantError: `bindInterfaces`},
		{conf: `{"physical":{"10.0.0.0":{"blacklist":true}}}`, wantError: `physical "10.0.0.0" is blacklisted but is not a network`},
		{conf: `{"physical":{"10.0.0.0/8":{"blacklist":true},"junk":{"mtu":1400}},"settings":{"bindInterfaces":true}}`, ifaces: true, skip: "10.1.2.3", keep: "198.18.0.1"},
	} {
		lc, err := load(c.conf)
		if c.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantError) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line with %q", c.conf, err, c.wantError)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.conf, err)
			continue
		}
		o := lc.linkOptions()
		var bind []string
		for _, a := range o.Addrs {
			bind = append(bind, a.String())
		}
		if o.Interfaces != c.ifaces || !slices.Equal(bind, c.bind) || !slices.Equal(o.DenyPrefixes, c.deny) {
			t.Errorf("%s: %+v", c.conf, o)
		}
		if bonding := lc.Bonding.InUse(); (o.Rescan == transport.DefaultRescan/4) != bonding {
			t.Errorf("%s: rescan %v with bonding %v", c.conf, o.Rescan, bonding)
		}
		if c.skip != "" && (o.Skip == nil || !o.Skip(netip.MustParseAddr(c.skip)) || o.Skip(netip.MustParseAddr(c.keep))) {
			t.Errorf("%s: skip hook wrong", c.conf)
		}
	}
}

// TestNodeBindsExplicitAddress: with settings.bind the node listens on
// that address only, /status lists it, and /peer's localPort comes from
// the socket's own port.
func TestNodeBindsExplicitAddress(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	os.WriteFile(filepath.Join(home, "local.conf"), []byte(`{"settings":{"bind":["127.0.0.1"],"allowSecondaryPort":false,"portMappingEnabled":false}}`), 0o644)
	n, stop := start(t, home)
	defer stop()
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), n.Port())
	if got := n.udp.LocalAddrs(); len(got) != 1 || got[0] != want {
		t.Fatalf("bound %v, want %v", got, want)
	}
	if n.localPort(0) != int(n.Port()) || n.localPort(7) != 0 {
		t.Fatalf("localPort %d %d", n.localPort(0), n.localPort(7))
	}
	_, st, _ := get(t, n, "/status", map[string]string{"X-ZT1-Auth": n.Token})
	settings := st["config"].(map[string]any)["settings"].(map[string]any)
	if l, _ := settings["listeningOn"].([]any); len(l) != 1 || l[0] != "127.0.0.1/"+itoa(n.Port()) {
		t.Fatalf("listeningOn %v", settings["listeningOn"])
	}
}
