package bond

// ActionKind is something the bond asks the engine to send.
type ActionKind uint8

const (
	// SendEcho: an ECHO on the path, encrypted as usual, with its reply
	// expected: the bond's heartbeat, due when nothing was heard on the
	// path for failoverInterval/3 (failoverInterval once it is dead). Like
	// 1.14 the engine sends it only to peers of protocol ≥ 5 other than
	// 1.1.0, and calls Sent for it.
	SendEcho ActionKind = iota + 1
	// SendQoS: a QOS_MEASUREMENT on the path; its payload is AppendQoS's,
	// armored with wire.MultipathSuite.
	SendQoS
)

func (k ActionKind) String() string {
	switch k {
	case SendEcho:
		return "ECHO"
	case SendQoS:
		return "QOS_MEASUREMENT"
	}
	return "none"
}

// Action is one packet to send on one path.
type Action struct {
	Kind ActionKind
	Path PathIndex
	To   PathKey
}

// Tick runs the bond's timers (Bond::processBackgroundBondTasks) and
// appends the packets due to acts. The engine calls it from its timer loop
// at least every failoverInterval/3 (1.14 runs it every 60 ms; more often
// than that does nothing). No allocation when acts has room.
func (b *Bond) Tick(now int64, acts []Action) []Action {
	if now-b.lastBGTask < backgroundTaskMinInterval {
		return acts
	}
	b.lastBGTask = now
	b.curate(now, false)
	if now-b.lastQuality > b.failoverInterval*2 { // _qualityEstimationInterval
		b.lastQuality = now
		b.estimateQuality(now)
	}
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used || !s.allowed() {
			continue
		}
		wait := b.failoverInterval
		if s.alive {
			wait = b.monitorInterval
		}
		if b.monitorInterval > 0 && now-s.lastIn >= wait {
			acts = append(acts, Action{Kind: SendEcho, Path: PathIndex(i), To: s.key})
			s.lastOut = now
		}
		if b.qosDue(now, s) {
			acts = append(acts, Action{Kind: SendQoS, Path: PathIndex(i), To: s.key})
		}
	}
	switch b.t.Policy {
	case PolicyActiveBackup:
		b.activeBackup(now)
	case PolicyBalanceRR, PolicyBalanceXOR, PolicyBalanceAware:
		b.balance(now)
	}
	return acts
}
