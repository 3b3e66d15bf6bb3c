package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer2-vl2/controller"
	"github.com/ztgo/ztgo/layer2-vl2/rules"
	"github.com/ztgo/ztgo/node"
)

func controllerCommand() *cli.Command {
	return &cli.Command{
		Name:  "controller",
		Usage: "drive this node's network controller, and compile rules",
		Commands: []*cli.Command{
			{
				Name:  "rules",
				Usage: "the ZeroTier rules language",
				Commands: []*cli.Command{{
					Name:      "compile",
					Usage:     "compile a rules file (the language ZeroTier Central accepts) into the controller's JSON",
					ArgsUsage: "FILE",
					Action:    rulesCompile,
				}},
			},
			{
				Name:  "network",
				Usage: "networks of this controller",
				Commands: []*cli.Command{
					{Name: "create", Usage: "create a network; JSON fields from --json (e.g. '{\"name\":\"lab\"}')", Flags: append(apiFlags(),
						&cli.StringFlag{Name: "json", Usage: "network fields as JSON", Value: "{}"},
						&cli.StringFlag{Name: "rules", Usage: "a rules-language file to compile into the network's rules"}),
						Action: networkCreate},
					{Name: "list", Usage: "list network IDs", Flags: apiFlags(), Action: func(ctx context.Context, cmd *cli.Command) error {
						return controllerGet(ctx, cmd, "/controller/network")
					}},
					{Name: "show", Usage: "print a network", ArgsUsage: "NETWORK_ID", Flags: apiFlags(), Action: func(ctx context.Context, cmd *cli.Command) error {
						if !validNWID(cmd.Args().First()) {
							return fail(exitUsage, "want a 16-digit network ID")
						}
						return controllerGet(ctx, cmd, "/controller/network/"+cmd.Args().First())
					}},
				},
			},
			{
				Name:      "export",
				Usage:     "copy this node's controller database (local.conf controllerDbPath, or controller.d) to DEST: a directory, or postgres:<libpq connection string>",
				ArgsUsage: "DEST",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "D", Usage: "home directory", Value: node.HomeFromEnv()}},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return controllerCopy(ctx, cmd, true)
				},
			},
			{
				Name:      "import",
				Usage:     "copy SOURCE (a directory, or postgres:<libpq connection string>) into this node's controller database; records with the same IDs are replaced",
				ArgsUsage: "SOURCE",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "D", Usage: "home directory", Value: node.HomeFromEnv()}},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return controllerCopy(ctx, cmd, false)
				},
			},
			{
				Name:  "member",
				Usage: "members of a network",
				Commands: []*cli.Command{
					{Name: "list", ArgsUsage: "NETWORK_ID", Usage: "list members", Flags: apiFlags(), Action: func(ctx context.Context, cmd *cli.Command) error {
						if !validNWID(cmd.Args().First()) {
							return fail(exitUsage, "want a 16-digit network ID")
						}
						return controllerGet(ctx, cmd, "/controller/network/"+cmd.Args().First()+"/member")
					}},
					{Name: "authorize", ArgsUsage: "NETWORK_ID ADDRESS", Usage: "authorize a member", Flags: apiFlags(), Action: func(ctx context.Context, cmd *cli.Command) error {
						return memberSet(ctx, cmd, true)
					}},
					{Name: "deauthorize", ArgsUsage: "NETWORK_ID ADDRESS", Usage: "deauthorize a member (revoked everywhere at once)", Flags: apiFlags(), Action: func(ctx context.Context, cmd *cli.Command) error {
						return memberSet(ctx, cmd, false)
					}},
				},
			},
		},
	}
}

func rulesCompile(ctx context.Context, cmd *cli.Command) error {
	if cmd.NArg() != 1 {
		return fail(exitUsage, "want one rules file")
	}
	src, err := readFile(cmd.Args().First())
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	c, err := rules.Compile(string(src))
	if err != nil {
		return fail(exitFailure, "%s:%v", cmd.Args().First(), err)
	}
	out := map[string]any{"rules": c.Rules, "capabilities": byName(c.Capabilities), "tags": byName(c.Tags)}
	return printJSON(cmd.Root().Writer, out)
}

// byName lists a map's values in the order of their names.
func byName[V any](m map[string]V) []any {
	out := []any{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

func controllerGet(ctx context.Context, cmd *cli.Command, path string) error {
	c, err := newAPIClient(cmd)
	if err != nil {
		return err
	}
	var v any
	if err := c.get(ctx, "controller", path, &v); err != nil {
		return err
	}
	return printJSON(cmd.Root().Writer, v)
}

func networkCreate(ctx context.Context, cmd *cli.Command) error {
	var body map[string]any
	if err := json.Unmarshal([]byte(cmd.String("json")), &body); err != nil {
		return fail(exitUsage, "--json: %v (want a JSON object)", err)
	}
	if f := cmd.String("rules"); f != "" {
		src, err := readFile(f)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		body["rulesSource"] = string(src)
	}
	c, err := newAPIClient(cmd)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(body)
	status, resp := c.doBody(ctx, http.MethodPost, "/controller/network", b)
	if status != http.StatusOK {
		return fail(exitFailure, "%d controller network create %s", status, strings.TrimSpace(string(resp)))
	}
	var v any
	json.Unmarshal(resp, &v)
	return printJSON(cmd.Root().Writer, v)
}

func memberSet(ctx context.Context, cmd *cli.Command, authorized bool) error {
	nwid, addr := cmd.Args().Get(0), strings.ToLower(cmd.Args().Get(1))
	if cmd.NArg() != 2 || !validNWID(nwid) || len(addr) != 10 {
		return fail(exitUsage, "want NETWORK_ID (16 hex digits) and ADDRESS (10 hex digits)")
	}
	c, err := newAPIClient(cmd)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"authorized": authorized})
	status, resp := c.doBody(ctx, http.MethodPost, "/controller/network/"+strings.ToLower(nwid)+"/member/"+addr, b)
	if status != http.StatusOK {
		return fail(exitFailure, "%d controller member %s", status, strings.TrimSpace(string(resp)))
	}
	var v any
	json.Unmarshal(resp, &v)
	return printJSON(cmd.Root().Writer, v)
}

// controllerCopy exports the node's controller database to the argument,
// or imports the argument into it (run it with the node stopped, or at
// least not changing its networks).
func controllerCopy(ctx context.Context, cmd *cli.Command, export bool) error {
	if cmd.NArg() != 1 || cmd.Args().First() == "" {
		return fail(exitUsage, "want one controller database: a directory, or postgres:<connection string>")
	}
	home := node.Home(cmd.String("D"))
	conf, err := home.LoadLocalConf(nil)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	var id *identity.Identity
	for _, name := range []string{"identity.public", "identity.secret"} {
		if b, err := os.ReadFile(filepath.Join(string(home), name)); err == nil {
			if id, err = identity.Parse(strings.TrimSpace(string(b))); err == nil {
				break
			}
		}
	}
	if id == nil {
		return fail(exitFailure, "no identity in %s: the controller's address names its networks", home)
	}
	ours, other := home.ControllerDbPath(conf), cmd.Args().First()
	from, to := ours, other
	if !export {
		from, to = other, ours
	}
	src, err := controller.OpenStore(ctx, from, nil)
	if err != nil {
		return fail(exitFailure, "%s: %v", redact(from), err)
	}
	defer src.Close()
	dst, err := controller.OpenStore(ctx, to, nil)
	if err != nil {
		return fail(exitFailure, "%s: %v", redact(to), err)
	}
	defer dst.Close()
	nets, members, err := controller.Copy(ctx, src, dst, id.Address().String())
	if err != nil {
		return fail(exitFailure, "copied %d networks and %d members, then: %v", nets, members, err)
	}
	fmt.Fprintf(cmd.Root().Writer, "copied %d networks and %d members from %s to %s\n", nets, members, redact(from), redact(to))
	return nil
}

// redact keeps a PostgreSQL connection string's password off the screen.
func redact(path string) string {
	if strings.HasPrefix(path, "postgres:") {
		return "postgres:…"
	}
	return path
}
