//go:build unix

package cli

import (
	"os"
	"os/exec"
	"syscall"
)

// daemonize starts this program again, without -d, in a session of its own
// (so the terminal's hangup and ^C do not reach it) and returns once it has
// started: the Go counterpart of zerotier-one -d's fork, which a Go program
// cannot do safely once its runtime has started threads. Like the forked
// zerotier-one, the child keeps stdout and stderr, so its log still shows.
func daemonize() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	c := &exec.Cmd{
		Path:        exe,
		Args:        withoutDaemonFlag(os.Args),
		Stdin:       devnull,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := c.Start(); err != nil {
		return err
	}
	return c.Process.Release()
}
