package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
)

// Settings are the local.conf settings ztgo honours (service-api.md §11.3).
type Settings struct {
	PrimaryPort           *int    `json:"primaryPort"`
	SecondaryPort         *int    `json:"secondaryPort"`
	TertiaryPort          *int    `json:"tertiaryPort"`
	AllowSecondaryPort    *bool   `json:"allowSecondaryPort"`
	PortMappingEnabled    *bool   `json:"portMappingEnabled"`
	AllowTcpFallbackRelay *bool   `json:"allowTcpFallbackRelay"`
	ForceTcpRelay         *bool   `json:"forceTcpRelay"`
	TcpFallbackRelay      *string `json:"tcpFallbackRelay"`
	// TcpFallbackAfterMs is a ztgo extension: how long without UDP before
	// falling back (1.14.1: 60 s, fixed).
	TcpFallbackAfterMs *int `json:"tcpFallbackAfterMs"`
	// ControllerDbPath is where the controller keeps its networks: a
	// directory (default <home>/controller.d), or "postgres:" followed by
	// a libpq connection string (controller.md §8.11).
	ControllerDbPath *string `json:"controllerDbPath"`
	// BindInterfaces is a ztgo extension: bind each usable interface
	// address (as 1.14.1 always does) instead of the wildcard (links.go).
	BindInterfaces *bool `json:"bindInterfaces"`
}

// honoured lists the settings keys read; the rest are logged and ignored.
var honoured = []string{"primaryPort", "secondaryPort", "tertiaryPort", "allowSecondaryPort",
	"portMappingEnabled", "allowTcpFallbackRelay", "forceTcpRelay", "tcpFallbackRelay", "tcpFallbackAfterMs", "allowManagementFrom", "controllerDbPath",
	"bind", "interfacePrefixBlacklist", "bindInterfaces", "defaultBondingPolicy", "policies", "peerSpecificBonds"}

// LocalConf is local.conf. Raw keeps the whole document for /status.
type LocalConf struct {
	Settings Settings
	Raw      map[string]any
	// AllowManagementFrom is settings.allowManagementFrom: the networks
	// besides loopback that may reach the local API (with the token).
	AllowManagementFrom []netip.Prefix
	// Bonding is settings.defaultBondingPolicy, settings.policies and
	// settings.peerSpecificBonds (spec/multipath.md §14.2); nil or not
	// InUse means no bonding.
	Bonding *bond.Config
	// Bind is settings.bind: local addresses to bind instead of
	// enumerating interfaces.
	Bind []netip.Addr
	// InterfaceDeny is settings.interfacePrefixBlacklist.
	InterfaceDeny []string
	// PhysicalBlacklist are the physical networks with "blacklist": true:
	// no local address inside them is bound.
	PhysicalBlacklist []netip.Prefix
	// PhysicalMTU is physical.<cidr>.mtu, as the engine consults it
	// (physicalMTU).
	PhysicalMTU []vl1.PhysicalMTU
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// LoadLocalConf reads local.conf; a missing file is an empty one, a broken
// one an error (1.14.1 refuses to start too).
func (h Home) LoadLocalConf(log *slog.Logger) (*LocalConf, error) {
	p := h.path("local.conf")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &LocalConf{Raw: map[string]any{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v (fix or remove it)", p, err)
	}
	lc := &LocalConf{Raw: raw, Bonding: &bond.Config{}}
	if lc.PhysicalBlacklist, err = physicalBlacklist(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	lc.PhysicalMTU = physicalMTU(raw)
	s, _ := raw["settings"].(map[string]any)
	if s == nil {
		return lc, nil
	}
	sb, _ := json.Marshal(s)
	if err := json.Unmarshal(sb, &lc.Settings); err != nil {
		return nil, fmt.Errorf("%s: settings: %v", p, err)
	}
	// Like 1.14 a bad bonding value is skipped and the rest kept; each
	// problem is one line saying what to write instead.
	bc, err := bond.ParseSettings(sb)
	lc.Bonding = bc
	if err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, e := range errs {
			log.Warn("local.conf: " + e.Error())
		}
	}
	if lc.Bind, lc.InterfaceDeny, err = linkSettings(s); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	amf, bad := parseAllowManagementFrom(s["allowManagementFrom"])
	lc.AllowManagementFrom = amf
	for _, b := range bad {
		log.Warn("local.conf allowManagementFrom entry is not an address or network; ignored", "entry", b)
	}
	for k := range s {
		if !slices.Contains(honoured, k) {
			log.Info("local.conf setting not supported; ignored", "setting", k)
		}
	}
	for _, port := range []*int{lc.Settings.PrimaryPort, lc.Settings.SecondaryPort, lc.Settings.TertiaryPort} {
		if port != nil && (*port < 0 || *port > 65535) {
			return nil, fmt.Errorf("%s: port %d out of range 0..65535", p, *port)
		}
	}
	return lc, nil
}

// ControllerDbPath is where the controller keeps its networks:
// settings.controllerDbPath, or <home>/controller.d.
func (h Home) ControllerDbPath(conf *LocalConf) string {
	if conf != nil && conf.Settings.ControllerDbPath != nil && *conf.Settings.ControllerDbPath != "" {
		return *conf.Settings.ControllerDbPath
	}
	return h.path("controller.d")
}
