//go:build linux || freebsd

package tap

import "os"

// The plain frame I/O both systems have: one frame per read or write on
// the tap's file. Linux uses it when offloads are off or unavailable.

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// MTU is the interface MTU.
func (d *Device) MTU() int { return d.mtu }

// readPlain reads one frame the OS sent.
func readPlain(f *os.File, bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := f.Read(bufs[0][offset:])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	return 1, nil
}

// writePlain hands frames to the OS one by one; frames over the MTU are
// dropped, as zerotier-one does.
func writePlain(f *os.File, mtu int, bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		if len(b)-offset-14 > mtu {
			continue
		}
		if _, err := f.Write(b[offset:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}
