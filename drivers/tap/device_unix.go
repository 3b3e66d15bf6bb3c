//go:build linux || freebsd

package tap

// The frame I/O both systems share: one frame per read or write on the
// tap's file.

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// MTU is the interface MTU.
func (d *Device) MTU() int { return d.mtu }

// BatchSize is 1: the kernel hands out one frame per read.
func (d *Device) BatchSize() int { return 1 }

// Read returns one frame the OS sent.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := d.f.Read(bufs[0][offset:])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	return 1, nil
}

// Write hands frames to the OS; frames over the MTU are dropped, as
// zerotier-one does.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		if len(b)-offset-14 > d.mtu {
			continue
		}
		if _, err := d.f.Write(b[offset:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}
