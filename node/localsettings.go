package node

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/ztgo/ztgo/internal/atomicfile"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// netSettings are a network's local settings (service-api.md §10.4.1),
// kept in networks.d/<nwid>.local.conf as zerotier-one keeps them.
type netSettings struct {
	AllowManaged, AllowGlobal, AllowDefault, AllowDNS bool
}

var defaultSettings = netSettings{AllowManaged: true}

func (h Home) localConfPath(nwid uint64) string {
	return h.path("networks.d", vl2wire.NetworkIDString(nwid)+".local.conf")
}

func (h Home) loadSettings(nwid uint64) netSettings {
	s := defaultSettings
	b, err := os.ReadFile(h.localConfPath(nwid))
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		on := len(v) > 0 && (v[0] == '1' || v[0] == 't' || v[0] == 'T')
		switch k {
		case "allowManaged":
			s.AllowManaged = on
		case "allowGlobal":
			s.AllowGlobal = on
		case "allowDefault":
			s.AllowDefault = on
		case "allowDNS":
			s.AllowDNS = on
		}
	}
	return s
}

func (h Home) saveSettings(nwid uint64, s netSettings) error {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	text := fmt.Sprintf("allowManaged=%d\nallowGlobal=%d\nallowDefault=%d\nallowDNS=%d\n", b(s.AllowManaged), b(s.AllowGlobal), b(s.AllowDefault), b(s.AllowDNS))
	if err := os.MkdirAll(h.path("networks.d"), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(h.localConfPath(nwid), []byte(text), 0o600)
}

// applySettings merges a POST /network body's booleans into the settings.
func applySettings(s netSettings, body []byte) netSettings {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return s
	}
	for k, p := range map[string]*bool{"allowManaged": &s.AllowManaged, "allowGlobal": &s.AllowGlobal, "allowDefault": &s.AllowDefault, "allowDNS": &s.AllowDNS} {
		if v, ok := m[k].(bool); ok {
			*p = v
		}
	}
	return s
}

// allowedWithGateways filters a network's managed addresses and routes by
// its local settings: nothing unless allowManaged; global addresses only
// with allowGlobal; default routes only with allowDefault. Routes through a
// gateway on the network come apart (service-api.md §13.1): skipped when the gateway is one of our
// own addresses (we are the router); a default route, only with
// allowDefault, is split in two halves so it overrides the system default
// without deleting it.
func (s netSettings) allowedWithGateways(info vl2.Info) (addrs, routes, gwTargets []netip.Prefix, gwVias []netip.Addr) {
	if !s.AllowManaged {
		return nil, nil, nil, nil
	}
	global := func(p netip.Prefix) bool {
		a := p.Addr()
		return a.IsGlobalUnicast() && !a.IsPrivate()
	}
	for _, a := range info.Addresses {
		if !global(a) || s.AllowGlobal {
			addrs = append(addrs, a)
		}
	}
	own := func(ip netip.Addr) bool {
		for _, a := range info.Addresses {
			if a.Addr() == ip {
				return true
			}
		}
		return false
	}
	for _, r := range info.Routes {
		switch {
		case r.Via.IsValid():
			if own(r.Via) || (r.Target.Bits() == 0 && !s.AllowDefault) || (global(r.Target) && r.Target.Bits() > 0 && !s.AllowGlobal) {
				continue
			}
			for _, t := range splitDefault(r.Target) {
				gwTargets, gwVias = append(gwTargets, t), append(gwVias, r.Via)
			}
		case r.Target.Bits() == 0 && !s.AllowDefault:
		case global(r.Target) && !s.AllowGlobal:
		default:
			routes = append(routes, r.Target)
		}
	}
	return addrs, routes, gwTargets, gwVias
}

// splitDefault turns 0.0.0.0/0 into 0.0.0.0/1 + 128.0.0.0/1 (and ::/0
// likewise); other prefixes stay as they are.
func splitDefault(p netip.Prefix) []netip.Prefix {
	if p.Bits() != 0 {
		return []netip.Prefix{p}
	}
	if p.Addr().Is4() {
		return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}
	}
	return []netip.Prefix{netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")}
}
