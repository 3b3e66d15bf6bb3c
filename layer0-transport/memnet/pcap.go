package memnet

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapWriter records datagrams as Ethernet/IP/UDP frames in a pcap file,
// the format `ztdump`, tcpdump and Wireshark read.
type PcapWriter struct {
	mu  sync.Mutex
	w   *pcapgo.Writer
	err error
	buf gopacket.SerializeBuffer
}

// NewPcapWriter writes the pcap file header to w.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &PcapWriter{w: pw, buf: gopacket.NewSerializeBuffer()}, nil
}

// Err is the first write error, if any.
func (p *PcapWriter) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// WriteUDP records one datagram at time at.
func (p *PcapWriter) WriteUDP(at time.Time, src, dst netip.AddrPort, data []byte) {
	p.writeAt(at.UnixNano(), src, dst, data)
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func (p *PcapWriter) writeAt(unixNano int64, src, dst netip.AddrPort, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB}
	var ip gopacket.SerializableLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		_ = udp.SetNetworkLayerForChecksum(v4)
		ip = v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		_ = udp.SetNetworkLayerForChecksum(v6)
		ip = v6
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(p.buf, opts, eth, ip, udp, gopacket.Payload(data)); err != nil {
		p.err = err
		return
	}
	frame := p.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, unixNano), CaptureLength: len(frame), Length: len(frame)}
	p.err = p.w.WritePacket(ci, frame)
}
