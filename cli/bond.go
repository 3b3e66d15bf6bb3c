package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/urfave/cli/v3"
)

// The bond commands print what zerotier-cli 1.14.1 prints (one.cpp), from
// the same API requests: /peer for the list, /bond/show|rotate|setmtu.

// bondPolicyNames are 1.14.1's policy names by code (Bond::getPolicyStrByCode).
var bondPolicyNames = []string{"none", "active-backup", "broadcast", "balance-rr", "balance-xor", "balance-aware"}

type bondPeerJSON struct {
	Address           string `json:"address"`
	IsBonded          bool   `json:"isBonded"`
	BondingPolicyCode int    `json:"bondingPolicyCode"`
	NumAliveLinks     int    `json:"numAliveLinks"`
	NumTotalLinks     int    `json:"numTotalLinks"`
}

func bondCommand() *cli.Command {
	return &cli.Command{
		Name:      "bond",
		Usage:     "multipath bonds: list, show a peer's, rotate its active link, set a link's MTU (as zerotier-cli bond)",
		ArgsUsage: "list | ADDRESS show | ADDRESS rotate | setmtu MTU IFACE IP",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			args := cmd.Args().Slice()
			missing := func() error {
				if c.compat != "" {
					return reply(exitUsage, "(bond) command is missing required arguments")
				}
				return fail(exitUsage, "usage: ztgo bond list | bond ADDRESS show | bond ADDRESS rotate | bond setmtu MTU IFACE IP")
			}
			if len(args) == 0 {
				return missing()
			}
			w := cmd.Root().Writer
			switch {
			case args[0] == "list":
				return bondList(ctx, c, cmd, "bond")
			case args[0] == "setmtu":
				if len(args) < 4 {
					return missing()
				}
				status, body := c.doBody(ctx, http.MethodPost, "/bond/setmtu/"+args[1]+"/"+args[2]+"/"+args[3], []byte("{}"))
				if status != http.StatusOK {
					return reply(exitFailure, "%d Failed to set MTU: %s", status, body)
				}
				fmt.Fprintln(w, "200 setmtu OK")
				return nil
			case len(args[0]) == 10 && len(args) > 1 && args[1] == "rotate":
				status, body := c.doBody(ctx, http.MethodPost, "/bond/rotate/"+args[0], []byte("{}"))
				if status != http.StatusOK {
					return c.replyError(status, "bond", body)
				}
				if cmd.Bool("j") {
					_, err := w.Write([]byte(strings.ReplaceAll(string(body), "\r", "")))
					return err
				}
				fmt.Fprintln(w, "200 rotate OK")
				return nil
			case len(args[0]) == 10 && len(args) > 1 && args[1] == "show":
				var raw map[string]any
				if err := c.get(ctx, "bond", "/bond/show/"+args[0], &raw); err != nil {
					return err
				}
				if cmd.Bool("j") {
					return printJSON(w, raw)
				}
				printBond(w, args[0], raw)
				return nil
			}
			return missing()
		},
	}
}

// listbondsCommand is zerotier-cli's older spelling of bond list.
func listbondsCommand() *cli.Command {
	return &cli.Command{
		Name:   "listbonds",
		Usage:  "list multipath bonds (as zerotier-cli listbonds)",
		Flags:  apiFlags(),
		Hidden: true,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			return bondList(ctx, c, cmd, "listbonds")
		},
	}
}

func bondList(ctx context.Context, c *apiClient, cmd *cli.Command, command string) error {
	var raw []any
	if err := c.get(ctx, command, "/peer", &raw); err != nil {
		return err
	}
	w := cmd.Root().Writer
	if cmd.Bool("j") {
		return printJSON(w, raw)
	}
	var peers []bondPeerJSON
	remarshal(raw, &peers)
	fmt.Fprintln(w, "    <peer>                        <bondtype>     <links>")
	found := false
	for _, p := range peers {
		if !p.IsBonded {
			continue
		}
		found = true
		policy := "none"
		if p.BondingPolicyCode >= 0 && p.BondingPolicyCode < len(bondPolicyNames) {
			policy = bondPolicyNames[p.BondingPolicyCode]
		}
		fmt.Fprintf(w, "%10s  %32s         %d/%d\n", p.Address, policy, int8(p.NumAliveLinks), int8(p.NumTotalLinks))
	}
	if !found {
		fmt.Fprintln(w, "      NONE\t\t\t\tNONE\t    NONE       NONE")
	}
	return nil
}

// jsonNum, jsonStr are OSUtils::jsonInt/jsonDouble/jsonString: a number,
// a bool as 0/1, or the default.
func jsonNum(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func jsonStr(v any, dflt string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return dflt
}

// printBond is zerotier-cli's bond <peer> show.
func printBond(w io.Writer, peer string, j map[string]any) {
	num := func(k string) int { return int(jsonNum(j[k])) }
	fmt.Fprintf(w, "Peer                   : %s\n", peer)
	fmt.Fprintf(w, "Bond                   : %s\n", jsonStr(j["bondingPolicyStr"], "-"))
	fmt.Fprintf(w, "Link Select Method     : %d\n", num("linkSelectMethod"))
	fmt.Fprintf(w, "Links                  : %d/%d\n", num("numAliveLinks"), num("numTotalLinks"))
	fmt.Fprintf(w, "Failover Interval (ms) : %d\n", num("failoverInterval"))
	fmt.Fprintf(w, "Up Delay (ms)          : %d\n", num("upDelay"))
	fmt.Fprintf(w, "Down Delay (ms)        : %d\n", num("downDelay"))
	fmt.Fprintf(w, "Packets Per Link       : %d\n", num("packetsPerLink"))
	paths, ok := j["paths"].([]any)
	if !ok {
		return
	}
	dashes := strings.Repeat("-", 120)
	fmt.Fprintf(w, "\nidx                  interface                                  path               socket             local port\n%s\n", dashes)
	for i, x := range paths {
		p, _ := x.(map[string]any)
		fmt.Fprintf(w, "%2d: %26s %51s %016x %12d\n", i, jsonStr(p["ifname"], "-"), jsonStr(p["address"], "-"),
			uint64(int64(jsonNum(p["localSocket"]))), uint16(jsonNum(p["localPort"])))
	}
	fmt.Fprintf(w, "\nidx     lat      pdv    capacity    qual      rx_age      tx_age  eligible  bonded   flows\n%s\n", dashes)
	for i, x := range paths {
		p, _ := x.(map[string]any)
		n := func(k string) int { return int(jsonNum(p[k])) }
		fmt.Fprintf(w, "%2d: %8.2f %8.2f %10d %7.4f %11d %11d %9d %7d %7d\n", i,
			jsonNum(p["latencyMean"]), jsonNum(p["latencyVariance"]), n("givenLinkSpeed"), jsonNum(p["relativeQuality"]),
			n("lastInAge"), n("lastOutAge"), n("eligible"), n("bonded"), n("assignedFlowCount"))
	}
}
