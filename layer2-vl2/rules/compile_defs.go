package rules

import "strings"

// Definitions: capabilities, tags and macros.

// parseCap parses "cap NAME [id N] [default] statements ;".
func (p *parser) parseCap(kw token) error {
	name, err := p.name(kw, "capability")
	if err != nil {
		return err
	}
	c := &capDef{name: name}
	what := "capability " + name.s
	for done := false; !done; {
		t, ok := p.next()
		if !ok || t.semi {
			break
		}
		switch strings.ToLower(t.s) {
		case "id":
			if c.hasID {
				return errAt(t, "%s has two ids", what)
			}
			id, idTok, err := p.number(t, "capability id", 0xffffffff)
			if err != nil {
				return err
			}
			c.id, c.idTok, c.hasID = uint32(id), idTok, true
		case "default":
			c.dflt = true
		default:
			st, closes, err := p.parseStatement(t, what)
			if err != nil {
				return err
			}
			c.body = append(c.body, st)
			done = closes
		}
	}
	if !c.hasID {
		return errAt(name, "%s has no id", what)
	}
	for _, o := range p.prog.caps {
		if o.name.s == c.name.s {
			return errAt(name, "capability %q is defined twice", name.s)
		}
		if o.id == c.id {
			return errAt(c.idTok, "capability id %d is used by both %q and %q", c.id, o.name.s, c.name.s)
		}
	}
	p.prog.caps = append(p.prog.caps, c)
	return nil
}

// parseTag parses "tag NAME id N [enum V NAME]... [flag BITS NAME]... [default V] ;".
func (p *parser) parseTag(kw token) error {
	name, err := p.name(kw, "tag")
	if err != nil {
		return err
	}
	for _, o := range p.prog.tags {
		if o.name.s == name.s {
			return errAt(name, "tag %q is defined twice", name.s)
		}
	}
	tg := &tagDef{name: name, enums: map[string]uint32{}, flags: map[string]uint32{}}
	var dflt *token
	for {
		t, ok := p.next()
		if !ok || t.semi {
			break
		}
		switch strings.ToLower(t.s) {
		case "id":
			if tg.hasID {
				return errAt(t, "tag %q has two ids", name.s)
			}
			id, _, err := p.number(t, "tag id", 0xffffffff)
			if err != nil {
				return err
			}
			tg.id, tg.hasID = uint32(id), true
		case "default":
			if dflt != nil {
				return errAt(t, "tag %q has two defaults", name.s)
			}
			v, err := p.word(t, "a value")
			if err != nil {
				return err
			}
			dflt = &v
		case "enum":
			v, _, err := p.number(t, "enum value", 0xffffffff)
			if err != nil {
				return err
			}
			n, err := p.word(t, "a name")
			if err != nil {
				return err
			}
			if err := p.defineTagValue(tg, n, "enum", tg.enums, uint32(v)); err != nil {
				return err
			}
		case "flag":
			bits, err := p.word(t, "bit numbers")
			if err != nil {
				return err
			}
			mask, err := flagMask(tg, bits)
			if err != nil {
				return err
			}
			n, err := p.word(t, "a name")
			if err != nil {
				return err
			}
			if err := p.defineTagValue(tg, n, "flag", tg.flags, mask); err != nil {
				return err
			}
		default:
			return errAt(t, "unexpected %q in tag %q (expected id, enum, flag or default; missing ';'?)", t.s, name.s)
		}
	}
	if !tg.hasID {
		return errAt(name, "tag %q has no id", name.s)
	}
	if dflt != nil {
		v, err := tagValue(tg, *dflt)
		if err != nil {
			return err
		}
		tg.dflt = &v
	}
	p.prog.tags = append(p.prog.tags, tg)
	return nil
}

func (p *parser) defineTagValue(tg *tagDef, n token, what string, m map[string]uint32, v uint32) error {
	key := strings.ToLower(n.s)
	if !validName(key) {
		return errAt(n, "invalid %s name %q in tag %q", what, n.s, tg.name.s)
	}
	if _, dup := m[key]; dup {
		return errAt(n, "%s %q is defined twice in tag %q", what, n.s, tg.name.s)
	}
	m[key] = v
	return nil
}

// flagMask reads a flag's bits: comma-separated bit numbers 0–31 or names
// of flags defined before.
func flagMask(tg *tagDef, t token) (uint32, error) {
	var mask uint32
	for b := range strings.SplitSeq(strings.ToLower(t.s), ",") {
		if b == "" {
			continue
		}
		if m, ok := tg.flags[b]; ok {
			mask |= m
			continue
		}
		n, ok := parseNum(b)
		if !ok || n > 31 {
			return 0, errAt(t, "invalid flag bit %q in tag %q (a bit number 0-31 or a flag defined before)", b, tg.name.s)
		}
		mask |= 1 << n
	}
	return mask, nil
}

// tagValue resolves a value of tag tg: a flag name, an enum name or a number.
func tagValue(tg *tagDef, t token) (uint32, error) {
	s := strings.ToLower(t.s)
	if v, ok := tg.flags[s]; ok {
		return v, nil
	}
	if v, ok := tg.enums[s]; ok {
		return v, nil
	}
	v, ok := parseNum(s)
	if !ok || v > 0xffffffff {
		return 0, errAt(t, "invalid value %q for tag %q (a number, enum or flag name)", t.s, tg.name.s)
	}
	return uint32(v), nil
}

// parseMacro parses "macro NAME[($a,$b,...)] statements ;".
func (p *parser) parseMacro(kw token) error {
	hdr, err := p.word(kw, "a name")
	if err != nil {
		return err
	}
	name, params := splitCall(hdr.s)
	nameTok := hdr
	nameTok.s = strings.ToLower(name)
	if err := checkName(nameTok, "macro"); err != nil {
		return err
	}
	if _, dup := p.prog.macros[nameTok.s]; dup {
		return errAt(hdr, "macro %q is defined twice", nameTok.s)
	}
	m := &macroDef{name: nameTok, params: map[string]int{}}
	for i, prm := range params {
		prm = strings.ToLower(prm)
		if len(prm) < 2 || prm[0] != '$' {
			return errAt(hdr, "macro parameter %q must be $ followed by a name", prm)
		}
		m.params[prm] = i
	}
	what := "macro " + nameTok.s
	for done := false; !done; {
		t, ok := p.next()
		if !ok || t.semi {
			break
		}
		st, closes, err := p.parseStatement(t, what)
		if err != nil {
			return err
		}
		m.body = append(m.body, st)
		done = closes
	}
	p.prog.macros[nameTok.s] = m
	return nil
}
