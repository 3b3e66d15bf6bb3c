package bond

import (
	"strings"
	"testing"
)

func TestPolicyCodesAndNames(t *testing.T) {
	// Bond.hpp: ZT_BOND_POLICY_* and getPolicyStrByCode.
	want := map[Policy]string{0: "none", 1: "active-backup", 2: "broadcast", 3: "balance-rr", 4: "balance-xor", 5: "balance-aware"}
	for p, name := range want {
		if p.String() != name || (p != PolicyNone && PolicyByName(name) != p) {
			t.Errorf("%d: %q / %d", p, p.String(), PolicyByName(name))
		}
	}
	if PolicyByName("active_backup") != PolicyNone || Policy(9).String() != "none" {
		t.Error("unknown names and codes are none")
	}
	for r, name := range []string{"always", "better", "failure", "optimize"} {
		if Reselect(r).String() != name {
			t.Errorf("reselect %d is %q", r, Reselect(r))
		}
	}
}

func TestParseSettingsCustomPolicy(t *testing.T) {
	c, err := ParseSettings([]byte(`{
		"defaultBondingPolicy": "my-ab",
		"policies": {
			"my-ab": {
				"basePolicy": "active-backup",
				"failoverInterval": 1000, "upDelay": 200, "downDelay": "300",
				"activeReselect": "failure", "packetsPerLink": 8,
				"linkQuality": {"lat_max": 400, "pdv_max": 50, "plr_max": 0.01, "per_max": 0.1,
					"lat_weight": 0.5, "pdv_weight": 0.2, "plr_weight": 0.2, "per_weight": 0.1},
				"links": {
					"eth0": {"mode": "primary", "ipvPref": 46, "capacity": 1000, "failoverTo": "wlan0"},
					"wlan0": {"capacity": 100, "enabled": true}
				}
			}
		},
		"peerSpecificBonds": {"89e92ceee5": "balance-xor"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	tp := c.Policies["my-ab"]
	if !c.InUse() || tp == nil || c.TemplateFor(1) != tp {
		t.Fatalf("default policy not the custom one: %+v", c)
	}
	if tp.Policy != PolicyActiveBackup || tp.FailoverInterval != 1000 || tp.UpDelay != 200 || tp.DownDelay != 300 ||
		tp.Reselect != ReselectFailure || tp.PacketsPerLink != 8 {
		t.Errorf("template %+v", tp)
	}
	if q := tp.Quality; q.LatMax != 400 || q.LatWeight != 0.5 || q.PerWeight != 0.1 {
		t.Errorf("quality %+v", q)
	}
	if len(tp.Links) != 2 || tp.Links[0].Name != "eth0" || tp.Links[0].Mode != LinkPrimary || tp.Links[0].IPvPref != 46 ||
		tp.Links[0].FailoverTo != "wlan0" || tp.Links[1].Mode != LinkSpare || tp.Links[1].Capacity != 100 {
		t.Errorf("links %+v", tp.Links)
	}
	if got := c.TemplateFor(0x89e92ceee5); got == nil || got.Policy != PolicyBalanceXOR || got.FailoverInterval != 5000 {
		t.Errorf("peer-specific standard policy: %+v", got)
	}
}

func TestParseSettingsDefaults(t *testing.T) {
	c, err := ParseSettings([]byte(`{"defaultBondingPolicy": "balance-rr", "policies": {"p": {"basePolicy": "balance-aware"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	st := c.TemplateFor(7)
	if st.Policy != PolicyBalanceRR || st.FailoverInterval != 5000 || st.PacketsPerLink != 64 || st.Quality != DefaultQuality {
		t.Errorf("standard template %+v", st)
	}
	p := c.Policies["p"]
	if p.FailoverInterval != 5000 || p.UpDelay != 0 || p.DownDelay != 0 || p.Reselect != ReselectAlways || p.Links != nil {
		t.Errorf("custom defaults %+v", p)
	}
	if off, _ := ParseSettings([]byte(`{"primaryPort": 9993}`)); off.InUse() || off.TemplateFor(1) != nil {
		t.Error("bonding on without its keys")
	}
}

// TestParseSettingsErrors: every bad value gives one line naming the key,
// what is wrong and what to write; the rest of the config still applies.
func TestParseSettingsErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"defaultBondingPolicy": "fastest"}`, `defaultBondingPolicy: unknown policy "fastest"`},
		{`{"defaultBondingPolicy": 3}`, `defaultBondingPolicy must be a string`},
		{`{"policies": {"x": {}}}`, `policies.x: no basePolicy`},
		{`{"policies": {"x": {"basePolicy": "round-robin"}}}`, `unknown basePolicy "round-robin"`},
		{`{"policies": {"balance-rr": {"basePolicy": "balance-rr"}}}`, `cannot take a standard policy's name`},
		{`{"policies": {"x": {"basePolicy": "balance-rr", "failoverInterval": 100}}}`, `failoverInterval: 100 ms is below the minimum`},
		{`{"policies": {"x": {"basePolicy": "balance-rr", "upDelay": -5}}}`, `upDelay: -5 is out of range`},
		{`{"policies": {"x": {"basePolicy": "balance-rr", "packetsPerLink": "many"}}}`, `packetsPerLink: "many" is not a number`},
		{`{"policies": {"x": {"basePolicy": "active-backup", "activeReselect": "sometimes"}}}`, `activeReselect: unknown value "sometimes"`},
		{`{"policies": {"x": {"basePolicy": "balance-rr", "linkQuality": {"lat_max": 1}}}}`, `linkQuality: ignored; it needs exactly the keys`},
		{`{"policies": {"x": {"basePolicy": "balance-rr", "linkQuality": {"lat_max": 1, "pdv_max": 1, "plr_max": 1, "per_max": 1,
			"lat_weight": 0.5, "pdv_weight": 0.5, "plr_weight": 0.5, "per_weight": 0.5}}}}`, `weights sum to 2.000`},
		{`{"policies": {"x": {"basePolicy": "active-backup", "links": {"eth0": {"ipvPref": 5}}}}}`, `links.eth0.ipvPref: invalid value 5, link disabled`},
		{`{"policies": {"x": {"basePolicy": "active-backup", "links": {"eth0": {"failoverTo": "eth1"}}}}}`, `a spare cannot have failoverTo`},
		{`{"policies": {"x": {"basePolicy": "active-backup", "links": {"eth0": {"mode": "main"}}}}}`, `mode: unknown mode "main"`},
		{`{"peerSpecificBonds": {"zzz": "x"}}`, `peerSpecificBonds: "zzz": want a 10-digit hex peer address`},
		{`{"peerSpecificBonds": {"0102030405": "nope"}}`, `unknown policy "nope"`},
		{`{"policies": []}`, `bonding keys`},
	} {
		cfg, err := ParseSettings([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", c.json, err, c.want)
			continue
		}
		if cfg == nil {
			t.Errorf("%s: no config", c.json)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.Contains(line, "settings") { // every line names the key
				t.Errorf("%s: line without its key: %s", c.json, line)
			}
		}
	}
	// A disabled link is kept, disabled; a clamped interval is applied.
	cfg, _ := ParseSettings([]byte(`{"policies": {"x": {"basePolicy": "active-backup", "failoverInterval": 10,
		"links": {"eth0": {"ipvPref": 5}}}}}`))
	if x := cfg.Policies["x"]; x.FailoverInterval != 500 || len(x.Links) != 1 || x.Links[0].Enabled {
		t.Errorf("%+v", x)
	}
}
