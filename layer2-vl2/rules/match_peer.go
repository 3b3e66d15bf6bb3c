package rules

import "net/netip"

// Matches that depend on the peers rather than on the frame alone:
// characteristics (sender authentication) and tags.

// characteristics builds the packet's characteristics bits.
func (e *evaluation) characteristics() uint64 {
	p := e.p
	f := p.Frame
	var cf uint64
	if p.Inbound {
		cf |= CharInbound
	}
	if p.DstMAC&macGroupBit != 0 {
		cf |= CharMulticast
	}
	if p.DstMAC&macMask == macBroadcast {
		cf |= CharBroadcast
	}
	cf |= e.senderAuth()
	// TCP reserved bits and NS (low nibble of byte 12) and flags (byte 13).
	tcp := -1
	switch {
	case e.isIPv4():
		if f[9] == 6 {
			tcp = ipv4HeaderLen(f) // the reference does not bounds-check: we do
		}
	case p.EtherType == etherTypeIPv6:
		if pos, proto, ok := ipv6Payload(f); ok && proto == 6 && len(f) > pos+14 {
			tcp = pos
		}
	}
	if tcp >= 0 {
		if tcp+12 < len(f) {
			cf |= uint64(f[tcp+12]&0x0f) << 8
		}
		if tcp+13 < len(f) {
			cf |= uint64(f[tcp+13])
		}
	}
	return cf
}

// senderAuth is the SENDER_IP/MAC_AUTHENTICATED bits, computed once per
// evaluation. The source IP is the IPv4/IPv6 source, the ARP sender
// protocol address, or an NDP advertisement's target; a neighbor
// solicitation is always IP-authenticated.
func (e *evaluation) senderAuth() uint64 {
	if e.authDone {
		return e.auth
	}
	e.authDone = true
	p := e.p
	f := p.Frame
	var src netip.Addr
	switch {
	case e.isIPv4():
		src = netip.AddrFrom4([4]byte(f[12:16]))
	case e.isIPv6():
		if len(f) >= 64 && f[6] == 0x3a && (f[40] == 135 || f[40] == 136) {
			if f[40] == 135 {
				e.auth |= CharSenderIPAuthenticated
			} else {
				src = netip.AddrFrom16([16]byte(f[48:64]))
			}
		} else {
			src = netip.AddrFrom16([16]byte(f[8:24]))
		}
	case p.EtherType == etherTypeARP && len(f) >= 28:
		src = netip.AddrFrom4([4]byte(f[14:18]))
	}
	if src.IsValid() && e.env.SenderIPAuthenticated(src) {
		e.auth |= CharSenderIPAuthenticated
	}
	if e.env.SenderMACAuthenticated(p.SrcMAC & macMask) {
		e.auth |= CharSenderMACAuthenticated
	}
	return e.auth
}

// tags compares our tag with the peer's. Without our tag the rule does not
// apply. Without the peer's: inbound (unless we are a TEE/REDIRECT target)
// it does not apply; otherwise it matches and the next DROP is skipped, so
// outbound checks stay lenient until the receiver's tag is known.
func (e *evaluation) tags(r *Rule, t Type) outcome {
	local, ok := e.env.LocalTag(r.TagID)
	if !ok {
		return hardNo
	}
	remote, ok := e.env.RemoteTag(r.TagID)
	if !ok {
		if e.p.Inbound && !e.superAccept {
			return hardNo
		}
		e.skipDrop = true
		return hardYes
	}
	switch t {
	case MatchTagsDifference:
		d := local - remote
		if remote > local {
			d = remote - local
		}
		return is(d <= r.TagValue)
	case MatchTagsBitwiseAnd:
		return is(local&remote == r.TagValue)
	case MatchTagsBitwiseOr:
		return is(local|remote == r.TagValue)
	case MatchTagsBitwiseXor:
		return is(local^remote == r.TagValue)
	}
	return is(local == r.TagValue && remote == r.TagValue) // MatchTagsEqual
}

// tagSenderReceiver checks the sender's or the receiver's tag: the peer's
// when the peer is that side, else our own.
func (e *evaluation) tagSenderReceiver(r *Rule, t Type) outcome {
	if e.superAccept {
		e.skipDrop = true
		return hardYes
	}
	peerSide := (t == MatchTagSender) == e.p.Inbound
	if peerSide {
		if v, ok := e.env.RemoteTag(r.TagID); ok {
			return is(v == r.TagValue)
		}
		if t == MatchTagReceiver { // outbound: the receiver's tag may not be known yet
			e.skipDrop = true
			return hardYes
		}
		return hardNo
	}
	if v, ok := e.env.LocalTag(r.TagID); ok {
		return is(v == r.TagValue)
	}
	return hardNo
}
