package vl2

import (
	crand "crypto/rand"
	"encoding/binary"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

func randomNonZero() uint64 {
	var b [8]byte
	for {
		crand.Read(b[:])
		if v := binary.BigEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// HandleVL2 implements vl1.Upper. It reports whether the packet was a
// trust-established one: traffic accepted on a network shared with the
// sender, or credentials accepted.
func (s *Switch) HandleVL2(in vl1.Inbound) bool {
	now := s.now()
	switch in.Verb {
	case wire.VerbFRAME:
		return s.handleFrame(now, in)
	case wire.VerbEXT_FRAME:
		return s.handleExtFrame(now, in)
	case wire.VerbMULTICAST_FRAME:
		return s.handleMulticastFrame(now, in)
	case wire.VerbMULTICAST_LIKE:
		s.handleLike(now, in)
	case wire.VerbMULTICAST_GATHER:
		return s.handleGather(now, in)
	case wire.VerbNETWORK_CREDENTIALS:
		return s.handleCredentials(now, in.From, in.Payload)
	case wire.VerbNETWORK_CONFIG_REQUEST:
		s.handleConfigRequest(in)
	case wire.VerbNETWORK_CONFIG:
		s.handleConfigPush(now, in)
	case wire.VerbOK:
		s.handleOK(now, in)
	case wire.VerbERROR:
		s.handleError(now, in)
	}
	return false
}

func (s *Switch) handleConfigRequest(in vl1.Inbound) {
	req, err := vl2wire.ParseNetworkConfigRequest(in.Payload)
	if err != nil {
		return
	}
	s.mu.Lock()
	c := s.controller
	s.mu.Unlock()
	if c == nil || vl2wire.ControllerOf(req.NetworkID) != s.addr {
		return // 1.14.1 stays silent for networks it does not control
	}
	id := s.link.PeerIdentity(in.From)
	if id == nil {
		return
	}
	md, err := vl2wire.ParseDictionary(req.Metadata)
	if err != nil {
		md = nil
	}
	c.HandleConfigRequest(ConfigRequest{From: id, PacketID: in.PacketID, NetworkID: req.NetworkID, Metadata: md})
}

func (s *Switch) handleConfigPush(now int64, in vl1.Inbound) {
	c, err := vl2wire.ParseConfigChunk(in.Payload)
	if err != nil {
		return
	}
	n := s.Network(c.NetworkID)
	if n == nil {
		return
	}
	if updateID, done := n.handleChunk(now, in.From, c); done {
		// 1.14.1 answers with in-re verb ECHO (vl2.md §8 quirk 1).
		body := make([]byte, 16)
		binary.BigEndian.PutUint64(body, c.NetworkID)
		binary.BigEndian.PutUint64(body[8:], updateID)
		ok := wire.OK{InReVerb: wire.VerbECHO, InReID: in.PacketID, Reply: &wire.Unknown{V: wire.VerbECHO, Data: body}}
		s.send(in.From, wire.VerbOK, ok.AppendPayload(nil), false)
	}
}

func (s *Switch) handleOK(now int64, in vl1.Inbound) {
	ok, err := wire.ParseOK(in.Payload)
	if err != nil {
		return
	}
	body := in.Payload[9:]
	switch ok.InReVerb {
	case wire.VerbNETWORK_CONFIG_REQUEST:
		c, err := vl2wire.ParseConfigChunk(body)
		if err != nil {
			return
		}
		if n := s.Network(c.NetworkID); n != nil {
			n.handleChunk(now, in.From, c)
		}
	case wire.VerbMULTICAST_GATHER:
		g, err := vl2wire.ParseOKMulticastGather(body)
		if err != nil {
			return
		}
		if n := s.Network(g.NetworkID); n != nil {
			n.learnMembers(now, g.Group, g.Members)
		}
	case wire.VerbMULTICAST_FRAME:
		f, err := vl2wire.ParseOKMulticastFrame(body)
		if err != nil {
			return
		}
		if n := s.Network(f.NetworkID); n != nil {
			if f.COM != nil {
				n.addCOM(now, in.From, f.COM)
			}
			if f.Flags&vl2wire.OKMulticastFlagGather != 0 {
				n.learnMembers(now, f.Group, f.Members)
			}
		}
	}
}

func (s *Switch) handleError(now int64, in vl1.Inbound) {
	e, err := wire.ParseError(in.Payload)
	if err != nil {
		return
	}
	body, err := vl2wire.ParseErrorBody(e.Code, e.Body)
	if err != nil {
		return
	}
	n := s.Network(body.NetworkID)
	if n == nil {
		return
	}
	switch e.Code {
	case wire.ErrorObjectNotFound, wire.ErrorUnsupportedOperation, wire.ErrorNetworkAccessDenied, wire.ErrorNetworkAuthRequired:
		if in.From == vl2wire.ControllerOf(body.NetworkID) && e.InReVerb == wire.VerbNETWORK_CONFIG_REQUEST && n.answeredRequest(e.InReID) {
			n.setFailure(now, e.Code)
		}
	case wire.ErrorNeedMembershipCert:
		n.peerRequestedCredentials(now, in.From)
	case wire.ErrorUnwantedMulticast:
		if n.gate(now, in.From) {
			n.forgetMember(body.Group, in.From)
		}
	}
}

// handleCredentials processes NETWORK_CREDENTIALS: at most one packet per
// second per sender, each credential offered to its network.
func (s *Switch) handleCredentials(now int64, from identity.Address, payload []byte) bool {
	if from != s.addr {
		s.mu.Lock()
		last, seen := s.credRate[from]
		if seen && now-last < 1000 {
			s.mu.Unlock()
			return false
		}
		s.credRate[from] = now
		s.mu.Unlock()
	}
	nc, err := vl2wire.ParseNetworkCredentials(payload)
	if err != nil {
		return false
	}
	caps, tags, revs, coos, err := nc.Decode()
	if err != nil {
		return false
	}
	accepted := false
	for _, c := range nc.COMs {
		if n := s.Network(c.NetworkID()); n != nil && n.addCOM(now, from, c) {
			accepted = true
		}
	}
	for _, c := range caps {
		if n := s.Network(c.NetworkID); n != nil && n.addCapability(c) {
			accepted = true
		}
	}
	for _, t := range tags {
		if n := s.Network(t.NetworkID); n != nil && n.addTag(t) {
			accepted = true
		}
	}
	for _, c := range coos {
		if n := s.Network(c.NetworkID); n != nil && n.addCOO(c) {
			accepted = true
		}
	}
	for _, r := range revs {
		if n := s.Network(r.NetworkID); n != nil && n.addRevocation(now, from, r) {
			accepted = true
		}
	}
	return accepted
}
