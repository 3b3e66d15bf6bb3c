package cli

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

func tcpRelayCommand() *cli.Command {
	return &cli.Command{
		Name:  "tcp-relay",
		Usage: "run a TCP relay for nodes that cannot use UDP (like ZeroTier's tcp-proxy)",
		Description: "Nodes whose UDP is blocked connect over TCP (by default ZeroTier's relay on port 443;\n" +
			"point them here with local.conf settings.tcpFallbackRelay = \"<ip>/<port>\"). The relay\n" +
			"forwards their datagrams over UDP and the replies back; it never decrypts anything.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "TCP address to listen on", Value: "0.0.0.0:443"},
			&cli.IntFlag{Name: "max-conns", Usage: "most clients at once", Value: 1024},
			&cli.DurationFlag{Name: "idle", Usage: "close clients idle this long", Value: 300 * time.Second},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() > 0 {
				return fail(exitUsage, "unexpected argument %q", cmd.Args().First())
			}
			if cmd.Int("max-conns") < 1 || cmd.Duration("idle") <= 0 {
				return fail(exitUsage, "--max-conns and --idle must be positive")
			}
			ln, err := net.Listen("tcp", cmd.String("listen"))
			if err != nil {
				return fail(exitFailure, "%v (is the port free? ports below 1024 need root)", err)
			}
			log := slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, nil))
			log.Info("tcp relay listening", "addr", ln.Addr().String())
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := &transport.RelayServer{MaxConns: cmd.Int("max-conns"), IdleTimeout: cmd.Duration("idle"), Log: log}
			if err := srv.Serve(ctx, ln); err != nil {
				return fail(exitFailure, "%v", err)
			}
			return nil
		},
	}
}
