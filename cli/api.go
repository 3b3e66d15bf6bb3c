package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/urfave/cli/v3"
)

// apiCommand is zerotier-cli's "/<path>": GET a raw API path.
func apiCommand() *cli.Command {
	return &cli.Command{
		Name:      "api",
		Usage:     "GET a local API path and print the raw body (zerotier-cli /<path>)",
		ArgsUsage: "/PATH",
		Flags:     apiFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path := cmd.Args().First()
			if !strings.HasPrefix(path, "/") {
				return fail(exitUsage, "want a path starting with /")
			}
			c, err := newAPIClient(cmd)
			if err != nil {
				return err
			}
			status, body := c.do(ctx, http.MethodGet, path)
			if status != http.StatusOK {
				return c.replyError(status, path, body)
			}
			fmt.Fprintln(cmd.Root().Writer, strings.TrimSpace(string(body)))
			return nil
		},
	}
}
