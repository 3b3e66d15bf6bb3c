package transport

import (
	"bufio"
	"bytes"
	"net/netip"
	"testing"
)

// FuzzRelayRecords feeds a TCP relay stream of records: no input panics,
// a record is never longer than its buffer, and what ParseAddressed
// accepts re-encodes to the same destination and data.
func FuzzRelayRecords(f *testing.F) {
	f.Add(AppendRecord(nil, AppendAddressed(nil, netip.MustParseAddrPort("198.18.0.1:9993"), []byte("0123456789abcdef"))))
	f.Add(AppendRecord(nil, AppendAddressed(nil, netip.MustParseAddrPort("[fd00::1]:9993"), []byte("x"))))
	f.Add(AppendRecord(nil, []byte{0, 1, 2, 3}))
	f.Add([]byte{0x17, 0x03, 0x03, 0xff, 0xff})
	f.Add([]byte{0x17, 0x03})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bufio.NewReader(bytes.NewReader(stream))
		buf := make([]byte, 4096)
		for range 64 {
			msg, err := ReadRecord(r, buf)
			if err != nil {
				return
			}
			if len(msg) > len(buf) {
				t.Fatalf("record of %d bytes in a %d-byte buffer", len(msg), len(buf))
			}
			ap, data, err := ParseAddressed(msg)
			if err != nil || !ap.IsValid() {
				continue
			}
			// Re-encoding gives the same address and data (an IPv4-mapped
			// IPv6 address comes back as IPv4: the same destination).
			ap2, data2, err := ParseAddressed(AppendAddressed(nil, ap, data))
			if err != nil || ap2.Addr().Unmap() != ap.Addr().Unmap() || ap2.Port() != ap.Port() || !bytes.Equal(data2, data) {
				t.Fatalf("re-encoding %x gave %v %x (%v)", msg, ap2, data2, err)
			}
		}
	})
}
