package bond

// activeBackup is Bond::processActiveBackupTasks: choose the active path
// if there is none, keep a queue of eligible paths to fail over to (scored
// by preference, primary mode, failoverTo and quality), fail over when the
// active path is no longer eligible, and apply activeReselect.
func (b *Bond) activeBackup(now int64) {
	prev := b.abPath
	if b.abPath != NoPath && !b.paths[b.abPath].used {
		b.abPath = NoPath
	}
	if b.abPath == NoPath {
		b.chooseFirstActive()
	}
	if b.abPath == NoPath {
		return
	}
	// Forget queued paths that left or are no longer eligible.
	n := 0
	for _, i := range b.abQueue[:b.abQueueLen] {
		if b.paths[i].used && b.paths[i].eligible {
			b.abQueue[n] = i
			n++
		}
	}
	b.abQueueLen = n

	if b.userFailTo {
		b.scoreByInstructions()
	} else {
		b.scoreByPreference()
	}
	if b.abQueueLen == 0 {
		return
	}
	if !b.paths[b.abPath].eligible { // ReselectFailure is this alone
		b.dequeue(now)
	}
	if prev != b.abPath {
		b.lastABChange = now
	}
	if b.abQueueLen == 0 {
		return
	}
	active, next := &b.paths[b.abPath], &b.paths[b.abQueue[0]]
	switch b.t.Reselect {
	case ReselectAlways:
		if active.link.Mode != LinkPrimary && next.link.Mode == LinkPrimary {
			b.dequeue(now)
		}
	case ReselectBetter:
		if active.link.Mode != LinkPrimary && next.link.Mode == LinkPrimary && next.failoverScore > active.failoverScore {
			b.dequeue(now)
		}
	case ReselectOptimize:
		// Negotiated paths never exist in 1.14.1 (see ReceivedPathNegotiation).
		if now-b.lastABChange > trialPeriod {
			diff := next.failoverScore - active.failoverScore
			if diff > 0 && diff > int32(optimizeMinThreshold*active.relativeQuality) {
				b.dequeue(now)
			}
		}
	}
}

// chooseFirstActive picks the initial active path: the first eligible one,
// or with user links and a primary among them, the primary's path of the
// preferred address family (any of its paths if none is preferred).
func (b *Bond) chooseFirstActive() {
	if !b.userLinks || !b.userPrim {
		for i := range b.paths {
			if b.paths[i].used && b.paths[i].eligible {
				b.abPath = PathIndex(i)
				return
			}
		}
		return
	}
	nonPreferred := NoPath
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used || !s.eligible || s.link.Mode != LinkPrimary {
			continue
		}
		if s.preferred() {
			b.abPath = PathIndex(i)
			return
		}
		nonPreferred = PathIndex(i)
	}
	b.abPath = nonPreferred
}

// enqueue appends path i to the failover queue unless it is active or
// queued, and marks it bonded (as 1.14 does for queued paths only).
func (b *Bond) enqueue(i int) {
	if PathIndex(i) == b.abPath {
		return
	}
	for _, q := range b.abQueue[:b.abQueueLen] {
		if q == PathIndex(i) {
			return
		}
	}
	b.abQueue[b.abQueueLen] = PathIndex(i)
	b.abQueueLen++
	b.paths[i].bonded = true
	b.bondedIdx[0] = PathIndex(i)
}

func (b *Bond) dequeue(now int64) {
	if b.abQueueLen == 0 {
		return
	}
	b.abPath = b.abQueue[0]
	b.abQueueLen = copy(b.abQueue[:], b.abQueue[1:b.abQueueLen])
	b.lastABChange = now
	b.abChanges++
	for i := range b.paths {
		b.paths[i].packetsIn, b.paths[i].packets = 0, 0
	}
}

// scoreByPreference scores eligible paths when the user gave no failoverTo:
// preferred address family 500, primary link 1000 (unless optimizing),
// plus relative quality, and queues them in path order.
func (b *Bond) scoreByPreference() {
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used || !s.allowed() || !s.eligible {
			continue
		}
		var handicap int32
		if s.preferred() {
			handicap = handicapPreferred
		}
		if s.link.Mode == LinkPrimary && b.t.Reselect != ReselectOptimize {
			handicap = handicapPrimary
		}
		s.failoverScore = int32(s.relativeQuality + float32(handicap))
		b.enqueue(i)
	}
}

// scoreByInstructions scores paths when the user gave failoverTo: scores
// start from preference and primary mode (or quality), and the path a link
// fails over to inherits its score less 10 (less 11 if not preferred).
func (b *Bond) scoreByInstructions() {
	for i := range b.paths {
		if b.paths[i].used {
			b.paths[i].failoverScore = 0
		}
	}
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used || !s.allowed() || !s.eligible {
			continue
		}
		handicap := s.failoverScore
		if s.preferred() {
			handicap += handicapPreferred
		}
		if s.link.Mode == LinkPrimary {
			handicap += handicapPrimary
		}
		if s.failoverScore == 0 {
			if handicap != 0 {
				s.failoverScore = handicap
			} else {
				s.failoverScore = int32(s.relativeQuality * 255)
			}
		}
		if to := s.link.FailoverTo; to != "" {
			if l := b.t.link(to); l != nil {
				for j := range b.paths {
					o := &b.paths[j]
					if !o.used || o.link != l {
						continue
					}
					inherited := max(o.failoverScore, handicap-10)
					if !o.preferred() {
						inherited--
					}
					o.failoverScore = inherited
				}
			}
		}
		b.enqueue(i)
	}
}

// Rotate forces active-backup onto the next queued path
// (Bond::abForciblyRotateLink, POST /bond/rotate); false for other policies.
func (b *Bond) Rotate(now int64) bool {
	if b.t.Policy != PolicyActiveBackup {
		return false
	}
	b.dequeue(now)
	return true
}
