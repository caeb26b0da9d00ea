package flow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Path is a parsed node-input expression: Bedrock's $.data subset of
// JSONPath. $.data is the whole value of the connected upstream output;
// the segments are .name, .*, [i], [i, j, …], [a:b] (either end may be
// omitted; negative indexes count from the end) and [*].
//
// A definite path (only names and single indexes) yields the value itself;
// any other path yields an array of the selected values in document order.
type Path struct {
	src  string
	segs []segment
}

type segKind uint8

const (
	segName segKind = iota
	segIndex
	segIndexes
	segSlice
	segWild
)

type segment struct {
	kind     segKind
	name     string
	idx      []int
	from, to *int
}

// MaxExpressionLen is the longest expression Bedrock accepts.
const MaxExpressionLen = 64

// ParsePath parses a node-input expression.
func ParsePath(s string) (*Path, error) {
	if len(s) == 0 || len(s) > MaxExpressionLen {
		return nil, fmt.Errorf("expression must be 1 to %d characters", MaxExpressionLen)
	}
	rest, ok := strings.CutPrefix(s, "$.data")
	if !ok {
		return nil, errors.New("expression must begin with $.data")
	}
	p := &Path{src: s}
	for len(rest) > 0 {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			if strings.HasPrefix(rest, "*") {
				p.segs = append(p.segs, segment{kind: segWild})
				rest = rest[1:]
				continue
			}
			n := 0
			for n < len(rest) && isNameByte(rest[n], n == 0) {
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("expected a field name after '.' at offset %d", len(s)-len(rest))
			}
			p.segs = append(p.segs, segment{kind: segName, name: rest[:n]})
			rest = rest[n:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, errors.New("unclosed '['")
			}
			seg, err := parseBracket(strings.TrimSpace(rest[1:end]))
			if err != nil {
				return nil, err
			}
			p.segs = append(p.segs, seg)
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", rest[0], len(s)-len(rest))
		}
	}
	return p, nil
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && (c >= '0' && c <= '9' || c == '-')
}

func parseBracket(in string) (segment, error) {
	switch {
	case in == "*":
		return segment{kind: segWild}, nil
	case in == "":
		return segment{}, errors.New("empty brackets")
	case strings.Contains(in, ":"):
		a, b, _ := strings.Cut(in, ":")
		var seg segment
		seg.kind = segSlice
		for i, part := range []string{a, b} {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := parseInt(part)
			if err != nil {
				return segment{}, err
			}
			if i == 0 {
				seg.from = &n
			} else {
				seg.to = &n
			}
		}
		return seg, nil
	case len(in) > 1 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
		return segment{kind: segName, name: in[1 : len(in)-1]}, nil
	default:
		parts := strings.Split(in, ",")
		seg := segment{kind: segIndex}
		if len(parts) > 1 {
			seg.kind = segIndexes
		}
		for _, part := range parts {
			n, err := parseInt(strings.TrimSpace(part))
			if err != nil {
				return segment{}, err
			}
			seg.idx = append(seg.idx, n)
		}
		return seg, nil
	}
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 7 {
		return 0, fmt.Errorf("bad array index %q", s)
	}
	return n, nil
}

// String returns the expression as written.
func (p *Path) String() string { return p.src }

// Definite reports whether the path selects at most one value.
func (p *Path) Definite() bool {
	for _, s := range p.segs {
		if s.kind != segName && s.kind != segIndex {
			return false
		}
	}
	return true
}

// Whole reports whether the path is $.data alone.
func (p *Path) Whole() bool { return len(p.segs) == 0 }

// ErrNoValue means a definite path selected nothing.
var ErrNoValue = errors.New("expression selects no value")

// Eval applies the path to data.
func (p *Path) Eval(data Value) (Value, error) {
	nodes := []Value{data}
	for _, s := range p.segs {
		var next []Value
		for _, n := range nodes {
			next = s.apply(n, next)
		}
		nodes = next
	}
	if p.Definite() {
		if len(nodes) == 0 {
			return nil, fmt.Errorf("%s: %w", p.src, ErrNoValue)
		}
		return nodes[0], nil
	}
	if nodes == nil {
		nodes = []Value{}
	}
	return nodes, nil
}

func index(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

func (s segment) apply(v Value, out []Value) []Value {
	switch s.kind {
	case segName:
		if o, ok := v.(*Object); ok {
			if m, ok := o.Get(s.name); ok {
				out = append(out, m)
			}
		}
	case segIndex, segIndexes:
		if a, ok := v.([]Value); ok {
			for _, i := range s.idx {
				if j, ok := index(i, len(a)); ok {
					out = append(out, a[j])
				}
			}
		}
	case segSlice:
		if a, ok := v.([]Value); ok {
			from, to := 0, len(a)
			if s.from != nil {
				from = clampSlice(*s.from, len(a))
			}
			if s.to != nil {
				to = clampSlice(*s.to, len(a))
			}
			for i := from; i < to; i++ {
				out = append(out, a[i])
			}
		}
	case segWild:
		switch x := v.(type) {
		case []Value:
			out = append(out, x...)
		case *Object:
			for _, k := range x.Keys {
				out = append(out, x.Vals[k])
			}
		}
	}
	return out
}

func clampSlice(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}
