package flow

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cond is a parsed condition expression of a Condition node: comparisons
// (==, !=, >, >=, <, <=) between the node's input names and literals
// (double-quoted strings, numbers, true, false), combined with and, or,
// not and parentheses. Numbers compare numerically, strings by equality
// and byte order, booleans by equality; comparing values of different
// types is an error, never silently false.
type Cond struct {
	src  string
	root *condNode
}

type condOp uint8

const (
	opIdent condOp = iota
	opLit
	opNot
	opAnd
	opOr
	opEq
	opNe
	opGt
	opGe
	opLt
	opLe
)

type condNode struct {
	op   condOp
	name string // opIdent
	lit  Value  // opLit
	l, r *condNode
}

var condOpText = map[string]condOp{"==": opEq, "!=": opNe, ">": opGt, ">=": opGe, "<": opLt, "<=": opLe}

type condToken struct {
	kind string // "ident", "num", "str", "op", "(", ")", "eof"
	text string
	pos  int
}

func lexCond(s string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{kind: string(c), text: string(c), pos: i})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			op := s[i:j]
			if _, ok := condOpText[op]; !ok {
				return nil, fmt.Errorf("unknown operator %q at offset %d", op, i)
			}
			toks = append(toks, condToken{kind: "op", text: op, pos: i})
			i = j
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			str, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("bad string at offset %d", i)
			}
			toks = append(toks, condToken{kind: "str", text: str, pos: i})
			i = j + 1
		case c == '-' || c >= '0' && c <= '9' || c == '.':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			if _, err := strconv.ParseFloat(s[i:j], 64); err != nil {
				return nil, fmt.Errorf("bad number %q at offset %d", s[i:j], i)
			}
			toks = append(toks, condToken{kind: "num", text: s[i:j], pos: i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, condToken{kind: "ident", text: s[i:j], pos: i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
		}
	}
	return append(toks, condToken{kind: "eof", pos: len(s)}), nil
}

type condParser struct {
	toks  []condToken
	i     int
	depth int
}

func (p *condParser) peek() condToken { return p.toks[p.i] }
func (p *condParser) next() condToken { t := p.toks[p.i]; p.i++; return t }
func (p *condParser) isWord(w string) bool {
	t := p.peek()
	return t.kind == "ident" && t.text == w
}

// ParseCond parses a condition expression. inputs are the Condition node's
// input names and types (type "" accepts anything); an expression must
// refer to at least one of them and to no other name, and comparisons are
// type-checked against the declared types.
func ParseCond(s string, inputs map[string]string) (*Cond, error) {
	if len(s) == 0 || len(s) > MaxExpressionLen {
		return nil, fmt.Errorf("expression must be 1 to %d characters", MaxExpressionLen)
	}
	toks, err := lexCond(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
	}
	refs := 0
	typ, err := checkCond(root, inputs, &refs)
	if err != nil {
		return nil, err
	}
	if typ != TypeBoolean && typ != "" {
		return nil, fmt.Errorf("expression is a %s, not a Boolean", typ)
	}
	if refs == 0 {
		return nil, errors.New("expression must refer to at least one of the node's inputs")
	}
	return &Cond{src: s, root: root}, nil
}

func (p *condParser) or() (*condNode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &condNode{op: opOr, l: l, r: r}
	}
	return l, nil
}

func (p *condParser) and() (*condNode, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &condNode{op: opAnd, l: l, r: r}
	}
	return l, nil
}

func (p *condParser) not() (*condNode, error) {
	if p.isWord("not") {
		p.next()
		p.depth++
		if p.depth > 32 {
			return nil, errors.New("expression nested too deeply")
		}
		x, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &condNode{op: opNot, l: x}, nil
	}
	return p.cmp()
}

func (p *condParser) cmp() (*condNode, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == "op" {
		p.next()
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &condNode{op: condOpText[t.text], l: l, r: r}, nil
	}
	return l, nil
}

func (p *condParser) operand() (*condNode, error) {
	t := p.next()
	switch t.kind {
	case "(":
		p.depth++
		if p.depth > 32 {
			return nil, errors.New("expression nested too deeply")
		}
		x, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ")" {
			return nil, fmt.Errorf("expected ')' at offset %d", c.pos)
		}
		return x, nil
	case "num":
		return &condNode{op: opLit, lit: json.Number(t.text)}, nil
	case "str":
		return &condNode{op: opLit, lit: t.text}, nil
	case "ident":
		switch t.text {
		case "true", "false":
			return &condNode{op: opLit, lit: t.text == "true"}, nil
		case "and", "or", "not":
			return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
		}
		return &condNode{op: opIdent, name: t.text}, nil
	case "eof":
		return nil, errors.New("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
}

// checkCond returns the static type of n ("" when unknown until run time).
func checkCond(n *condNode, inputs map[string]string, refs *int) (string, error) {
	switch n.op {
	case opIdent:
		t, ok := inputs[n.name]
		if !ok {
			return "", fmt.Errorf("%q is not an input of the node", n.name)
		}
		*refs++
		return t, nil
	case opLit:
		return TypeOf(n.lit), nil
	case opNot, opAnd, opOr:
		for _, c := range []*condNode{n.l, n.r} {
			if c == nil {
				continue
			}
			t, err := checkCond(c, inputs, refs)
			if err != nil {
				return "", err
			}
			if t != "" && t != TypeBoolean {
				return "", fmt.Errorf("operand of a logical operator is a %s, not a Boolean", t)
			}
		}
		return TypeBoolean, nil
	default:
		lt, err := checkCond(n.l, inputs, refs)
		if err != nil {
			return "", err
		}
		rt, err := checkCond(n.r, inputs, refs)
		if err != nil {
			return "", err
		}
		if lt != "" && rt != "" && lt != rt {
			return "", fmt.Errorf("cannot compare %s with %s", lt, rt)
		}
		t := cmp.Or(lt, rt)
		if (t == TypeObject || t == TypeArray) && n.op != opEq && n.op != opNe {
			return "", fmt.Errorf("cannot order values of type %s", t)
		}
		if t == TypeBoolean && n.op != opEq && n.op != opNe {
			return "", errors.New("cannot order Boolean values")
		}
		return TypeBoolean, nil
	}
}

// String returns the expression as written.
func (c *Cond) String() string { return c.src }

// Eval evaluates the condition over the node's input values.
func (c *Cond) Eval(vars map[string]Value) (bool, error) {
	v, err := evalCond(c.root, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q is a %s, not a Boolean", c.src, typeName(v))
	}
	return b, nil
}

func typeName(v Value) string {
	if t := TypeOf(v); t != "" {
		return t
	}
	return "null"
}

func evalCond(n *condNode, vars map[string]Value) (Value, error) {
	switch n.op {
	case opIdent:
		v, ok := vars[n.name]
		if !ok {
			return nil, fmt.Errorf("input %q has no value", n.name)
		}
		return v, nil
	case opLit:
		return n.lit, nil
	case opNot, opAnd, opOr:
		l, err := evalBool(n.l, vars)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case opNot:
			return !l, nil
		case opAnd:
			if !l {
				return false, nil
			}
		case opOr:
			if l {
				return true, nil
			}
		}
		return evalBool(n.r, vars)
	}
	l, err := evalCond(n.l, vars)
	if err != nil {
		return nil, err
	}
	r, err := evalCond(n.r, vars)
	if err != nil {
		return nil, err
	}
	return compare(n.op, l, r)
}

func evalBool(n *condNode, vars map[string]Value) (bool, error) {
	v, err := evalCond(n, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("operand is a %s, not a Boolean", typeName(v))
	}
	return b, nil
}

func compare(op condOp, l, r Value) (bool, error) {
	if TypeOf(l) != TypeOf(r) {
		return false, fmt.Errorf("cannot compare %s with %s", typeName(l), typeName(r))
	}
	var c int
	switch x := l.(type) {
	case json.Number:
		a, _ := numberOf(x)
		b, _ := numberOf(r)
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		}
	case string:
		c = strings.Compare(x, r.(string))
	case bool:
		if op != opEq && op != opNe {
			return false, errors.New("cannot order Boolean values")
		}
		if x != r.(bool) {
			c = 1
		}
	default:
		if op != opEq && op != opNe {
			return false, fmt.Errorf("cannot order values of type %s", typeName(l))
		}
		lb, _ := MarshalValue(l)
		rb, _ := MarshalValue(r)
		if string(lb) != string(rb) {
			c = 1
		}
	}
	switch op {
	case opEq:
		return c == 0, nil
	case opNe:
		return c != 0, nil
	case opGt:
		return c > 0, nil
	case opGe:
		return c >= 0, nil
	case opLt:
		return c < 0, nil
	default:
		return c <= 0, nil
	}
}
