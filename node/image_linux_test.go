package node

import "testing"

// The test binary maps its own image like the node does: once it has run
// its initialisers and these tests, most of it is resident, and releasing
// it must give file-backed pages back.
func TestReleaseImage(t *testing.T) {
	before := rssFile()
	if before == 0 {
		t.Skip("no RssFile in /proc/self/status")
	}
	released := releaseImage()
	after := rssFile()
	t.Logf("RssFile %d kB -> %d kB (released %d kB)", before>>10, after>>10, released>>10)
	if released < 1<<20 || after >= before {
		t.Fatalf("released %d bytes of %d: the kernel kept the image resident", released, before)
	}
}
