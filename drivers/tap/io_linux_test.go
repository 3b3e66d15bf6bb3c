package tap

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/ztgo/ztgo/drivers/tap/offload"
	"golang.org/x/sys/unix"
)

// These tests need no root: a SOCK_SEQPACKET socket pair keeps message
// boundaries as a TAP keeps frames, so one end is the device's file and
// the other plays the kernel.

func fakeTAP(t *testing.T, mtu int) (v *vnetIO, kernel int, file *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range fds {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "fake-tap")
	t.Cleanup(func() { f.Close(); unix.Close(fds[1]) })
	v, err = newVnetIO(f, mtu, unix.TUN_F_CSUM|unix.TUN_F_TSO4)
	if err != nil {
		t.Fatal(err)
	}
	return v, fds[1], f
}

// send plays the kernel handing over a frame behind header h.
func send(t *testing.T, kernel int, h offload.Header, frame []byte) {
	t.Helper()
	b := make([]byte, offload.HeaderLen, offload.HeaderLen+len(frame))
	h.Encode(b)
	if _, err := unix.Write(kernel, append(b, frame...)); err != nil {
		t.Fatal(err)
	}
}

// receive plays the kernel taking one write.
func receive(t *testing.T, kernel int) (offload.Header, []byte) {
	t.Helper()
	b := make([]byte, 1<<17)
	unix.SetsockoptTimeval(kernel, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	n, err := unix.Read(kernel, b)
	if err != nil {
		t.Fatal(err)
	}
	h, err := offload.DecodeHeader(b[:n])
	if err != nil {
		t.Fatal(err)
	}
	return h, b[offload.HeaderLen:n]
}

var (
	macA, macB = net.HardwareAddr{0x32, 0, 0, 0, 0, 0xa}, net.HardwareAddr{0x32, 0, 0, 0, 0, 0xb}
	ipA, ipB   = net.IP{198, 18, 7, 1}, net.IP{198, 18, 7, 2}
)

// tcpFrame is an IPv4 TCP segment with valid checksums.
func tcpFrame(t *testing.T, seq uint32, id uint16, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Protocol: layers.IPProtocolTCP, SrcIP: ipA, DstIP: ipB}
	tcp := &layers.TCP{SrcPort: 1000, DstPort: 2000, Seq: seq, Ack: 1, ACK: true, Window: 500}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// tso is what the kernel hands over for a TCP send of payload: one
// header, NEEDS_CSUM with the pseudo-header sum in the checksum field.
func tso(t *testing.T, payload []byte, mss int) (offload.Header, []byte) {
	frame := tcpFrame(t, 1, 100, payload)
	ph := append(bytes.Clone(frame[26:34]), 0, 6, 0, 0)
	binary.BigEndian.PutUint16(ph[10:], binary.BigEndian.Uint16(frame[16:])-20) // the TCP length, padding not counted
	binary.BigEndian.PutUint16(frame[34+16:], ^onesComplement(ph))
	return offload.Header{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, HdrLen: 54, GSOSize: uint16(mss),
		CsumStart: 34, CsumOffset: 16}, frame
}

func onesComplement(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func buffers(n, size int) ([][]byte, []int) {
	b := make([][]byte, n)
	for i := range b {
		b[i] = make([]byte, size)
	}
	return b, make([]int, n)
}

// checkTCP decodes a frame with gopacket and returns its TCP payload,
// failing on a bad checksum.
func checkTCP(t *testing.T, frame []byte) []byte {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("no TCP in %x", frame)
	}
	tcp.SetNetworkLayerForChecksum(p.NetworkLayer())
	if err, bad := p.VerifyChecksums(); err != nil || len(bad) > 0 {
		t.Fatalf("checksums: %v %+v", err, bad)
	}
	return tcp.Payload
}

// TestReadSuperFrameAcrossReads: a super-frame cut into more frames than
// one Read can return comes out over several reads, nothing lost, and
// what the kernel sent after it comes after it.
func TestReadSuperFrameAcrossReads(t *testing.T) {
	const mtu = 1500
	v, kernel, _ := fakeTAP(t, mtu)
	payload := make([]byte, 60000)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	h, frame := tso(t, payload, 1460)
	send(t, kernel, h, frame)
	after := tcpFrame(t, 1+60000, 142, []byte("after"))
	send(t, kernel, offload.Header{}, after)

	bufs, sizes := buffers(16, 40+mtu+14)
	var got []byte
	var last []byte
	for len(got) < len(payload) {
		n, err := v.read(bufs, sizes, 40)
		if err != nil || n == 0 {
			t.Fatalf("read: %d %v", n, err)
		}
		for i := range n {
			f := bufs[i][40 : 40+sizes[i]]
			if len(f) > mtu+14 {
				t.Fatalf("frame of %d bytes", len(f))
			}
			if len(got) < len(payload) {
				got = append(got, checkTCP(t, f)...)
			} else {
				last = f
			}
		}
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload differs")
	}
	if last == nil {
		n, err := v.read(bufs, sizes, 0)
		if err != nil || n != 1 {
			t.Fatalf("read after the super-frame: %d %v", n, err)
		}
		last = bufs[0][:sizes[0]]
	}
	if !bytes.Equal(last, after) {
		t.Fatal("the frame sent after the super-frame did not come after it")
	}
	if v.superFramesRead.Load() != 1 {
		t.Fatalf("%d super-frames counted", v.superFramesRead.Load())
	}
}

// TestReadTakesQueuedFrames: one Read returns every frame waiting, not
// just the first, and a frame with NEEDS_CSUM comes out checksummed.
func TestReadTakesQueuedFrames(t *testing.T) {
	v, kernel, _ := fakeTAP(t, 1500)
	for i := range 5 {
		h, f := tso(t, []byte("small"), 1460)
		h.GSOType, h.GSOSize = offload.GSONone, 0
		f[18] = byte(i) // IPv4 ID, so the frames differ
		binary.BigEndian.PutUint16(f[24:], 0)
		binary.BigEndian.PutUint16(f[24:], onesComplement(f[14:34]))
		send(t, kernel, h, f)
	}
	bufs, sizes := buffers(8, 2000) // a socket pair queues each write before it returns
	n, err := v.read(bufs, sizes, 0)
	if err != nil || n != 5 {
		t.Fatalf("read: %d frames, %v; want all 5", n, err)
	}
	for i := range n {
		if string(checkTCP(t, bufs[i][:sizes[i]])) != "small" {
			t.Fatalf("frame %d", i)
		}
	}
}

// TestReadDropsWhatCannotBeCut: malformed frames from the kernel and
// frames no buffer can hold are dropped and counted, never a panic.
func TestReadDropsWhatCannotBeCut(t *testing.T) {
	v, kernel, file := fakeTAP(t, 1500)
	unix.Write(kernel, []byte{1, 2, 3}) // shorter than a vnet header
	h, f := tso(t, make([]byte, 3000), 1460)
	bad := h
	bad.GSOSize = 0
	send(t, kernel, bad, f)
	send(t, kernel, offload.Header{GSOType: 77, GSOSize: 100}, f)
	good := tcpFrame(t, 1, 1, []byte("good"))
	send(t, kernel, offload.Header{}, good)
	bufs, sizes := buffers(4, 2000)
	n, err := v.read(bufs, sizes, 0)
	if err != nil || n != 1 || !bytes.Equal(bufs[0][:sizes[0]], good) {
		t.Fatalf("read: %d %v", n, err)
	}
	if d := v.dropped.Load(); d != 3 {
		t.Fatalf("%d dropped, want 3", d)
	}
	// Buffers too small for a segment: the segments go, the next frame
	// that fits comes.
	send(t, kernel, h, f)
	send(t, kernel, offload.Header{}, good)
	small, sizes := buffers(4, len(good))
	if n, err := v.read(small, sizes, 0); err != nil || n != 1 || !bytes.Equal(small[0][:sizes[0]], good) {
		t.Fatalf("small buffers: %d %v", n, err)
	}
	if d := v.dropped.Load(); d != 3+3 {
		t.Fatalf("%d dropped, want the 3 segments more", d)
	}
	// An offset past the buffer: dropped, no panic; Close ends the wait
	// for a frame that fits.
	send(t, kernel, offload.Header{}, good)
	done := make(chan error)
	go func() {
		_, err := v.read(small[:1], sizes, len(small[0])+1)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for v.dropped.Load() != 7 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	file.Close()
	if err := <-done; err == nil || v.dropped.Load() != 7 {
		t.Fatalf("read with the offset past the buffer: %v, %d dropped", err, v.dropped.Load())
	}
}

// TestWrite: frames over MTU+14 or under 14 bytes are dropped, a frame of
// exactly MTU+14 passes, TCP segments of a flow leave in one write, and
// nothing of the caller's buffers, headroom included, is touched.
func TestWrite(t *testing.T) {
	const mtu, headroom = 1400, 16
	v, kernel, _ := fakeTAP(t, mtu)
	withHeadroom := func(f []byte) []byte {
		b := make([]byte, headroom, headroom+len(f))
		for i := range b {
			b[i] = 0xee
		}
		return append(b, f...)
	}
	var bufs [][]byte
	var payload []byte
	for i := range 4 {
		p := bytes.Repeat([]byte{byte(i)}, mtu-40)
		payload = append(payload, p...)
		bufs = append(bufs, withHeadroom(tcpFrame(t, uint32(1+i*len(p)), uint16(7+i), p)))
	}
	exact := make([]byte, mtu+14)
	copy(exact, macB)
	copy(exact[6:], macA)
	exact[12], exact[13] = 0x88, 0xb5 // local experimental EtherType
	over := append(bytes.Clone(exact), 0)
	bufs = append(bufs, withHeadroom(exact), withHeadroom(over), withHeadroom(make([]byte, 13)))
	orig := make([][]byte, len(bufs))
	for i, b := range bufs {
		orig[i] = bytes.Clone(b)
	}
	n, err := v.write(bufs, headroom)
	if err != nil || n != len(bufs) {
		t.Fatalf("write: %d %v", n, err)
	}
	h, super := receive(t, kernel)
	if h.GSOType != offload.GSOTCPv4 || h.GSOSize != mtu-40 || h.Flags != offload.FlagNeedsCsum {
		t.Fatalf("first write's header %+v", h)
	}
	if got := super[54:]; !bytes.Equal(got, payload) {
		t.Fatalf("super-frame carries %d bytes, want %d", len(got), len(payload))
	}
	h, f := receive(t, kernel)
	if h != (offload.Header{}) || !bytes.Equal(f, exact) {
		t.Fatalf("the frame at exactly the MTU: header %+v, %d bytes", h, len(f))
	}
	unix.SetNonblock(kernel, true)
	if n, err := unix.Read(kernel, make([]byte, 4000)); err != unix.EAGAIN {
		t.Fatalf("a frame over the MTU or short was written (%d bytes, %v)", n, err)
	}
	for i := range bufs {
		if !bytes.Equal(bufs[i], orig[i]) {
			t.Fatalf("buffer %d was modified", i)
		}
	}
	if v.superFramesWritten.Load() != 1 {
		t.Fatalf("%d super-frames counted", v.superFramesWritten.Load())
	}
}
