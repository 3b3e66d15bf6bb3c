// Package chanread reads batches of frames from a channel, the receive
// side every in-process device shares.
package chanread

// Read blocks for the first frame on ch (or closed, then errClosed), then
// takes whatever else is queued without blocking, up to len(bufs).
func Read(ch <-chan []byte, closed <-chan struct{}, errClosed error, bufs [][]byte, sizes []int, offset int) (int, error) {
	var f []byte
	select {
	case f = <-ch:
	case <-closed:
		return 0, errClosed
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n][offset:], f)
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case f = <-ch:
		default:
			return n, nil
		}
	}
}
