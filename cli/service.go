package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"
)

// defaultUnitPath is where `ztgo service install --write` puts the unit.
const defaultUnitPath = "/etc/systemd/system/ztgo.service"

// systemdUnit is the unit that runs ztgo as zerotier-one runs on a server:
// started at boot once the network is up, restarted when it fails, with its
// state in zerotier-one's home, as root but with only the capabilities a
// node uses.
func systemdUnit(bin, home string) string {
	return fmt.Sprintf(`[Unit]
Description=ztgo, a ZeroTier One compatible node
Documentation=https://github.com/ztgo/ztgo
After=network-online.target network.target
Wants=network-online.target
# Both would take UDP and TCP port 9993 and the same home.
Conflicts=zerotier-one.service

[Service]
Type=simple
ExecStart=%[1]s run %[2]s
Restart=on-failure
RestartSec=2s
# TAP devices, addresses and routes need CAP_NET_ADMIN; an existing
# zerotier-one home may belong to another user (CAP_DAC_OVERRIDE, CAP_CHOWN,
# CAP_FOWNER); ports below 1024 in local.conf need CAP_NET_BIND_SERVICE.
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_DAC_OVERRIDE CAP_CHOWN CAP_FOWNER
AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE
DeviceAllow=/dev/net/tun rw
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=-%[2]s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`, bin, home)
}

func serviceCommand() *cli.Command {
	return &cli.Command{
		Name:  "service",
		Usage: "run ztgo as a system service, as zerotier-one runs on a server",
		Commands: []*cli.Command{{
			Name:  "install",
			Usage: "print the systemd unit (home /var/lib/zerotier-one, restart on failure, CAP_NET_ADMIN); --write installs it",
			Description: "Prints a systemd unit that runs 'ztgo run' at boot with zerotier-one's home directory, so an\n" +
				"existing zerotier-one identity and its networks carry over. With --write it is written to\n" +
				defaultUnitPath + " (needs root); then:\n" +
				"   systemctl disable --now zerotier-one   # if it was installed: both use port 9993\n" +
				"   systemctl daemon-reload && systemctl enable --now ztgo\n" +
				"   ztgo info -D /var/lib/zerotier-one",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "write", Usage: "write the unit instead of printing it"},
				&cli.StringFlag{Name: "path", Usage: "where --write puts the unit", Value: defaultUnitPath, TakesFile: true},
				&cli.StringFlag{Name: "bin", Usage: "the ztgo binary the unit runs", DefaultText: "this program", TakesFile: true},
				&cli.StringFlag{Name: "home", Usage: "the node's home directory", Value: "/var/lib/zerotier-one", TakesFile: true},
			},
			Action: func(_ context.Context, cmd *cli.Command) error {
				if cmd.NArg() > 0 {
					return fail(exitUsage, "unexpected argument %q", cmd.Args().First())
				}
				bin := cmd.String("bin")
				if bin == "" {
					exe, err := os.Executable()
					if err != nil {
						return fail(exitFailure, "cannot find this program (pass --bin): %v", err)
					}
					if p, err := filepath.EvalSymlinks(exe); err == nil {
						exe = p
					}
					bin = exe
				}
				home := cmd.String("home")
				for _, p := range []string{bin, home} {
					if !filepath.IsAbs(p) || strings.ContainsAny(p, " \t\n\"'\\%$") {
						return fail(exitUsage, "%q: want an absolute path without spaces, quotes or %% (systemd would misread it)", p)
					}
				}
				unit := systemdUnit(bin, home)
				if !cmd.Bool("write") {
					fmt.Fprint(cmd.Root().Writer, unit)
					return nil
				}
				path := cmd.String("path")
				if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
					return fail(exitFailure, "%v (writing under /etc needs root)", err)
				}
				fmt.Fprintf(cmd.Root().Writer, "wrote %s; now run: systemctl daemon-reload && systemctl enable --now %s\n",
					path, strings.TrimSuffix(filepath.Base(path), ".service"))
				return nil
			},
		}},
	}
}
