package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"

	"github.com/urfave/cli/v3"
)

// cliHelp is the zerotier-cli personality's help: the switches and commands
// zerotier-cli 1.14.1 documents, in the same layout.
func cliHelp(pn string) string {
	return fmt.Sprintf(`ztgo %s (as zerotier-cli, compatible with ZeroTier %s)
Usage: %s [-switches] <command/path> [<args>]

Available switches:
  -h                      - Display this help
  -v                      - Show version
  -j                      - Display full raw JSON output
  -D<path>                - ZeroTier home path for parameter auto-detect
  -p<port>                - HTTP port (default: auto)
  -T<token>               - Authentication token (default: auto)

Available commands:
  info                    - Display status info
  listpeers               - List all peers
  peers                   - List all peers (prettier)
  listnetworks            - List all networks
  join <network ID>          - Join a network
  leave <network ID>         - Leave a network
  set <network ID> <setting> - Set a network setting
  get <network ID> <setting> - Get a network setting
  listmoons               - List moons (federated root sets)
  orbit <world ID> <seed> - Join a moon via any member root
  deorbit <world ID>      - Leave a moon
  dump                    - Debug settings dump for support

Available settings:
  get and set take the property names of "zerotier-cli -j listnetworks";
  get also takes ip, ip4, ip6, ip6plane and ip6prefix, e.g.
  zerotier-cli get <network ID> ip6plane prints this node's 6PLANE address.
`, Version, compatibleWith, pn)
}

// oneHelp is the zerotier-one personality's help.
func oneHelp(pn string) string {
	return fmt.Sprintf(`ztgo %s (as zerotier-one, compatible with ZeroTier %s)
Usage: %s [-switches] [home directory]

Available switches:
  -h                - Display this help
  -v                - Show version
  -U                - Skip privilege check and do not attempt to drop privileges
  -p<port>          - Port for UDP and TCP/HTTP (default: 9993, 0 for random)
  -d                - Fork and run as daemon (Unix-ish OSes)
  -i                - Generate and manage identities (zerotier-idtool)
  -q                - Query API (zerotier-cli)
`, Version, compatibleWith, pn)
}

// cliUsageCommand is what zerotier-cli does with an unknown command or
// none: find the service's port and token (failing as it fails), then
// print the help on stderr and exit 0.
func cliUsageCommand() *cli.Command {
	return &cli.Command{
		Name:   "zerotier-cli-usage",
		Hidden: true,
		Flags:  apiFlags(),
		Action: func(_ context.Context, cmd *cli.Command) error {
			if _, err := newAPIClient(cmd); err != nil {
				return err
			}
			name := cliCompat(cmd)
			if name == "" {
				name = "zerotier-cli"
			}
			fmt.Fprint(cmd.Root().ErrWriter, cliHelp(name))
			return nil
		},
	}
}

// dumpCommand is zerotier-cli dump: a support file with the service's
// status, networks and peers, local.conf and the machine's interfaces.
func dumpCommand() *cli.Command {
	return &cli.Command{
		Name:  "dump",
		Usage: "write zerotier_dump.txt in the current directory: status, networks, peers, local.conf, interfaces (as zerotier-cli dump)",
		Flags: apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "platform: %s\nzerotier version: %s\n\n", platformName(), compatibleWith)
			for i, s := range []struct{ title, path string }{{"status", "/status"}, {"networks", "/network"}, {"peers", "/peer"}} {
				if i > 0 {
					b.WriteString("\n")
				}
				status, body := c.do(ctx, http.MethodGet, s.path)
				if status != http.StatusOK {
					// zerotier-cli reports any failure here as a connection failure.
					return c.connectionError(body)
				}
				fmt.Fprintf(&b, "%s\n%s\n%s\n", s.title, dashes(s.title), body)
			}
			b.WriteString("\nlocal.conf\n----------\n")
			if lc, err := os.ReadFile(filepath.Join(cmd.String("D"), "local.conf")); err == nil && len(lc) > 0 {
				fmt.Fprintf(&b, "%s\n", lc)
			} else {
				b.WriteString("None Present\n")
			}
			b.WriteString("\nNetwork Interfaces\n------------------\n\n")
			writeInterfaces(&b)
			wd, err := os.Getwd()
			if err != nil {
				return fail(exitFailure, "%v", err)
			}
			path := filepath.Join(wd, "zerotier_dump.txt")
			fmt.Fprintf(cmd.Root().Writer, "Writing dump to: %s\n", path)
			if err := os.WriteFile(path, b.Bytes(), 0o664); err != nil {
				return verbatim(exitFailure, "Error creating file.")
			}
			return nil
		},
	}
}

func dashes(s string) string { return string(bytes.Repeat([]byte("-"), len(s))) }

func platformName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return "other unix based OS"
}

// writeInterfaces lists the interfaces that are not loopback and have an
// IPv4 address (those zerotier-cli dump finds on Linux), with their MTU,
// MAC and addresses.
func writeInterfaces(b *bytes.Buffer) {
	ifs, _ := net.Interfaces()
	n := 0
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		has4 := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				has4 = true
			}
		}
		if !has4 {
			continue
		}
		mac := ifc.HardwareAddr.String()
		if len(ifc.HardwareAddr) == 0 {
			mac = "00:00:00:00:00:00"
		}
		fmt.Fprintf(b, "Interface %d\n-----------\nName: %s\nMTU: %d\nMAC: %s\nAddresses: \n", n, ifc.Name, ifc.MTU, mac)
		n++
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				fmt.Fprintf(b, "%s\n", ipn.IP)
			}
		}
	}
}
