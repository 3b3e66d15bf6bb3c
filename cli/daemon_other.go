//go:build !unix

package cli

import "errors"

// daemonize is Unix only, as zerotier-one's -d is.
func daemonize() error {
	return errors.New("-d (daemonize) works on Unix only; run ztgo as a service instead")
}
