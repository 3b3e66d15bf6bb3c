//go:build !unix

package pagebuf

func mapPages(int) ([]byte, bool) { return nil, false }

func unmapPages([]byte) {}

func releasePages([]byte) {}
