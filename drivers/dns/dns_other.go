//go:build !linux

package dns

import (
	"log/slog"
	"runtime"
)

func pick(_ Options, log *slog.Logger) backend {
	log.Warn("allowDNS: setting a network's DNS is not supported on this OS yet", "os", runtime.GOOS)
	return none{}
}
