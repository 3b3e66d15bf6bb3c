package rules

import (
	"slices"
	"strings"
)

// Bounds on macro expansion, so that hostile source cannot recurse forever
// or expand exponentially.
const (
	maxIncludeDepth = 32
	maxIncludes     = 10000
)

// renderer turns parsed statements into rules.
type renderer struct {
	prog     *program
	tags     map[string]*tagDef
	includes int
}

func (prog *program) render() (*Compiled, error) {
	rn := &renderer{prog: prog, tags: map[string]*tagDef{}}
	out := &Compiled{
		Rules:        []any{},
		Capabilities: map[string]map[string]any{},
		Tags:         map[string]map[string]any{},
	}
	for _, tg := range prog.tags {
		rn.tags[tg.name.s] = tg
		var dflt any
		if tg.dflt != nil {
			dflt = float64(*tg.dflt)
		}
		out.Tags[tg.name.s] = map[string]any{"id": float64(tg.id), "default": dflt}
	}
	for _, c := range prog.caps {
		var rs []Rule
		if err := rn.statements(c.body, nil, 0, &rs, MaxCapabilityRules, "capability "+c.name.s); err != nil {
			return nil, err
		}
		out.Capabilities[c.name.s] = map[string]any{"id": float64(c.id), "default": c.dflt, "rules": renderJSON(rs)}
	}
	var rs []Rule
	if err := rn.statements(prog.base, nil, 0, &rs, MaxNetworkRules, "the base rule set"); err != nil {
		return nil, err
	}
	out.Rules = renderJSON(rs)
	return out, nil
}

// renderJSON renders rules as the controller stores them.
func renderJSON(rs []Rule) []any {
	js := make([]any, 0, len(rs))
	for _, r := range rs {
		js = append(js, r.JSON())
	}
	return js
}

// statements appends the rules of sts to out, expanding includes with
// params as the macro parameters in scope.
func (rn *renderer) statements(sts []statement, params map[string]string, depth int, out *[]Rule, limit int, what string) error {
	for _, st := range sts {
		if st.name == "include" {
			if err := rn.include(st, params, depth, out, limit, what); err != nil {
				return err
			}
			continue
		}
		for _, m := range st.matches {
			args, err := substitute(m.args, params)
			if err != nil {
				return err
			}
			r, err := matchRule(m, args, rn.tags)
			if err != nil {
				return err
			}
			*out = append(*out, r)
		}
		args, err := substitute(st.args, params)
		if err != nil {
			return err
		}
		r, err := actionRule(st, args)
		if err != nil {
			return err
		}
		*out = append(*out, r)
		if len(*out) > limit {
			return errAt(st.action, "%s has more than %d rules", what, limit)
		}
	}
	return nil
}

func (rn *renderer) include(st statement, params map[string]string, depth int, out *[]Rule, limit int, what string) error {
	ref := st.args[0]
	rn.includes++
	if depth >= maxIncludeDepth || rn.includes > maxIncludes {
		return errAt(ref, "macro expansion too deep or too large (a recursive include?)")
	}
	name, args := splitCall(ref.s)
	m := rn.prog.macros[strings.ToLower(name)]
	if m == nil {
		return errAt(ref, "unknown macro %q", name)
	}
	if len(args) < len(m.params) {
		return errAt(ref, "macro %q needs %d parameters, got %d", m.name.s, len(m.params), len(args))
	}
	inner := make(map[string]string, len(m.params))
	for p, i := range m.params {
		a := args[i]
		if strings.HasPrefix(a, "$") { // passing on a parameter of the including macro
			v, ok := params[strings.ToLower(a)]
			if !ok {
				return errAt(ref, "undefined variable %q", a)
			}
			a = v
		}
		inner[p] = a
	}
	return rn.statements(m.body, inner, depth+1, out, limit, what)
}

// substitute replaces $parameters by the values they have in this include.
func substitute(ts []token, params map[string]string) ([]token, error) {
	var out []token
	for i, t := range ts {
		if !strings.HasPrefix(t.s, "$") {
			continue
		}
		v, ok := params[strings.ToLower(t.s)]
		if !ok {
			return nil, errAt(t, "undefined variable %q", t.s)
		}
		if out == nil {
			out = slices.Clone(ts)
		}
		out[i].s = v
	}
	if out == nil {
		return ts, nil
	}
	return out, nil
}

// actionRule builds a statement's action.
func actionRule(st statement, args []token) (Rule, error) {
	switch st.name {
	case "drop":
		return Rule{Type: ActionDrop}, nil
	case "accept":
		return Rule{Type: ActionAccept}, nil
	case "break":
		return Rule{Type: ActionBreak}, nil
	case "redirect":
		a, err := ztAddress(args[0])
		return Rule{Type: ActionRedirect, Address: a}, err
	}
	// tee, watch: maximum length (0 = whole frame, -1 = 65535) and target.
	r := Rule{Type: ActionTee}
	if st.name == "watch" {
		r.Type = ActionWatch
	}
	if args[0].s == "-1" {
		r.Length = 0xffff
	} else {
		n, ok := parseNum(args[0].s)
		if !ok || n > 0xffff {
			return r, errAt(args[0], "invalid %s length %q (0 for the whole frame, up to 65535)", st.name, args[0].s)
		}
		r.Length = uint16(n)
	}
	var err error
	r.Address, err = ztAddress(args[1])
	return r, err
}
