package bond

// curate is Bond::curateBond: it decides each path's aliveness and
// eligibility, drops paths ineligible for too long, and for the balance
// policies rebuilds the set of bonded paths when eligibility changed.
func (b *Bond) curate(now int64, rebuild bool) {
	alive, total := 0, 0
	for i := range b.paths {
		s := &b.paths[i]
		if !s.used {
			continue
		}
		inTrial := now-s.whenNominated < trialPeriod
		if now-s.lastEligibility > expiredPathTrialPeriod && !inTrial {
			// Unlike 1.14, which leaves the balance policies pointing at
			// the emptied slot until the next rebuild, rebuild now.
			b.paths[i] = slot{}
			rebuild = true
			continue
		}
		total++
		if s.eligible { // as 1.14: counted before this round's update
			alive++
		}
		// A bond exists only for leaves (roots get policy none), so 1.14's
		// leaf rules apply throughout.
		s.alive = now-s.lastIn < b.failoverInterval
		acceptableAge := now-s.lastIn < b.failoverInterval+int64(b.t.DownDelay)
		upDelayDone := now-s.lastAliveToggle >= int64(b.t.UpDelay)
		qosAgeOK := (s.lastQoSReceived == 0 && inTrial) || now-s.lastQoSReceived < expiredPathTrialPeriod
		if b.t.Policy == PolicyActiveBackup {
			qosAgeOK = true
		}
		eligible := s.allowed() && ((acceptableAge && upDelayDone && qosAgeOK) || inTrial)
		if eligible {
			s.lastEligibility = now
		}
		if eligible != s.eligible {
			if eligible {
				rebuild = true
			} else {
				s.adjustRefractory(now, true)
				if s.bonded {
					rebuild, s.avoid, s.bonded = true, true, false
				}
			}
		}
		if eligible {
			s.adjustRefractory(now, false)
		}
		s.eligible = eligible
	}
	b.numAlive, b.numTotal = alive, total

	usablePrimary := false
	for i := range b.paths {
		if s := &b.paths[i]; s.used && s.bonded && s.alive {
			usablePrimary = true
		}
	}
	rebuild = rebuild || !usablePrimary

	switch b.t.Policy {
	case PolicyBalanceRR, PolicyBalanceXOR, PolicyBalanceAware:
		if b.numBonded == 0 || rebuild {
			b.rebuildBalanced(usablePrimary)
		}
	case PolicyActiveBackup:
		n := 0
		for i := range b.paths {
			if b.paths[i].used && b.paths[i].bonded {
				n++
			}
		}
		b.numBonded = n
	}
}

// rebuildBalanced picks, link by link, the paths the balance policies
// spread traffic over: spares only when no bonded path is alive, then the
// eligible paths of each link by its ipvPref.
func (b *Bond) rebuildBalanced(usablePrimary bool) {
	for i := range b.paths {
		b.bondedIdx[i] = NoPath
		b.paths[i].bonded = false
	}
	n := 0
	add := func(i int) {
		b.bondedIdx[n] = PathIndex(i)
		b.paths[i].bonded = true
		n++
	}
	// Links in a stable order (1.14 walks a std::map keyed by pointer).
	var seen [MaxPaths]*Link
	for i := range b.paths {
		l := b.paths[i].link
		if !b.paths[i].used || containsLink(seen[:], l) {
			continue
		}
		seen[i] = l
		ok := func(j int) bool {
			s := &b.paths[j]
			return s.used && s.link == l && s.eligible
		}
		if !usablePrimary {
			for j := range b.paths {
				if ok(j) && b.paths[j].allowed() && b.paths[j].spare() {
					add(j)
				}
			}
		}
		switch l.IPvPref {
		case 0, 4, 6:
			for j := range b.paths {
				if ok(j) && b.paths[j].allowed() && !b.paths[j].spare() {
					add(j)
				}
			}
		case 46, 64:
			found := false
			for j := range b.paths {
				if ok(j) && b.paths[j].allowed() && !b.paths[j].spare() && b.paths[j].preferred() {
					add(j)
					found = true
				}
			}
			if !found {
				for j := range b.paths {
					if ok(j) && !b.paths[j].spare() {
						add(j)
					}
				}
			}
		}
	}
	b.numBonded = n
	if b.t.Policy == PolicyBalanceRR {
		b.rrSentOnLink, b.rrIdx = b.packetsPerLink, 0
	}
}

func containsLink(ls []*Link, l *Link) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}
