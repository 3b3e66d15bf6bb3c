package vl2wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// bigConfig is a real config whose dictionary (about 25 KB) needs three
// chunks: 1024 IPv6 source rules and 20 IPv6 routes via a gateway.
func bigConfig(t *testing.T) (*NetworkConfig, []byte) {
	c := fullConfig(t)
	c.Rules = nil
	for i := range MaxNetworkRules {
		c.Rules = append(c.Rules, 0x21, 17, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, byte(i>>8)|0x80, byte(i)|1, 128)
	}
	c.Routes = nil
	for i := range 20 {
		c.Routes = append(c.Routes, Route{Target: netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 1, byte(i)}), 24),
			Via: netip.MustParseAddr("fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f")})
	}
	dict := c.Dictionary().Append(nil)
	if len(dict) < 24000 || len(dict) > 26000 {
		t.Fatalf("config of %d bytes", len(dict))
	}
	return c, dict
}

// wireChunks signs dict into chunks and passes each through its payload
// encoding, as a receiver sees them.
func wireChunks(t *testing.T, dict []byte, updateID uint64, signer *identity.Identity) []*ConfigChunk {
	t.Helper()
	cs, err := ConfigChunks(labNetwork, dict, updateID, signer)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*ConfigChunk, len(cs))
	for i, c := range cs {
		if c.Flags != 0 || c.UpdateID == 0 || c.TotalLength != uint32(len(dict)) || int(c.Offset) != i*MaxConfigChunk ||
			len(c.Chunk) > MaxConfigChunk || c.UpdateID != cs[0].UpdateID {
			t.Fatalf("chunk %d: %+v", i, c)
		}
		back, err := ParseConfigChunk(c.AppendPayload(nil))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = back
	}
	return out
}

func TestConfigChunksReassembly(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	c, dict := bigConfig(t)
	chunks := wireChunks(t, dict, 0x1122334455667788, ctl)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks", len(chunks))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	orders := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 1, 0, 2, 2}, {2, 0, 0, 2, 1}}
	for range 4 {
		o := []int{0, 1, 2, rng.IntN(3), rng.IntN(3)}
		rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
		orders = append(orders, o)
	}
	for _, order := range orders {
		a := NewConfigAssembler()
		completions := 0
		for i, k := range order {
			got, done, err := a.Add(chunks[k], ctl, false)
			if err != nil {
				t.Fatalf("order %v step %d: %v", order, i, err)
			}
			if done {
				completions++
				if !bytes.Equal(got, dict) {
					t.Fatalf("order %v: reassembled dictionary differs", order)
				}
				back, err := ParseNetworkConfigBytes(got)
				if err != nil || back.Name != c.Name || !bytes.Equal(back.Rules, c.Rules) || len(back.Routes) != len(c.Routes) {
					t.Fatalf("order %v: config %v", order, err)
				}
			}
		}
		if completions != 1 {
			t.Errorf("order %v: completed %d times", order, completions)
		}
	}
}

func TestConfigAssemblerRejects(t *testing.T) {
	ctl, za := loadIdentity(t, "controller"), loadIdentity(t, "za")
	_, dict := bigConfig(t)
	chunks := wireChunks(t, dict, 42, ctl)

	forged := *chunks[1]
	forged.Chunk = bytes.Clone(forged.Chunk)
	forged.Chunk[100] ^= 1
	byMember := wireChunks(t, dict, 42, za)[1] // signed by someone else
	otherType := *chunks[1]
	otherType.SignatureType = 2
	beyond := *chunks[2]
	beyond.Offset = beyond.TotalLength - 1
	huge := *chunks[0]
	huge.TotalLength = NetworkConfigCapacity
	otherNet := *chunks[0]
	otherNet.NetworkID = 0x1111111111000001

	a := NewConfigAssembler()
	if _, done, err := a.Add(chunks[0], ctl, true); err != nil || done {
		t.Fatal(done, err)
	}
	for name, c := range map[string]struct {
		chunk *ConfigChunk
		ctl   *identity.Identity
	}{
		"forged bytes":         {&forged, ctl},
		"signed by a member":   {byMember, ctl},
		"signature type 2":     {&otherType, ctl},
		"beyond the total":     {&beyond, ctl},
		"total too large":      {&huge, ctl},
		"unknown controller":   {chunks[1], nil},
		"wrong controller":     {chunks[1], za},
		"other network":        {&otherNet, ctl},
		"legacy from a member": {&ConfigChunk{NetworkID: labNetwork, Chunk: dict[:10], Legacy: true}, ctl},
	} {
		if _, done, err := a.Add(c.chunk, c.ctl, false); !errors.Is(err, ErrChunkRejected) || done {
			t.Errorf("%s: %v %v", name, done, err)
		}
	}
	// The genuine chunks still complete the update.
	a.Add(chunks[1], ctl, true)
	if got, done, err := a.Add(chunks[2], ctl, true); !done || err != nil || !bytes.Equal(got, dict) {
		t.Fatalf("genuine chunks after forgeries: %v %v", done, err)
	}
	// Once complete, further chunks of the update are ignored.
	if got, done, err := a.Add(chunks[2], ctl, true); got != nil || done || err != nil {
		t.Error("duplicate after completion")
	}
	// Legacy chunks from the controller are a whole config.
	legacy := &ConfigChunk{NetworkID: labNetwork, Chunk: dict[:100], Legacy: true}
	if got, done, err := a.Add(legacy, nil, true); !done || err != nil || !bytes.Equal(got, dict[:100]) {
		t.Errorf("legacy: %v %v", done, err)
	}
}

// TestConfigAssemblerSlots: three updates in flight at once; a fourth
// evicts the least recently used.
func TestConfigAssemblerSlots(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	_, dict := bigConfig(t)
	var updates [4][]*ConfigChunk
	for i := range updates {
		updates[i] = wireChunks(t, dict, uint64(i+1), ctl)
	}
	a := NewConfigAssembler()
	for i := range 3 {
		a.Add(updates[i][0], ctl, true)
	}
	a.Add(updates[0][1], ctl, true) // update 1 is now the most recent
	a.Add(updates[3][0], ctl, true) // evicts update 2
	a.Add(updates[1][1], ctl, true) // update 2 starts over (evicting 3)
	if _, done, _ := a.Add(updates[1][2], ctl, true); done {
		t.Error("evicted update completed")
	}
	if _, done, _ := a.Add(updates[0][2], ctl, true); !done {
		t.Error("update 1 did not complete")
	}
	a.Add(updates[3][1], ctl, true)
	if _, done, _ := a.Add(updates[3][2], ctl, true); !done {
		t.Error("update 4 did not complete")
	}
}

func TestConfigChunksLimits(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	if _, err := ConfigChunks(labNetwork, nil, 1, ctl); err == nil {
		t.Error("empty dictionary")
	}
	if _, err := ConfigChunks(labNetwork, make([]byte, NetworkConfigCapacity), 1, ctl); err == nil {
		t.Error("dictionary at capacity")
	}
	cs, err := ConfigChunks(labNetwork, []byte("v=7"), 0, ctl)
	if err != nil || len(cs) != 1 || cs[0].UpdateID == 0 || !cs[0].Verify(ctl) {
		t.Errorf("one chunk: %v %+v", err, cs)
	}
}
