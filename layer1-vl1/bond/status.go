package bond

// Status is what 1.14 adds to a bonded peer's /peer and /bond/show object
// (OneService's _peerToJson, service-api.md §10): the engine merges it into
// the peer's JSON and each PathStatus into the path object of the same
// address.
type Status struct {
	IsBonded         bool   `json:"isBonded"`
	PolicyCode       int    `json:"bondingPolicyCode"`
	PolicyStr        string `json:"bondingPolicyStr"`
	NumAliveLinks    int    `json:"numAliveLinks"`
	NumTotalLinks    int    `json:"numTotalLinks"`
	FailoverInterval uint32 `json:"failoverInterval"`
	DownDelay        uint16 `json:"downDelay"` // 1.14's getters return 16 bits
	UpDelay          uint16 `json:"upDelay"`
	PacketsPerLink   int    `json:"packetsPerLink"`
	// ActiveChanges counts active-backup's fail-overs: each time a queued
	// path became the active one (a failure, a reselection or a rotate).
	// ztgo_bond_failovers_total; 1.14.1 keeps no such count.
	ActiveChanges uint64 `json:"-"`

	Paths []PathStatus `json:"-"`
}

// PathStatus is the bond's part of one path object.
type PathStatus struct {
	Key               PathKey `json:"-"`
	Ifname            string  `json:"ifname"`
	LatencyMean       float32 `json:"latencyMean"`
	LatencyVariance   float32 `json:"latencyVariance"` // 1.14 reports the standard deviation here
	PacketLossRatio   float32 `json:"packetLossRatio"`
	PacketErrorRatio  float32 `json:"packetErrorRatio"`
	AssignedFlowCount uint16  `json:"assignedFlowCount"`
	LastInAge         int64   `json:"lastInAge"`
	LastOutAge        int64   `json:"lastOutAge"`
	Bonded            bool    `json:"bonded"`
	Eligible          bool    `json:"eligible"`
	GivenLinkSpeed    uint32  `json:"givenLinkSpeed"`
	RelativeQuality   float32 `json:"relativeQuality"`
}

// Status snapshots the bond; it allocates the path list.
func (b *Bond) Status(now int64) Status {
	st := Status{IsBonded: true, PolicyCode: int(b.t.Policy), PolicyStr: b.t.Policy.String(),
		NumAliveLinks: b.numAlive, NumTotalLinks: b.numTotal, FailoverInterval: uint32(b.failoverInterval),
		DownDelay: uint16(b.t.DownDelay), UpDelay: uint16(b.t.UpDelay), PacketsPerLink: b.packetsPerLink,
		ActiveChanges: b.abChanges}
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used {
			continue
		}
		st.Paths = append(st.Paths, PathStatus{Key: s.key, Ifname: s.key.Link,
			LatencyMean: s.latency, LatencyVariance: s.latencyStddev,
			PacketLossRatio: s.lossRatio, PacketErrorRatio: s.errorRatio,
			AssignedFlowCount: s.assignedFlows, LastInAge: now - s.lastIn, LastOutAge: now - s.lastOut,
			Bonded: s.bonded, Eligible: s.eligible, GivenLinkSpeed: s.link.Capacity, RelativeQuality: s.relativeQuality})
	}
	return st
}
