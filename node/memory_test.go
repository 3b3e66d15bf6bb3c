package node

import "testing"

func TestTrafficStop(t *testing.T) {
	w := trafficStop{last: 100}
	for i, c := range []struct {
		count uint64
		want  bool
	}{
		{150, false},                        // idle: keepalives only
		{250, false},                        // still idle
		{250 + busyDatagrams, false},        // a burst
		{250 + 5*busyDatagrams, false},      // still busy
		{250 + 5*busyDatagrams + 10, true},  // stopped: return memory once
		{250 + 5*busyDatagrams + 20, false}, // and not again while quiet
		{250 + 7*busyDatagrams, false},
		{250 + 7*busyDatagrams, true},
	} {
		if got := w.stopped(c.count); got != c.want {
			t.Fatalf("step %d (count %d): stopped %v, want %v", i, c.count, got, c.want)
		}
	}
}
