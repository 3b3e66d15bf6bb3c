//go:build !unix

package pgtest

import (
	"errors"
	"syscall"
)

type credentialT = struct{}

func credential() (*credentialT, error) {
	return nil, errors.New("the PostgreSQL test server runs on unix systems only")
}

func chown(string, *credentialT) error { return nil }

func sysProcAttr(*credentialT) *syscall.SysProcAttr { return nil }
