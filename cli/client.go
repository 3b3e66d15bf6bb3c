package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
		&cli.IntFlag{Name: "p", Usage: "local API port", DefaultText: "the port the running node wrote to zerotier-one.port in -D's directory"},
		&cli.StringFlag{Name: "T", Usage: "auth token (default: authtoken.secret in the home directory)"},
		&cli.StringFlag{Name: "H", Usage: "API host", Value: "127.0.0.1"},
		&cli.BoolFlag{Name: "j", Usage: "print JSON"},
	}
}

// apiClient talks to a running node's local API.
type apiClient struct {
	base, token string
	http        *http.Client
	// compat is the program name when ztgo runs as zerotier-cli: replies
	// and errors are then printed as zerotier-cli prints them.
	compat string
	// portFile is zerotier-one.port's path when the port came from it.
	portFile string
}

func newAPIClient(cmd *cli.Command) (*apiClient, error) {
	compat := cliCompat(cmd)
	home := cmd.String("D")
	port := cmd.Int("p")
	portFile := filepath.Join(home, "zerotier-one.port")
	usedPortFile := port == 0
	if port == 0 {
		b, err := os.ReadFile(portFile)
		if err == nil {
			port, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		switch {
		case compat != "" && (err != nil || port <= 0 || port > 65535):
			return nil, verbatim(exitUsage, "%s: missing port and zerotier-one.port not found in %s", compat, home)
		case errors.Is(err, fs.ErrNotExist):
			return nil, fail(exitUsage, "missing port and zerotier-one.port not found in %s (is the node running? point -D at its home)", home)
		case err != nil || port <= 0 || port > 65535:
			return nil, fail(exitUsage, "%s: not a port number", portFile)
		}
	}
	token := cmd.String("T")
	if token == "" {
		token = readToken(home)
		if token == "" {
			if compat != "" {
				return nil, verbatim(exitUsage, "%s: authtoken.secret not found or readable in %s (try again as root)", compat, home)
			}
			return nil, fail(exitUsage, "authtoken.secret not found or readable in %s (try again as root, or pass -T)", home)
		}
	}
	return &apiClient{
		base:     fmt.Sprintf("http://%s:%d", cmd.String("H"), port),
		token:    token,
		http:     &http.Client{Timeout: 70 * time.Second},
		compat:   compat,
		portFile: map[bool]string{true: portFile}[usedPortFile],
	}, nil
}

// readToken reads authtoken.secret from home, else (as zerotier-cli does on
// Linux and BSD) ~/.zeroTierOneAuthToken.
func readToken(home string) string {
	b, err := os.ReadFile(filepath.Join(home, "authtoken.secret"))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		if h := os.Getenv("HOME"); h != "" {
			b, _ = os.ReadFile(filepath.Join(h, ".zeroTierOneAuthToken"))
		}
	}
	return strings.TrimSpace(string(b))
}

// connectionError is the error for a service that cannot be reached.
func (c *apiClient) connectionError(body []byte) error {
	if c.compat != "" {
		return reply(exitFailure, "Error connecting to the ZeroTier service: connection failed\n\n"+
			"Please check that the service is running and that TCP port 9993 can be contacted via 127.0.0.1.")
	}
	if c.portFile != "" {
		return fail(exitFailure, "the node is not running: nothing answers at %s, the port in %s (left by a node that has stopped; start one with 'ztgo run')", strings.TrimPrefix(c.base, "http://"), c.portFile)
	}
	return fail(exitFailure, "Error connecting to the ZeroTier service at %s: %s (is 'ztgo run' running?)", strings.TrimPrefix(c.base, "http://"), body)
}

// replyError is the error for a reply other than 200: zerotier-cli prints
// `<status> <command> <body>` on stdout (status 0 when it could not connect).
func (c *apiClient) replyError(status int, command string, body []byte) error {
	if c.compat != "" {
		if status == 0 {
			body = []byte("connection failed")
		}
		return reply(exitFailure, "%d %s %s", status, command, strings.TrimSpace(string(body)))
	}
	if status == 0 {
		return c.connectionError(body)
	}
	return fail(exitFailure, "%d %s %s", status, command, strings.TrimSpace(string(body)))
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
		return c.connectionError(body)
	}
	if err := json.Unmarshal(body, new(any)); err != nil {
		if c.compat != "" {
			return reply(exitFailure, "%d %s invalid JSON response (%v)", status, command, err)
		}
		if status == http.StatusOK {
			return fail(exitFailure, "%s: bad JSON from the service: %v", command, err)
		}
	}
	if status != http.StatusOK {
		return c.replyError(status, command, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fail(exitFailure, "%s: unexpected JSON from the service: %v", command, err)
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
