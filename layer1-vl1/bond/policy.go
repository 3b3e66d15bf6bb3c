package bond

// Policy is a bonding policy, with ZeroTierOne's codes (ZT_BondBondingPolicy
// in node/Bond.hpp) and names (Bond::getPolicyStrByCode).
type Policy uint8

const (
	PolicyNone         Policy = 0
	PolicyActiveBackup Policy = 1
	PolicyBroadcast    Policy = 2
	PolicyBalanceRR    Policy = 3
	PolicyBalanceXOR   Policy = 4
	PolicyBalanceAware Policy = 5
)

var policyNames = [...]string{"none", "active-backup", "broadcast", "balance-rr", "balance-xor", "balance-aware"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "none"
}

// PolicyByName is Bond::getPolicyCodeByStr: PolicyNone for anything that is
// not one of the five names.
func PolicyByName(name string) Policy {
	for i, n := range policyNames {
		if i > 0 && n == name {
			return Policy(i)
		}
	}
	return PolicyNone
}

// flowHashing says whether the policy keeps flows on links.
func (p Policy) flowHashing() bool { return p == PolicyBalanceXOR || p == PolicyBalanceAware }

// Reselect is active-backup's activeReselect (ZT_BOND_RESELECTION_POLICY_*):
// when a primary link that is back takes over again.
type Reselect uint8

const (
	ReselectAlways   Reselect = 0 // a primary link takes over from a spare as soon as it is eligible
	ReselectBetter   Reselect = 1 // ... only if its failover score is higher
	ReselectFailure  Reselect = 2 // the active link stays until it fails
	ReselectOptimize Reselect = 3 // the best-scoring link takes over, at most every 15 s
)

var reselectNames = [...]string{"always", "better", "failure", "optimize"}

func (r Reselect) String() string {
	if int(r) < len(reselectNames) {
		return reselectNames[r]
	}
	return "always"
}

// LinkMode is a link's mode (ZT_BondLinkMode).
type LinkMode uint8

const (
	LinkPrimary LinkMode = 0
	LinkSpare   LinkMode = 1
)

func (m LinkMode) String() string {
	if m == LinkSpare {
		return "spare"
	}
	return "primary"
}

// Quality is a policy's linkQuality: the limits above which a path is
// avoided and the weights of the four measures in its relative quality.
// 1.14's defaults are in DefaultQuality (Bond::setBondParameters).
type Quality struct {
	LatMax, PdvMax, PlrMax, PerMax             float32 // lat_max, pdv_max (ms), plr_max, per_max (ratios)
	LatWeight, PdvWeight, PlrWeight, PerWeight float32 // lat_weight, ...; they sum to 1
}

// DefaultQuality is the link quality specification every policy starts with.
var DefaultQuality = Quality{LatMax: 500, PdvMax: 100, PlrMax: 0.001, PerMax: 0.0001,
	LatWeight: 0.25, PdvWeight: 0.25, PlrWeight: 0.25, PerWeight: 0.25}

// Link is one physical link of a policy: a local interface, as local.conf's
// settings.policies.<name>.links.<ifname> describes it. Links the user did
// not name are created on first sight as primaries with no preferences.
type Link struct {
	Name       string   // interface name
	IPvPref    uint8    // 0 (any), 4, 6, 46 (both, IPv4 preferred) or 64
	MTU        uint16   // 0: the path's own
	Capacity   uint32   // relative capacity (e.g. Mbit/s); 0: unknown
	Enabled    bool     // see spec/multipath.md: 1.14.1 reads it and never acts on it
	Mode       LinkMode // primary or spare
	FailoverTo string   // the link to fail over to (primaries only)

	userSpecified bool
}

// allows is NominatedPath::allowed: may a path to an IPv4 (or IPv6)
// address use this link.
func (l *Link) allows(v4 bool) bool {
	if !l.Enabled {
		return false
	}
	switch l.IPvPref {
	case 0:
		return true
	case 46, 64:
		return true
	case 4:
		return v4
	case 6:
		return !v4
	}
	return false
}

// prefers is the half of NominatedPath::preferred that depends on the link:
// the path's address family is the link's first choice.
func (l *Link) prefers(v4 bool) bool {
	return (v4 && (l.IPvPref == 4 || l.IPvPref == 46)) || (!v4 && (l.IPvPref == 6 || l.IPvPref == 64))
}

// Template is a policy as configured: a standard policy with defaults, or
// a custom one from settings.policies. Every peer's Bond is built from one.
type Template struct {
	Alias            string // the policy's name: a standard name or the custom one
	Policy           Policy
	FailoverInterval uint32 // ms; at least FailoverMinInterval
	UpDelay          uint32 // ms a path must have been alive before it is eligible
	DownDelay        uint32 // ms of silence beyond failoverInterval before it is not
	PacketsPerLink   int    // balance-rr: packets on one link before the next; 0: random link per packet
	Reselect         Reselect
	Quality          Quality
	Links            []Link // user-specified links, in local.conf's (sorted) order; none: every interface
}

// Defaults of Bond::setBondParameters and Constants.hpp.
const (
	FailoverDefaultInterval = 5000 // ZT_BOND_FAILOVER_DEFAULT_INTERVAL
	FailoverMinInterval     = 500  // ZT_BOND_FAILOVER_MIN_INTERVAL
	DefaultPacketsPerLink   = 64
)

// StandardTemplate is a standard policy with 1.14's defaults, as used when
// defaultBondingPolicy names one of the five.
func StandardTemplate(p Policy) *Template {
	return &Template{Alias: p.String(), Policy: p, FailoverInterval: FailoverDefaultInterval,
		PacketsPerLink: DefaultPacketsPerLink, Quality: DefaultQuality}
}

// link finds the user-specified link named name.
func (t *Template) link(name string) *Link {
	for i := range t.Links {
		if t.Links[i].Name == name {
			return &t.Links[i]
		}
	}
	return nil
}
