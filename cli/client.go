package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/node"
)

// apiFlags are zerotier-cli's switches for reaching the service.
func apiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "D", Usage: "home directory, to find the port and token", Value: node.HomeFromEnv()},
		&cli.IntFlag{Name: "p", Usage: "local API port (default: from zerotier-one.port in the home directory)"},
		&cli.StringFlag{Name: "T", Usage: "auth token (default: authtoken.secret in the home directory)"},
		&cli.StringFlag{Name: "H", Usage: "API host", Value: "127.0.0.1"},
		&cli.BoolFlag{Name: "j", Usage: "print JSON"},
	}
}

// apiClient talks to a running node's local API.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newAPIClient(cmd *cli.Command) (*apiClient, error) {
	home := cmd.String("D")
	port := cmd.Int("p")
	if port == 0 {
		b, err := os.ReadFile(filepath.Join(home, "zerotier-one.port"))
		if err != nil {
			return nil, fail(exitUsage, "missing port and zerotier-one.port not found in %s (is the node running? point -D at its home)", home)
		}
		port, err = strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || port <= 0 || port > 65535 {
			return nil, fail(exitUsage, "%s: not a port number", filepath.Join(home, "zerotier-one.port"))
		}
	}
	token := cmd.String("T")
	if token == "" {
		b, err := os.ReadFile(filepath.Join(home, "authtoken.secret"))
		if err != nil {
			return nil, fail(exitUsage, "authtoken.secret not found or readable in %s (try again as root, or pass -T)", home)
		}
		token = strings.TrimSpace(string(b))
	}
	return &apiClient{
		base:  fmt.Sprintf("http://%s:%d", cmd.String("H"), port),
		token: token,
		http:  &http.Client{Timeout: 70 * time.Second},
	}, nil
}

// do sends a request and returns the status and body. A connection failure
// is status 0 with the error text as body.
func (c *apiClient) do(ctx context.Context, method, path string) (int, []byte) {
	return c.doBody(ctx, method, path, nil)
}

// doBody is do with a JSON body.
func (c *apiClient) doBody(ctx context.Context, method, path string, body []byte) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("X-ZT1-Auth", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b
}

// get fetches path into v, failing like zerotier-cli does.
func (c *apiClient) get(ctx context.Context, command, path string, v any) error {
	status, body := c.do(ctx, http.MethodGet, path)
	if status == 0 {
		return fail(exitFailure, "Error connecting to the ZeroTier service: %s (is 'ztgo run' running?)", body)
	}
	if status != http.StatusOK {
		return fail(exitFailure, "%d %s %s", status, command, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fail(exitFailure, "%s: bad JSON from the service: %v", command, err)
	}
	return nil
}

// printJSON re-indents JSON with one space, as zerotier-cli -j does.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// remarshal converts decoded JSON into a typed value; fields that do not fit
// stay zero.
func remarshal(in, out any) {
	b, _ := json.Marshal(in)
	_ = json.Unmarshal(b, out)
}

func jsonInto(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
