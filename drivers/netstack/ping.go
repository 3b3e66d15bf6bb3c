package netstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Ping sends one ICMPv4 echo request to dst and waits for the reply,
// returning the round-trip time.
func (d *Device) Ping(ctx context.Context, dst netip.Addr, seq uint16) (time.Duration, error) {
	if !dst.Is4() {
		return 0, errors.New("netstack: ping supports IPv4")
	}
	var wq waiter.Queue
	ep, terr := d.stack.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return 0, fmt.Errorf("ping: %v", terr)
	}
	defer ep.Close()
	entry, ready := waiter.NewChannelEntry(waiter.ReadableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if terr := ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(dst.As4())}); terr != nil {
		return 0, fmt.Errorf("ping %v: %v", dst, terr)
	}
	msg := make([]byte, header.ICMPv4MinimumSize+16)
	icmpHdr := header.ICMPv4(msg)
	icmpHdr.SetType(header.ICMPv4Echo)
	icmpHdr.SetSequence(seq)
	copy(msg[header.ICMPv4MinimumSize:], "ztgo demo ping..")
	start := time.Now()
	if _, terr := ep.Write(bytes.NewReader(msg), tcpip.WriteOptions{}); terr != nil {
		return 0, fmt.Errorf("ping %v: %v", dst, terr)
	}
	for {
		var buf bytes.Buffer
		_, terr := ep.Read(&buf, tcpip.ReadOptions{})
		if terr == nil {
			reply := header.ICMPv4(buf.Bytes())
			if len(reply) >= header.ICMPv4MinimumSize && reply.Type() == header.ICMPv4EchoReply && reply.Sequence() == seq {
				return time.Since(start), nil
			}
			continue
		}
		if _, wouldBlock := terr.(*tcpip.ErrWouldBlock); !wouldBlock {
			return 0, fmt.Errorf("ping %v: %v", dst, terr)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return 0, fmt.Errorf("ping %v: %w", dst, ctx.Err())
		}
	}
}
