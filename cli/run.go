package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/drivers/dns"
	"github.com/ztgo/ztgo/node"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a node (zerotier-one's arguments: [-p PORT] [HOMEDIR])",
		ArgsUsage: "[HOMEDIR]",
		Description: "Runs a node until SIGINT or SIGTERM. HOMEDIR (default $ZTGO_HOME or " + node.DefaultHome + ")\n" +
			"holds identity.secret, authtoken.secret, planet, moons.d, peers.d and local.conf, laid out\n" +
			"as zerotier-one's, so an existing zerotier-one home directory can be used as it is.\n" +
			"A 'planet' file there replaces ZeroTier's public planet (private roots).\n\n" +
			"Getting a node onto a network:\n" +
			"   sudo ztgo run                       # this node; it logs ONLINE once a root answers\n" +
			"   sudo ztgo join <network id>          # from another terminal: asks the network's controller\n" +
			"   then authorize the node (its address: ztgo info) at the controller: ZeroTier Central, or\n" +
			"   ztgo controller member authorize <network id> <address> on a ztgo controller\n" +
			"   ztgo listnetworks                    # OK with the assigned addresses once authorized",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "p", Usage: "primary UDP port and local API port (0 = random; local.conf's primaryPort overrides)", Value: -1, DefaultText: "9993"},
			&cli.BoolFlag{Name: "U", Usage: "accepted for zerotier-one compatibility (ztgo needs no root for VL1)"},
			&cli.BoolFlag{Name: "d", Usage: "run in the background, detached from the terminal (as zerotier-one -d); the log still goes to stderr"},
			&cli.BoolFlag{Name: "allow-loopback", Usage: "let 127.0.0.1 paths carry traffic (single-machine tests)"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", Value: "info"},
			&cli.StringFlag{Name: "device", Usage: "network devices: tap (needs root) or none (configs only)", Value: "tap"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() > 1 {
				return fail(exitUsage, "too many arguments: want at most a home directory")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(cmd.String("log-level"))); err != nil {
				return fail(exitUsage, "--log-level %q: want debug, info, warn or error", cmd.String("log-level"))
			}
			port := cmd.Int("p")
			if port < -1 || port > 65535 {
				return fail(exitUsage, "-p %d: want a port in 0..65535", port)
			}
			home := cmd.Args().First()
			if home == "" {
				home = node.HomeFromEnv()
			}
			log := slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, &slog.HandlerOptions{Level: level}))
			var devices node.DeviceFactory
			var dnsPort node.DNSConfigurer
			switch cmd.String("device") {
			case "tap":
				devices = tapDevices()
				if why := tapProblem(); why != "" {
					// Joined networks then show PORT_ERROR (portError -999), as
					// in zerotier-one; VL1 and the controller still work.
					log.Warn("TAP devices cannot be made: " + why + "; joined networks will show PORT_ERROR (run as root, or pass --device none for configs only)")
				}
				if devices != nil {
					// allowDNS: systemd-resolved or resolvconf on Linux.
					a := dns.New(dns.Options{Logger: log})
					defer a.Close()
					dnsPort = a
				}
			case "none":
			default:
				return fail(exitUsage, "--device %q: want tap or none", cmd.String("device"))
			}
			if cmd.Bool("d") {
				if err := daemonize(); err != nil {
					return fail(exitFailure, "-d: %v", err)
				}
				return nil
			}
			n, err := node.Open(node.Options{Home: home, Port: port, Logger: log, AllowLoopback: cmd.Bool("allow-loopback"), Devices: devices, DNS: dnsPort})
			if err != nil {
				return fail(exitFailure, "%v", err)
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			// %p in a profile's path is the process ID: members of one lab
			// share the environment.
			pid := strconv.Itoa(os.Getpid())
			if path := strings.ReplaceAll(os.Getenv("ZTGO_CPUPROFILE"), "%p", pid); path != "" {
				// For `make perf` investigations: a CPU profile of the whole run.
				f, err := os.Create(path)
				if err != nil {
					return fail(exitUsage, "ZTGO_CPUPROFILE: %v", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fail(exitFailure, "ZTGO_CPUPROFILE: %v", err)
				}
				defer pprof.StopCPUProfile()
			}
			if path := strings.ReplaceAll(os.Getenv("ZTGO_MEMPROFILE"), "%p", pid); path != "" {
				// The heap at exit, for the same investigations.
				defer func() {
					if f, err := os.Create(path); err == nil {
						runtime.GC()
						_ = pprof.Lookup("allocs").WriteTo(f, 0)
						f.Close()
					}
				}()
			}
			if err := n.Run(ctx); err != nil {
				return fail(exitFailure, "%v", err)
			}
			return nil
		},
	}
}

// withoutDaemonFlag is the command line a daemon runs with: args without
// -d, so the child does not start yet another.
func withoutDaemonFlag(args []string) []string {
	out := []string{}
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		switch a {
		case "-d", "--d", "-d=true", "--d=true":
			continue
		}
		out = append(out, a)
	}
	return out
}

// zerotier-one writes its port glued to the switch: -p9993.
var gluedPort = regexp.MustCompile(`^-p([0-9]+)$`)

// splitGluedPort turns "run -p9993" into "run -p 9993".
func splitGluedPort(args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	for _, a := range args[1:] {
		if m := gluedPort.FindStringSubmatch(a); m != nil {
			out = append(out, "-p", m[1])
			continue
		}
		out = append(out, a)
	}
	return out
}
