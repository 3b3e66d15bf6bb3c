package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// personality rewrites the arguments when the binary is invoked through a
// link named zerotier-cli, zerotier-idtool or zerotier-one, so scripts
// written for those keep working.
func personality(args []string) []string {
	if len(args) == 0 {
		return args
	}
	name := filepath.Base(args[0])
	switch {
	case strings.Contains(name, "zerotier-cli"):
		return cliArgs(args)
	case strings.Contains(name, "zerotier-idtool"):
		return idtoolArgs(args)
	case strings.Contains(name, "zerotier-one"):
		return append([]string{args[0], "run"}, args[1:]...)
	}
	return args
}

// cliArgs maps `zerotier-cli [-switches] <command> [args]` onto ztgo: the
// glued switches (-D<path>, -p<port>, -T<token>, -H<host>) become flags.
func cliArgs(args []string) []string {
	var flags, rest []string
	for _, a := range args[1:] {
		switch {
		case len(rest) == 0 && a == "-j":
			flags = append(flags, "-j")
		case len(rest) == 0 && a == "-q":
		case len(rest) == 0 && a == "-v":
			return []string{args[0], "--version"}
		case len(rest) == 0 && (a == "-h" || a == "-?"):
			return []string{args[0], "--help"}
		case len(rest) == 0 && len(a) > 2 && a[0] == '-' && strings.ContainsRune("DpTH", rune(a[1])):
			flags = append(flags, "-"+a[1:2], a[2:])
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return []string{args[0], "--help"}
	}
	cmd := rest[0]
	switch cmd {
	case "status":
		cmd = "info"
	case "dump":
		cmd = "info"
	}
	if strings.HasPrefix(cmd, "/") {
		return append([]string{args[0], "api", cmd}, flags...)
	}
	out := []string{args[0], cmd}
	out = append(out, flags...)
	return append(out, rest[1:]...)
}

// idtoolArgs maps zerotier-idtool's commands onto ztgo's.
func idtoolArgs(args []string) []string {
	if len(args) < 2 {
		return []string{args[0], "identity", "--help"}
	}
	switch args[1] {
	case "getpublic":
		return append([]string{args[0], "identity", "public"}, args[2:]...)
	case "genmoon":
		return append([]string{args[0], "world", "create"}, args[2:]...)
	case "initmoon":
		return append([]string{args[0], "identity", "initmoon"}, args[2:]...)
	}
	return append([]string{args[0], "identity"}, args[1:]...)
}

// writeInitMoon prints zerotier-idtool initmoon's JSON template for a moon
// whose root is id, with a fresh signing key.
func writeInitMoon(w io.Writer, idPublic, address string) error {
	kp, err := world.GenerateKeyPair(rand.Reader)
	if err != nil {
		return err
	}
	out := map[string]any{
		"id":                    fmt.Sprintf("%016s", address),
		"objtype":               "world",
		"roots":                 []any{map[string]any{"identity": idPublic, "stableEndpoints": []string{}}},
		"signingKey":            hex.EncodeToString(kp.Public[:]),
		"signingKey_SECRET":     hex.EncodeToString(kp.Secret[:]),
		"updatesMustBeSignedBy": hex.EncodeToString(kp.Public[:]),
		"worldType":             "moon",
	}
	b, _ := json.MarshalIndent(out, "", " ")
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
