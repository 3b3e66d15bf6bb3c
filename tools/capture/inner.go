package capture

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// summarizeFrame describes the Ethernet payload a FRAME or EXT_FRAME
// carries (ethertype and what follows the Ethernet header), tcpdump style.
func summarizeFrame(ethertype uint16, payload []byte) (string, map[string]any) {
	f := map[string]any{"ethertype": fmt.Sprintf("0x%04x", ethertype), "length": len(payload)}
	first := layers.EthernetType(ethertype).LayerType()
	if first == gopacket.LayerTypePayload {
		return fmt.Sprintf("ethertype 0x%04x, %d bytes", ethertype, len(payload)), f
	}
	pkt := gopacket.NewPacket(payload, first, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
	if arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
		return summarizeARP(arp, f), f
	}
	var text string
	if ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		f["ip"], f["src"], f["dst"], f["ip_length"], f["protocol"] = 4, ip.SrcIP.String(), ip.DstIP.String(), int(ip.Length), int(ip.Protocol)
		if ip.FragOffset != 0 || ip.Flags&layers.IPv4MoreFragments != 0 {
			f["ip_fragment_offset"] = int(ip.FragOffset) * 8
			if ip.FragOffset != 0 {
				return fmt.Sprintf("IPv4 fragment %s > %s proto %d offset %d, length %d", ip.SrcIP, ip.DstIP, ip.Protocol, int(ip.FragOffset)*8, ip.Length), f
			}
			// gopacket leaves every fragment opaque, but the first one
			// starts with the transport header.
			pkt = gopacket.NewPacket(ip.Payload, ip.Protocol.LayerType(), gopacket.DecodeOptions{NoCopy: true, Lazy: true})
			text = " (first fragment)"
		}
		return summarizeTransport(pkt, ip.SrcIP, ip.DstIP, int(ip.Length), f) + text, f
	}
	if ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
		f["ip"], f["src"], f["dst"], f["ip_length"], f["protocol"] = 6, ip.SrcIP.String(), ip.DstIP.String(), int(ip.Length)+40, int(ip.NextHeader)
		return summarizeTransport(pkt, ip.SrcIP, ip.DstIP, int(ip.Length)+40, f), f
	}
	return fmt.Sprintf("%v, %d bytes", first, len(payload)), f
}

func summarizeARP(arp *layers.ARP, f map[string]any) string {
	spa, tpa := net.IP(arp.SourceProtAddress), net.IP(arp.DstProtAddress)
	f["arp_op"], f["sender_ip"], f["target_ip"] = int(arp.Operation), spa.String(), tpa.String()
	f["sender_mac"] = net.HardwareAddr(arp.SourceHwAddress).String()
	switch arp.Operation {
	case layers.ARPRequest:
		return fmt.Sprintf("ARP request who-has %s tell %s", tpa, spa)
	case layers.ARPReply:
		return fmt.Sprintf("ARP reply %s is-at %s (to %s)", spa, net.HardwareAddr(arp.SourceHwAddress), tpa)
	}
	return fmt.Sprintf("ARP op %d %s > %s", arp.Operation, spa, tpa)
}

func summarizeTransport(pkt gopacket.Packet, src, dst net.IP, length int, f map[string]any) string {
	switch t := pkt.TransportLayer().(type) {
	case *layers.TCP:
		f["src_port"], f["dst_port"] = int(t.SrcPort), int(t.DstPort)
		return fmt.Sprintf("TCP %s:%d > %s:%d [%s] seq %d, %d bytes", src, t.SrcPort, dst, t.DstPort, tcpFlags(t), t.Seq, len(t.Payload))
	case *layers.UDP:
		f["src_port"], f["dst_port"] = int(t.SrcPort), int(t.DstPort)
		return fmt.Sprintf("UDP %s:%d > %s:%d, %d bytes", src, t.SrcPort, dst, t.DstPort, len(t.Payload))
	}
	if icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		f["icmp_type"] = int(icmp.TypeCode.Type())
		return fmt.Sprintf("ICMP %s %s > %s id %d seq %d, length %d", icmpName(icmp.TypeCode), src, dst, icmp.Id, icmp.Seq, length)
	}
	if icmp, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
		f["icmp_type"] = int(icmp.TypeCode.Type())
		return fmt.Sprintf("ICMPv6 %s %s > %s, length %d", icmpName(icmp.TypeCode), src, dst, length)
	}
	return fmt.Sprintf("IP %s > %s, length %d", src, dst, length)
}

func icmpName(tc interface{ String() string }) string {
	switch s := tc.String(); s {
	case "EchoRequest":
		return "echo request"
	case "EchoReply":
		return "echo reply"
	default:
		return s
	}
}

func tcpFlags(t *layers.TCP) string {
	var s []byte
	for _, fl := range []struct {
		on bool
		c  byte
	}{{t.SYN, 'S'}, {t.FIN, 'F'}, {t.RST, 'R'}, {t.PSH, 'P'}, {t.ACK, '.'}, {t.URG, 'U'}} {
		if fl.on {
			s = append(s, fl.c)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return string(s)
}
