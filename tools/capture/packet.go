package capture

import (
	"bytes"
	"fmt"

	"github.com/gopacket/gopacket"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
	"github.com/ztgo/ztgo/layer1-vl1/ztlayers"
)

// packet authenticates and decodes one whole packet (owned by the caller's
// record from here on) and counts it in exactly one of authenticated, no_key
// and failed.
func (d *Decoder) packet(rec *Record, raw []byte, datagrams [][]byte) {
	d.sum.Packets++
	p := wire.Packet(raw)
	rec.wire, rec.datagrams = p, datagrams
	var h ztlayers.Packet
	if err := h.DecodeFromBytes(raw, gopacket.NilDecodeFeedback); err != nil {
		rec.Verdict, rec.Err = VerdictBad, err.Error() // reassembled too short
		d.sum.Failed++
		return
	}
	header(rec, &h)

	// A clear-text envelope can be read before its MAC is checked. A HELLO
	// carries its sender's identity: use it to find the key, and keep it
	// only if the MAC then verifies.
	var clear ztlayers.Verb
	var clearErr error
	var claimed *identity.Identity
	if h.Cipher == wire.SuitePoly1305None {
		clearErr = clear.DecodeFromBytes(h.Payload, gopacket.NilDecodeFeedback)
		if hello, ok := clear.Message.(*wire.Hello); ok && clearErr == nil && hello.Identity.Address() == h.Source {
			claimed = hello.Identity
		}
	}

	if h.Cipher == wire.SuiteTrustedPath {
		// No MAC to check: readable, but not authenticated by anything.
		rec.Verdict = VerdictTrusted
		d.sum.NoKey++
		if err := d.decode(rec, clone(p), nil); err != nil {
			rec.Err = err.Error()
		}
		return
	}
	keys := d.keysFor(h.Source, h.Destination, claimed)
	if keys == nil {
		rec.Verdict = VerdictNoKey
		d.sum.NoKey++
		if h.Cipher == wire.SuitePoly1305None {
			rec.Verb, rec.HasVerb = clear.Verb, true
			if clearErr == nil {
				describe(rec, clear.Message)
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

// decode decodes a dearmored packet's envelope with the verb layer (which
// decompresses it), interprets it, and counts its verb.
func (d *Decoder) decode(rec *Record, plain wire.Packet, keys *wire.Keys) error {
	var v ztlayers.Verb
	err := v.DecodeFromBytes(plain[wire.HeaderLength:], gopacket.NilDecodeFeedback)
	rec.Verb, rec.HasVerb, rec.Compressed = v.Verb, true, v.Compressed
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	// The packet as its receiver sees it: the verb byte without the
	// compression flag, then the decompressed payload.
	full := wire.Packet(append(append(plain[:wire.IdxVerb:wire.IdxVerb], byte(v.Verb)|v.Unused), v.MessagePayload()...))
	rec.plain, rec.message = full, v.Message
	if err := d.interpret(rec, full, v.Message, keys); err != nil {
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
