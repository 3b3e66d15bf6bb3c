package vl2_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestHandleFramesInPlace sends a device's read batch as the node's pump
// does: unicast frames read with headroom go out through a TxBatch, built
// where they lie; a broadcast in the middle and a batch without headroom
// take the copying path. The other member receives every frame byte for
// byte, the unicast ones in the order the OS sent them.
func TestHandleFramesInPlace(t *testing.T) {
	l := newLab(t, 2, "", nil)
	a, b := l.members[0], l.members[1]
	// Warm up: b learns a's COM.
	a.Send(l.nwid, icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), 0))
	collect(l, time.Second)

	var want [][]byte
	var bufs [][]byte
	var sizes []int
	for i := range 12 {
		f := icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), uint16(i+1))
		if i == 5 {
			f = rawFrame(t, l.mac(a), vl2wire.BroadcastMAC, 0x88b5, fmt.Sprint("broadcast ", i))
		}
		f = append(f, bytes.Repeat([]byte{byte(i)}, 100*i)...) // sizes differ
		want = append(want, f)
		buf := make([]byte, vl2.ReadHeadroom+len(f))
		copy(buf[vl2.ReadHeadroom:], f)
		bufs = append(bufs, buf)
		sizes = append(sizes, len(f))
	}
	nw := a.Switch.Network(l.nwid)
	tx := a.Node.NewTxBatch()
	nw.HandleFrames(tx, bufs[:8], sizes[:8], vl2.ReadHeadroom)
	if tx.Len() != 0 {
		t.Fatalf("%d packets left in the batch", tx.Len())
	}
	// No headroom: the same frames still go, copied.
	var tight [][]byte
	for i := 8; i < 12; i++ {
		tight = append(tight, append([]byte(nil), want[i]...))
	}
	nw.HandleFrames(tx, tight, sizes[8:], 0)

	got := collect(l, 3*time.Second)[b]
	if len(got) != len(want) {
		t.Fatalf("b got %d frames, want %d", len(got), len(want))
	}
	// Unicast frames keep the OS's order; the broadcast travels as a
	// MULTICAST_FRAME and may overtake or trail them.
	var unicast [][]byte
	broadcast := false
	for _, f := range got {
		if bytes.Equal(f, want[5]) {
			broadcast = true
		} else {
			unicast = append(unicast, f)
		}
	}
	if !broadcast {
		t.Fatal("the broadcast in the batch did not arrive")
	}
	wantUnicast := append(append([][]byte(nil), want[:5]...), want[6:]...)
	for i := range wantUnicast {
		if !bytes.Equal(unicast[i], wantUnicast[i]) {
			t.Fatalf("unicast frame %d differs:\n got %x\nwant %x", i, unicast[i], wantUnicast[i])
		}
	}
	// In place means encrypted where it lay: the unicast payloads in the
	// sender's buffers are ciphertext now, the broadcast's (copied) is not.
	for i := range 8 {
		changed := !bytes.Equal(bufs[i][vl2.ReadHeadroom+14:], want[i][14:])
		if changed != (i != 5) {
			t.Fatalf("frame %d: payload changed in the sender's buffer: %v", i, changed)
		}
	}
}
