package bond

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Config is the bonding part of local.conf's settings object: the default
// policy, the custom policies and the peers given a policy of their own
// (OneService::applyLocalConfig, service-api.md §11.3).
type Config struct {
	// DefaultPolicy is settings.defaultBondingPolicy: a standard policy
	// name or a custom policy's; "" when bonding is off.
	DefaultPolicy string
	Policies      map[string]*Template // custom policies by name
	PeerPolicies  map[uint64]string    // settings.peerSpecificBonds: peer address -> policy name
}

// InUse is Bond::inUse: bonding is on if a standard default policy or any
// custom policy is configured.
func (c *Config) InUse() bool {
	return c != nil && (PolicyByName(c.DefaultPolicy) != PolicyNone || len(c.Policies) > 0)
}

// TemplateFor is the policy a bond with peer gets (Bond::createBond), or
// nil for no bond. A peer named in peerSpecificBonds gets that policy, or
// the standard default if the name is unknown; every other peer gets the
// default policy. Roots never get a bond (1.14 gives them policy none):
// the engine does not ask for them.
func (c *Config) TemplateFor(peer uint64) *Template {
	if !c.InUse() {
		return nil
	}
	if name, ok := c.PeerPolicies[peer]; ok {
		if t := c.Policies[name]; t != nil {
			return t
		}
		// 1.14.1 looks only among custom policies here and so gives a
		// peer named with a standard policy the default instead
		// (spec/multipath.md); the standard policy is what was asked for.
		if p := PolicyByName(name); p != PolicyNone {
			return StandardTemplate(p)
		}
		if p := PolicyByName(c.DefaultPolicy); p != PolicyNone {
			return StandardTemplate(p)
		}
		return nil
	}
	if p := PolicyByName(c.DefaultPolicy); p != PolicyNone {
		return StandardTemplate(p)
	}
	return c.Policies[c.DefaultPolicy]
}

// ParseSettings reads the bonding keys of a local.conf settings object
// where 1.14 reads them. Like 1.14 it skips what is invalid and keeps the
// rest, so the returned Config is always usable; the error, if any, joins
// one line per problem saying what is wrong and how to fix it.
func ParseSettings(settings []byte) (*Config, error) {
	var s struct {
		DefaultBondingPolicy json.RawMessage            `json:"defaultBondingPolicy"`
		Policies             map[string]json.RawMessage `json:"policies"`
		PeerSpecificBonds    map[string]json.RawMessage `json:"peerSpecificBonds"`
	}
	c := &Config{Policies: map[string]*Template{}, PeerPolicies: map[uint64]string{}}
	if len(settings) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(settings, &s); err != nil {
		return c, fmt.Errorf("local.conf settings: bonding keys: %v (defaultBondingPolicy is a string, policies and peerSpecificBonds are objects)", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(s.DefaultBondingPolicy) > 0 && string(s.DefaultBondingPolicy) != "null" {
		if err := json.Unmarshal(s.DefaultBondingPolicy, &c.DefaultPolicy); err != nil {
			bad("settings.defaultBondingPolicy must be a string such as \"active-backup\", not %s", s.DefaultBondingPolicy)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Policies)) {
		t, err := parsePolicy(name, s.Policies[name], bad)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.Policies[name] = t
	}
	for key, raw := range s.PeerSpecificBonds {
		addr, err := strconv.ParseUint(key, 16, 64)
		var policy string
		if err == nil {
			err = json.Unmarshal(raw, &policy)
		}
		if err != nil {
			bad("settings.peerSpecificBonds: %q: want a 10-digit hex peer address mapped to a policy name, e.g. \"89e92ceee5\": \"my-policy\"", key)
			continue
		}
		if PolicyByName(policy) == PolicyNone && c.Policies[policy] == nil {
			bad("settings.peerSpecificBonds.%s: unknown policy %q; that peer gets the default policy (name a standard or custom policy)", key, policy)
		}
		c.PeerPolicies[addr] = policy
	}
	if c.DefaultPolicy != "" && PolicyByName(c.DefaultPolicy) == PolicyNone && c.Policies[c.DefaultPolicy] == nil {
		bad("settings.defaultBondingPolicy: unknown policy %q, bonding disabled for peers without their own (use one of active-backup, broadcast, balance-rr, balance-xor, balance-aware or a name under settings.policies)", c.DefaultPolicy)
	}
	return c, errors.Join(errs...)
}

// parsePolicy reads settings.policies.<name>. An error means the policy is
// dropped, as 1.14 drops it; bad reports problems 1.14 works around.
func parsePolicy(name string, raw json.RawMessage, bad func(string, ...any)) (*Template, error) {
	where := "settings.policies." + name
	var p map[string]json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s must be an object such as {\"basePolicy\": \"active-backup\"}", where)
	}
	var base string
	_ = json.Unmarshal(p["basePolicy"], &base)
	switch {
	case base == "":
		return nil, fmt.Errorf("%s: no basePolicy; policy ignored (set \"basePolicy\": \"active-backup\" or another standard policy)", where)
	case PolicyByName(base) == PolicyNone:
		return nil, fmt.Errorf("%s: unknown basePolicy %q; policy ignored (use active-backup, broadcast, balance-rr, balance-xor or balance-aware)", where, base)
	case PolicyByName(name) != PolicyNone:
		return nil, fmt.Errorf("%s: a custom policy cannot take a standard policy's name; policy ignored (rename it)", where)
	}
	t := StandardTemplate(PolicyByName(base))
	t.Alias = name

	num := func(key string, dfl float64) float64 {
		v, ok, err := jsonNumber(p[key])
		if err != nil {
			bad("%s.%s: %v; using %v (give a number)", where, key, err, dfl)
		}
		if !ok || err != nil {
			return dfl
		}
		return v
	}
	if q, ok := parseQuality(where, p["linkQuality"], bad); ok {
		t.Quality = q
	}
	for _, d := range []struct {
		key string
		dst *uint32
	}{{"upDelay", &t.UpDelay}, {"downDelay", &t.DownDelay}} {
		if v := num(d.key, 0); v < 0 || v > math.MaxUint32 {
			bad("%s.%s: %v is out of range; using 0 (give milliseconds, 0 or more)", where, d.key, v)
		} else {
			*d.dst = uint32(v)
		}
	}
	fi := num("failoverInterval", FailoverDefaultInterval)
	switch {
	case fi < FailoverMinInterval || fi > math.MaxUint32:
		bad("%s.failoverInterval: %v ms is below the minimum; using %d ms as 1.14 does (give %d or more)", where, fi, FailoverMinInterval, FailoverMinInterval)
		t.FailoverInterval = FailoverMinInterval
	default:
		t.FailoverInterval = uint32(fi)
	}
	if v := num("packetsPerLink", DefaultPacketsPerLink); v < 0 || v > math.MaxInt32 {
		bad("%s.packetsPerLink: %v is out of range; using %d (give 0 for a random link per packet, or a count)", where, v, DefaultPacketsPerLink)
	} else {
		t.PacketsPerLink = int(v)
	}
	t.Links = parseLinks(where, p["links"], bad)

	var reselect string
	if err := json.Unmarshal(p["activeReselect"], &reselect); err != nil || reselect == "" {
		reselect = "always"
	}
	if i := slices.Index(reselectNames[:], reselect); i >= 0 {
		t.Reselect = Reselect(i)
	} else {
		bad("%s.activeReselect: unknown value %q; using \"always\" (use always, better, failure or optimize)", where, reselect)
	}
	return t, nil
}

var qualityKeys = [8]string{"lat_max", "pdv_max", "plr_max", "per_max", "lat_weight", "pdv_weight", "plr_weight", "per_weight"}

// parseQuality reads linkQuality. 1.14 uses it only if it has exactly its
// eight keys and the four weights sum to 1 (±0.01); otherwise the defaults.
func parseQuality(where string, raw json.RawMessage, bad func(string, ...any)) (Quality, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return Quality{}, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != len(qualityKeys) {
		bad("%s.linkQuality: ignored; it needs exactly the keys %s", where, strings.Join(qualityKeys[:], ", "))
		return Quality{}, false
	}
	var v [8]float32
	for i, k := range qualityKeys {
		f, _, err := jsonNumber(m[k])
		if err != nil {
			bad("%s.linkQuality.%s: %v; linkQuality ignored (give a number)", where, k, err)
			return Quality{}, false
		}
		v[i] = float32(f)
	}
	if sum := v[4] + v[5] + v[6] + v[7]; sum <= 0.99 || sum >= 1.01 {
		bad("%s.linkQuality: the weights sum to %.3f; ignored (make lat_weight+pdv_weight+plr_weight+per_weight = 1)", where, sum)
		return Quality{}, false
	}
	return Quality{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}, true
}

// parseLinks reads links.<ifname>, sorted by name as nlohmann::json orders
// an object. A link 1.14 would disable is kept, disabled.
func parseLinks(where string, raw json.RawMessage, bad func(string, ...any)) []Link {
	var m map[string]map[string]json.RawMessage
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		bad("%s.links: must be an object of interface name -> {mode, ipvPref, capacity, failoverTo, ...}", where)
		return nil
	}
	var links []Link
	for _, ifname := range slices.Sorted(maps.Keys(m)) {
		lw := where + ".links." + ifname
		j := m[ifname]
		l := Link{Name: ifname, Enabled: true, Mode: LinkSpare, userSpecified: true}
		get := func(key string) float64 {
			v, _, err := jsonNumber(j[key])
			if err != nil {
				bad("%s.%s: %v; using 0 (give a number)", lw, key, err)
			}
			return v
		}
		if v, ok, _ := jsonNumber(j["enabled"]); ok {
			l.Enabled = v != 0
		}
		l.Capacity = uint32(get("capacity"))
		l.MTU = uint16(get("mtu"))
		pref := get("ipvPref")
		_ = json.Unmarshal(j["failoverTo"], &l.FailoverTo)
		var mode string
		_ = json.Unmarshal(j["mode"], &mode)
		switch mode {
		case "", "spare":
		case "primary":
			l.Mode = LinkPrimary
		default:
			bad("%s.mode: unknown mode %q; using spare (use primary or spare)", lw, mode)
		}
		switch pref {
		case 0, 4, 6, 46, 64:
			l.IPvPref = uint8(pref)
		default:
			bad("%s.ipvPref: invalid value %v, link disabled (use 0, 4, 6, 46 or 64)", lw, pref)
			l.Enabled = false
		}
		if l.Mode == LinkSpare && l.FailoverTo != "" {
			bad("%s: a spare cannot have failoverTo, link disabled (make it \"mode\": \"primary\" or drop failoverTo)", lw)
			l.FailoverTo, l.Enabled = "", false
		}
		links = append(links, l)
	}
	return links
}

// jsonNumber reads a value as OSUtils::jsonInt/jsonDouble do: a number, a
// numeric string or a boolean. ok is false for an absent value.
func jsonNumber(raw json.RawMessage) (v float64, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return 0, false, err
	}
	switch x := x.(type) {
	case float64:
		return x, true, nil
	case bool:
		if x {
			return 1, true, nil
		}
		return 0, true, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false, fmt.Errorf("%q is not a number", x)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("%s is not a number", raw)
}
