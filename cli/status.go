package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

type statusJSON struct {
	Address           string `json:"address"`
	Version           string `json:"version"`
	Online            bool   `json:"online"`
	TCPFallbackActive bool   `json:"tcpFallbackActive"`
}

type pathJSON struct {
	Address     string `json:"address"`
	LastSend    int64  `json:"lastSend"`
	LastReceive int64  `json:"lastReceive"`
	Preferred   bool   `json:"preferred"`
}

type peerJSON struct {
	Address      string     `json:"address"`
	VersionMajor int        `json:"versionMajor"`
	Version      string     `json:"version"`
	Latency      int        `json:"latency"`
	Role         string     `json:"role"`
	Tunneled     bool       `json:"tunneled"`
	Paths        []pathJSON `json:"paths"`
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:    "info",
		Aliases: []string{"status"},
		Usage:   "print the node's address, version and status (as zerotier-cli info)",
		Flags:   apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			var raw map[string]any
			if err := c.get(ctx, "info", "/status", &raw); err != nil {
				return err
			}
			if cmd.Bool("j") {
				return printJSON(cmd.Root().Writer, raw)
			}
			var s statusJSON
			remarshal(raw, &s)
			state := "OFFLINE"
			switch {
			case s.TCPFallbackActive:
				state = "TUNNELED"
			case s.Online:
				state = "ONLINE"
			}
			_, err = fmt.Fprintf(cmd.Root().Writer, "200 info %s %s %s\n", s.Address, s.Version, state)
			return err
		},
	}
}

func fetchPeers(ctx context.Context, cmd *cli.Command, command string) ([]peerJSON, []any, error) {
	c, err := newAPIClient(cmd)
	if err != nil {
		return nil, nil, err
	}
	var raw []any
	if err := c.get(ctx, command, "/peer", &raw); err != nil {
		return nil, nil, err
	}
	var peers []peerJSON
	remarshal(raw, &peers)
	return peers, raw, nil
}

func preferred(p peerJSON) *pathJSON {
	for i := range p.Paths {
		if p.Paths[i].Preferred {
			return &p.Paths[i]
		}
	}
	return nil
}

func since(now, t int64) int64 {
	if t <= 0 {
		return -1
	}
	return now - t
}

func peerVersion(p peerJSON) string {
	if p.VersionMajor < 0 {
		return "-"
	}
	return p.Version
}

// peerListCommand is peers or listpeers: the same request, two layouts.
func peerListCommand(name, usage string, print func(w io.Writer, now int64, peers []peerJSON)) *cli.Command {
	return &cli.Command{
		Name:  name,
		Usage: usage,
		Flags: apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			peers, raw, err := fetchPeers(ctx, cmd, name)
			if err != nil {
				return err
			}
			if cmd.Bool("j") {
				return printJSON(cmd.Root().Writer, raw)
			}
			print(cmd.Root().Writer, time.Now().UnixMilli(), peers)
			return nil
		},
	}
}

func peersCommand() *cli.Command {
	return peerListCommand("peers", "list peers and how they are reached (as zerotier-cli peers)", func(w io.Writer, now int64, peers []peerJSON) {
		fmt.Fprintln(w, "200 peers")
		fmt.Fprintln(w, "<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>")
		tunneled := false
		for _, p := range peers {
			link := "RELAY"
			if pa := preferred(p); pa != nil {
				kind := "DIRECT   "
				if p.Tunneled {
					kind = "RELAY    "
				}
				link = kind + fmt.Sprintf("%-8d %-8d %s", since(now, pa.LastSend), since(now, pa.LastReceive), pa.Address)
			}
			tunneled = tunneled || p.Tunneled
			fmt.Fprintf(w, "%s %-6s %-6s %5d %s\n", p.Address, peerVersion(p), p.Role, p.Latency, link)
		}
		if tunneled {
			fmt.Fprintln(w, "NOTE: Currently tunneling through a TCP relay. Ensure that UDP is not blocked.")
		}
	})
}

func listpeersCommand() *cli.Command {
	return peerListCommand("listpeers", "list peers, one line each (as zerotier-cli listpeers)", func(w io.Writer, now int64, peers []peerJSON) {
		fmt.Fprintln(w, "200 listpeers <ztaddr> <path> <latency> <version> <role>")
		for _, p := range peers {
			path := "-"
			if pa := preferred(p); pa != nil {
				path = fmt.Sprintf("%s;%d;%d", pa.Address, since(now, pa.LastSend), since(now, pa.LastReceive))
			}
			fmt.Fprintf(w, "200 listpeers %s %s %d %s %s\n", p.Address, path, p.Latency, peerVersion(p), p.Role)
		}
	})
}

func pingCommand() *cli.Command {
	return &cli.Command{
		Name:      "ping",
		Usage:     "send VL1 ECHOs to a node and print the replies (relayed or direct)",
		ArgsUsage: "ADDRESS",
		Flags: append(apiFlags(),
			&cli.IntFlag{Name: "c", Usage: "number of pings", Value: 4},
			&cli.DurationFlag{Name: "W", Usage: "how long to wait for each reply", Value: 5 * time.Second},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() != 1 {
				return fail(exitUsage, "want one 10-digit ZeroTier address")
			}
			a, err := identity.ParseAddress(strings.ToLower(cmd.Args().First()))
			if err != nil || a.IsReserved() {
				return fail(exitUsage, "%q is not a ZeroTier address (10 hex digits)", cmd.Args().First())
			}
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			w := cmd.Root().Writer
			got := 0
			for i := range cmd.Int("c") {
				if i > 0 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(time.Second):
					}
				}
				status, body := c.do(ctx, http.MethodPost, fmt.Sprintf("/ztgo/ping/%s?timeout=%d", a, cmd.Duration("W").Milliseconds()))
				var r struct {
					RTT    int64 `json:"rtt"`
					Direct bool  `json:"direct"`
				}
				switch {
				case status == 0:
					return fail(exitFailure, "Error connecting to the ZeroTier service: %s", body)
				case status == http.StatusOK && jsonInto(body, &r):
					how := "relayed"
					if r.Direct {
						how = "direct"
					}
					got++
					fmt.Fprintf(w, "reply from %s: seq=%d time=%d ms (%s)\n", a, i+1, r.RTT, how)
				default:
					fmt.Fprintf(w, "no reply from %s: seq=%d\n", a, i+1)
				}
			}
			if got == 0 {
				return fail(exitFailure, "no reply from %s", a)
			}
			return nil
		},
	}
}
