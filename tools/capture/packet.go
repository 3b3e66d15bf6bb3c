package capture

import (
	"bytes"
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// packet authenticates and decodes one whole packet (owned by the caller's
// record from here on) and counts it in exactly one of authenticated, no_key
// and failed.
func (d *Decoder) packet(rec *Record, p wire.Packet, datagrams [][]byte) {
	d.sum.Packets++
	rec.wire, rec.datagrams = p, datagrams
	rec.Source, rec.Destination, rec.PacketID = p.Source(), p.Destination(), p.ID()
	rec.Hops, rec.Cipher = p.Hops(), p.Cipher()

	// A HELLO carries its sender's identity in clear text: use it to find
	// the key, and keep it only if the MAC then verifies.
	var claimed *identity.Identity
	if p.Cipher() == wire.SuitePoly1305None && p.Verb() == wire.VerbHELLO {
		if h, err := wire.ParseHello(p.Payload()); err == nil && h.Identity.Address() == p.Source() {
			claimed = h.Identity
		}
	}

	if p.Cipher() == wire.SuiteTrustedPath {
		// No MAC to check: readable, but not authenticated by anything.
		rec.Verdict = VerdictTrusted
		d.sum.NoKey++
		if err := d.decode(rec, clone(p), nil); err != nil {
			rec.Err = err.Error()
		}
		return
	}
	keys := d.keysFor(p.Source(), p.Destination(), claimed)
	if keys == nil {
		rec.Verdict = VerdictNoKey
		d.sum.NoKey++
		if p.Cipher() == wire.SuitePoly1305None {
			rec.Verb, rec.HasVerb = p.Verb(), true
			if msg, err := wire.ParsePayload(p.Verb(), p.Payload()); err == nil {
				describe(rec, msg)
			}
		}
		return
	}
	rec.keys = keys
	plain := clone(p)
	iv, err := wire.Dearmor(plain, keys)
	if err != nil {
		rec.Verdict, rec.Err = VerdictBad, err.Error()
		d.sum.Failed++
		return
	}
	rec.Verdict, rec.iv = VerdictOK, iv
	if claimed != nil {
		d.learn(claimed)
	}
	if err := d.decode(rec, plain, keys); err != nil {
		rec.Err = err.Error()
		d.sum.Failed++
		return
	}
	d.sum.Authenticated++
}

func clone(p wire.Packet) wire.Packet { return wire.Packet(bytes.Clone(p)) }

// decode decompresses, parses and interprets a dearmored packet, and counts
// its verb.
func (d *Decoder) decode(rec *Record, plain wire.Packet, keys *wire.Keys) error {
	rec.Verb, rec.HasVerb, rec.Compressed = plain.Verb(), true, plain.Compressed()
	full, err := wire.Decompress(nil, plain)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	rec.plain = full
	msg, err := wire.ParsePayload(full.Verb(), full.Payload())
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	rec.message = msg
	if err := d.interpret(rec, full, msg, keys); err != nil {
		return err
	}
	d.sum.Verbs[rec.Verb.String()]++
	return nil
}

// interpret applies what a verb teaches (identities) and describes it.
func (d *Decoder) interpret(rec *Record, p wire.Packet, msg wire.Message, keys *wire.Keys) error {
	switch m := msg.(type) {
	case *wire.Hello:
		if m.MoonSection > 0 && keys != nil {
			wire.CryptField(p, keys, wire.IdxPayload+m.MoonSection)
			if err := m.DecodeMoons(p.Payload()[m.MoonSection:]); err != nil {
				return err
			}
		}
		if err := d.validate(m.Identity); err != nil {
			return fmt.Errorf("HELLO identity %s: %w", m.Identity.Address(), err)
		}
		d.learn(m.Identity)
	case *wire.OK:
		if h, ok := m.Reply.(*wire.OKHello); ok {
			if err := d.worlds(rec, h.Worlds); err != nil {
				return err
			}
		}
		if w, ok := m.Reply.(*wire.OKWhois); ok {
			for _, id := range w.Identities {
				if err := d.validate(id); err != nil {
					return fmt.Errorf("WHOIS identity %s: %w", id.Address(), err)
				}
				d.learn(id)
			}
		}
	}
	describe(rec, msg)
	return nil
}

// worlds decodes the worlds an OK(HELLO) carries, learns their roots and
// notes them on the record.
func (d *Decoder) worlds(rec *Record, b []byte) error {
	for len(b) > 0 {
		w, n, err := world.Decode(b)
		if err != nil {
			return err
		}
		b = b[n:]
		for _, r := range w.Roots {
			d.learn(r.Identity)
		}
		rec.Worlds = append(rec.Worlds, fmt.Sprintf("%s %d@%d (%d roots)", w.Type, w.ID, w.Timestamp, len(w.Roots)))
	}
	return nil
}

// AddWorld learns the root identities of a world (e.g. a node's planet).
func (d *Decoder) AddWorld(w *world.World) {
	for _, r := range w.Roots {
		d.learn(r.Identity)
	}
}

// validate runs (and caches) the proof of work on an identity.
func (d *Decoder) validate(id *identity.Identity) error {
	key := id.String()
	if err, ok := d.validated[key]; ok {
		return err
	}
	err := id.Validate()
	d.validated[key] = err
	return err
}

// learn records a public identity; a different key for a known address is
// ignored (the first one seen wins, as a node would refuse the collision).
func (d *Decoder) learn(id *identity.Identity) {
	if old, ok := d.known[id.Address()]; ok && !old.Equal(id) {
		return
	}
	if _, ok := d.known[id.Address()]; !ok {
		d.known[id.Address()] = id.Public()
	}
}

// keysFor derives the key of a pair if one side's secret and the other's
// identity are known. claimed is an identity the packet itself presents.
func (d *Decoder) keysFor(src, dst identity.Address, claimed *identity.Identity) *wire.Keys {
	pair := [2]identity.Address{min(src, dst), max(src, dst)}
	if k, ok := d.keys[pair]; ok && claimed == nil {
		return k
	}
	peerOf := func(a identity.Address) *identity.Identity {
		if claimed != nil && claimed.Address() == a {
			return claimed
		}
		return d.known[a]
	}
	for _, side := range [][2]identity.Address{{dst, src}, {src, dst}} {
		local, ok := d.secrets[side[0]]
		if !ok {
			continue
		}
		peer := peerOf(side[1])
		if peer == nil {
			continue
		}
		k, err := wire.KeysBetween(local, peer)
		if err != nil {
			return nil
		}
		if claimed == nil || d.known[side[1]] != nil && d.known[side[1]].Equal(claimed) {
			d.keys[pair] = k
		}
		return k
	}
	return nil
}
