package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

func setCommand() *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "change a network's local setting: allowManaged, allowGlobal, allowDefault, allowDNS (as zerotier-cli set)",
		ArgsUsage: "NETWORK_ID KEY=VALUE",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() != 2 || !strings.Contains(cmd.Args().Get(1), "=") {
				return fail(exitUsage, "usage: ztgo set NETWORK_ID allowManaged|allowGlobal|allowDefault|allowDNS=true|false")
			}
			nwid := cmd.Args().Get(0)
			if !validNWID(nwid) {
				return fail(exitUsage, "%q is not a network ID (16 hex digits)", nwid)
			}
			key, value, _ := strings.Cut(cmd.Args().Get(1), "=")
			switch key {
			case "allowManaged", "allowGlobal", "allowDefault", "allowDNS":
			default:
				return nil // zerotier-cli prints nothing for other keys
			}
			on := strings.HasPrefix(value, "t") || strings.HasPrefix(value, "1")
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]bool{key: on})
			status, resp := c.doBody(ctx, http.MethodPost, "/network/"+strings.ToLower(nwid), body)
			if status != http.StatusOK {
				return c.replyError(status, "set", resp)
			}
			fmt.Fprintln(cmd.Root().Writer, strings.TrimSpace(string(resp)))
			return nil
		},
	}
}

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print one field of a joined network; also ip, ip4, ip6, ip6plane, ip6prefix (as zerotier-cli get)",
		ArgsUsage: "NETWORK_ID KEY",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() != 2 {
				return fail(exitUsage, "usage: ztgo get NETWORK_ID KEY")
			}
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			var nets []map[string]any
			if err := c.get(ctx, "get", "/network", &nets); err != nil {
				return err
			}
			w := cmd.Root().Writer
			nwid, key := cmd.Args().Get(0), cmd.Args().Get(1)
			for _, n := range nets {
				if n["id"] != nwid {
					continue
				}
				var ips []netip.Addr
				if list, ok := n["assignedAddresses"].([]any); ok {
					for _, a := range list {
						if p, err := netip.ParsePrefix(fmt.Sprint(a)); err == nil {
							ips = append(ips, p.Addr())
						}
					}
				}
				switch key {
				case "ip", "ip4", "ip6", "ip6plane", "ip6prefix":
					for _, ip := range ips {
						s := ip.String()
						switch {
						case key == "ip4" && !ip.Is4(), key == "ip6" && !ip.Is6(),
							(key == "ip6plane" || key == "ip6prefix") && !strings.HasPrefix(s, "fc"):
							continue
						case key == "ip6prefix":
							s = s[:min(len(s), 24)]
						}
						fmt.Fprintln(w, s)
					}
					return nil
				}
				v, ok := n[key]
				if !ok {
					fmt.Fprintln(w, "error, unknown property name")
					return nil
				}
				switch x := v.(type) {
				case bool:
					if x {
						fmt.Fprintln(w, "1")
					} else {
						fmt.Fprintln(w, "0")
					}
				case float64:
					fmt.Fprintln(w, int64(x))
				case string:
					fmt.Fprintln(w, x)
				default:
					b, _ := json.Marshal(x)
					fmt.Fprintln(w, string(b))
				}
				return nil
			}
			fmt.Fprintln(cmd.Root().ErrWriter, "unknown network ID, check that you are a member of the network")
			return nil
		},
	}
}

func orbitCommand() *cli.Command {
	return &cli.Command{
		Name:      "orbit",
		Usage:     "orbit a moon, fetching it from a seed node (as zerotier-cli orbit)",
		ArgsUsage: "WORLD_ID SEED",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() != 2 {
				return fail(exitUsage, "usage: ztgo orbit WORLD_ID SEED (both 10 hex digits)")
			}
			id, err1 := identity.ParseAddress(strings.ToLower(cmd.Args().Get(0)))
			seed, err2 := identity.ParseAddress(strings.ToLower(cmd.Args().Get(1)))
			if err1 != nil || err2 != nil || id == 0 || seed == 0 {
				return nil // zerotier-cli does nothing then
			}
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"seed": seed.String()})
			status, resp := c.doBody(ctx, http.MethodPost, "/moon/"+id.String(), body)
			if status != http.StatusOK {
				return c.replyError(status, "orbit", resp)
			}
			fmt.Fprintln(cmd.Root().Writer, "200 orbit OK")
			return nil
		},
	}
}

func deorbitCommand() *cli.Command {
	return &cli.Command{
		Name:      "deorbit",
		Usage:     "leave a moon (as zerotier-cli deorbit)",
		ArgsUsage: "WORLD_ID",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			id, err := identity.ParseAddress(strings.ToLower(cmd.Args().First()))
			if cmd.NArg() != 1 || err != nil {
				return fail(exitUsage, "usage: ztgo deorbit WORLD_ID (10 hex digits)")
			}
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			status, resp := c.do(ctx, http.MethodDelete, "/moon/"+id.String())
			if status != http.StatusOK {
				return c.replyError(status, "deorbit", resp)
			}
			fmt.Fprintln(cmd.Root().Writer, "200 deorbit OK")
			return nil
		},
	}
}

func listmoonsCommand() *cli.Command {
	return &cli.Command{
		Name:  "listmoons",
		Usage: "list orbited moons, as JSON (as zerotier-cli listmoons)",
		Flags: apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			var v any
			if err := c.get(ctx, "listmoons", "/moon", &v); err != nil {
				return err
			}
			return printJSON(cmd.Root().Writer, v)
		},
	}
}
