package vl1_test

import (
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
)

// TestPlanetUpdateFromRoot: a root with a newer, properly signed planet
// hands it to nodes in OK(HELLO), and they adopt it.
func TestPlanetUpdateFromRoot(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{NewerRootPlanet: true})
	a := h.Add("a", 0)
	if !h.RunUntil(func() bool { p, _ := a.Worlds(); return p.Timestamp == h.RootPlanet.Timestamp }, 30*time.Second) {
		t.Fatalf("planet not updated: have %d, root has %d", func() uint64 { p, _ := a.Worlds(); return p.Timestamp }(), h.RootPlanet.Timestamp)
	}
}

// TestOrbitMoonThroughSeed: a node told only the moon's ID and a seed gets
// the moon from the seed's OK(HELLO), and its root becomes an upstream.
func TestOrbitMoonThroughSeed(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{RootMoon: true})
	a := h.Add("a", 0)
	h.RunUntil(func() bool { return a.Status().Online }, 15*time.Second)
	a.Orbit(h.Moon.ID, h.Roots[0].Address(), nil)
	if !h.RunUntil(func() bool { _, ms := a.Worlds(); return len(ms) == 1 }, 5*time.Minute) {
		t.Fatalf("moon not received:\n%s", h.Describe())
	}
	p, _ := a.Peer(h.Roots[0].Address())
	if p.Role != "MOON" {
		t.Fatalf("root's role %s, want MOON", p.Role)
	}
	a.Deorbit(h.Moon.ID)
	if _, ms := a.Worlds(); len(ms) != 0 {
		t.Fatal("still orbiting")
	}
}

// TestMoonFromSeedMustBeSigned (issue 11, low): the first copy of a moon
// comes from its seed and fixes the key later updates need; one whose own
// signature does not verify is refused.
func TestMoonFromSeedMustBeSigned(t *testing.T) {
	h := vl1test.New(t, vl1test.Options{RootMoon: true})
	h.Moon.Timestamp++ // the root now hands out a moon its signature no longer covers
	a := h.Add("a", 0)
	h.RunUntil(func() bool { return a.Status().Online }, 15*time.Second)
	a.Orbit(h.Moon.ID, h.Roots[0].Address(), nil)
	h.RunFor(2 * time.Minute)
	if _, ms := a.Worlds(); len(ms) != 0 {
		t.Fatal("a moon with a broken signature was taken from its seed")
	}
}
