package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/urfave/cli/v3"
)

type networkJSON struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	MAC               string   `json:"mac"`
	Status            string   `json:"status"`
	Type              string   `json:"type"`
	PortDeviceName    string   `json:"portDeviceName"`
	AssignedAddresses []string `json:"assignedAddresses"`
}

func validNWID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

func joinCommand() *cli.Command {
	return &cli.Command{
		Name:      "join",
		Usage:     "join a network (as zerotier-cli join)",
		ArgsUsage: "NETWORK_ID",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return joinLeave(ctx, cmd, "join", http.MethodPost)
		},
	}
}

func leaveCommand() *cli.Command {
	return &cli.Command{
		Name:      "leave",
		Usage:     "leave a network (as zerotier-cli leave)",
		ArgsUsage: "NETWORK_ID",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return joinLeave(ctx, cmd, "leave", http.MethodDelete)
		},
	}
}

func joinLeave(ctx context.Context, cmd *cli.Command, name, method string) error {
	nwid := cmd.Args().First()
	if cmd.NArg() != 1 || !validNWID(nwid) {
		fmt.Fprintln(cmd.Root().Writer, "invalid network id")
		return &exitError{code: exitUsage}
	}
	if strings.Trim(nwid, "0") == "" && cliCompat(cmd) == "" {
		return fail(exitUsage, "network ID %s is refused: no network has it (a network ID is its controller's 10-digit address and 6 more hex digits, e.g. 8056c2e21c000001)", nwid)
	}
	c, err := newAPIClient(cmd)
	if err != nil {
		return err
	}
	var body []byte
	if method == http.MethodPost {
		body = []byte("{}")
	}
	status, resp := c.doBody(ctx, method, "/network/"+strings.ToLower(nwid), body)
	if status != http.StatusOK {
		return c.replyError(status, name, resp)
	}
	if cmd.Bool("j") {
		fmt.Fprintln(cmd.Root().Writer, strings.TrimSpace(string(resp)))
		return nil
	}
	fmt.Fprintf(cmd.Root().Writer, "200 %s OK\n", name)
	return nil
}

func listnetworksCommand() *cli.Command {
	return &cli.Command{
		Name:  "listnetworks",
		Usage: "list joined networks (as zerotier-cli listnetworks)",
		Flags: apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			var raw []any
			if err := c.get(ctx, "listnetworks", "/network", &raw); err != nil {
				return err
			}
			w := cmd.Root().Writer
			if cmd.Bool("j") {
				return printJSON(w, raw)
			}
			var nets []networkJSON
			remarshal(raw, &nets)
			fmt.Fprintln(w, "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>")
			for _, n := range nets {
				ips := strings.Join(n.AssignedAddresses, ",")
				if ips == "" {
					ips = "-"
				}
				fmt.Fprintf(w, "200 listnetworks %s %s %s %s %s %s %s\n", n.ID, n.Name, n.MAC, n.Status, n.Type, n.PortDeviceName, ips)
			}
			return nil
		},
	}
}
