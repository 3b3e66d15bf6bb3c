//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credential is who runs the server: the current user, or nobody when
// that is root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and no user nobody to run postgres as: %v", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func chown(path string, c *syscall.Credential) error {
	if c == nil {
		return nil
	}
	return os.Chown(path, int(c.Uid), int(c.Gid))
}

func sysProcAttr(c *syscall.Credential) *syscall.SysProcAttr {
	if c == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: c}
}
