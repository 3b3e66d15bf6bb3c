// Package ztlayers decodes and builds ZeroTier VL1 traffic as gopacket
// layers, so that a capture decodes from Ethernet/IP/UDP down to the
// ZeroTier verb, and a FRAME's Ethernet data on into ARP, IPv4, ICMP, TCP,
// IPv6 and the rest of gopacket's layers.
//
// Loading the package registers UDP port 9993 (RegisterPort adds others)
// and four layer types, numbered 4993–4996 to stay clear of gopacket's own
// and of the range it suggests to applications:
//
//   - LayerTypeZeroTier: a datagram not yet classified. Its decoder sends
//     it on as a Fragment, a Packet or a gopacket.Payload (Classify,
//     vl1.md §5.2) without adding a layer; DecodingLayerParser users put a
//     Classifier in its place.
//   - LayerTypeZeroTierFragment (Fragment): a non-head fragment.
//   - LayerTypeZeroTierPacket (Packet): the 27-byte header. A clear-text
//     envelope (cipher suite 0 or 2, not a fragmented head) decodes on as a
//     Verb; an encrypted one stays a gopacket.Payload.
//   - LayerTypeZeroTierVerb (Verb): verb byte and payload, decoded by
//     wire.ParsePayload; FRAME, EXT_FRAME and MULTICAST_FRAME go on into
//     their Ethernet data.
//
// Every layer serializes back to the bytes it was decoded from.
//
// Encrypted packets need the peers' key, which a capture does not carry:
// dearmor a copy of the packet with wire.Dearmor (after reassembly with
// wire.Reassembler if it was fragmented) and decode the result:
//
//	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
//	zt, ok := pkt.Layer(ztlayers.LayerTypeZeroTierPacket).(*ztlayers.Packet)
//	if !ok || zt.Fragmented {
//		return // not a whole ZeroTier packet
//	}
//	plain := wire.Packet(slices.Concat(zt.Contents, zt.Payload))
//	if _, err := wire.Dearmor(plain, keys); err != nil {
//		return
//	}
//	inner := gopacket.NewPacket(plain[wire.HeaderLength:], ztlayers.LayerTypeZeroTierVerb, gopacket.Default)
//	if icmp, ok := inner.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
//		fmt.Println(inner.Layer(ztlayers.LayerTypeZeroTierVerb).(*ztlayers.Verb).Frame.NetworkID, icmp.TypeCode)
//	}
//
// (gopacket.NewPacket(plain, ztlayers.DearmoredDecoder, gopacket.Default)
// does the same and keeps the header as a Packet layer.)
//
// This package sits beside VL1: it imports gopacket, wire and identity and
// must never be imported by the node's data path, which uses wire directly.
package ztlayers
