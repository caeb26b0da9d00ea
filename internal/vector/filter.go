package vector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// Filter operators: the members of Bedrock's RetrievalFilter union.
const (
	OpEquals              = "equals"
	OpNotEquals           = "notEquals"
	OpGreaterThan         = "greaterThan"
	OpGreaterThanOrEquals = "greaterThanOrEquals"
	OpLessThan            = "lessThan"
	OpLessThanOrEquals    = "lessThanOrEquals"
	OpIn                  = "in"
	OpNotIn               = "notIn"
	OpStartsWith          = "startsWith"
	OpListContains        = "listContains"
	OpStringContains      = "stringContains"
	OpAndAll              = "andAll"
	OpOrAll               = "orAll"
)

// maxFilterDepth and maxFilterNodes bound a parsed filter, so a request
// cannot make evaluation arbitrarily expensive.
const (
	maxFilterDepth = 8
	maxFilterNodes = 256
)

// Filter is a metadata filter: a leaf compares the metadata value under Key
// with Value; andAll / orAll combine Children.
//
// Semantics (Bedrock's, flows-agents.md §3.2):
//   - equals: the key is present and equal (numbers compare as numbers,
//     strings exactly, booleans as booleans; a list never equals a scalar).
//   - notEquals: the negation of equals, so a record without the key
//     matches (Bedrock's documented quirk).
//   - greaterThan, greaterThanOrEquals, lessThan, lessThanOrEquals: numeric;
//     the filter value must be a number and records whose value is not a
//     number do not match.
//   - in: the value is a list and the record's scalar is one of its members.
//     notIn: the negation of in (a record without the key matches, as with
//     notEquals).
//   - startsWith: the record's string starts with the value (a string).
//   - listContains: the record's value is a list with the value as a member.
//   - stringContains: the record's string contains the value, or the
//     record's list has a string member that contains it.
//   - andAll / orAll: at least two filters, all / any of which match.
type Filter struct {
	Op       string
	Key      string
	Value    any // string, float64, bool, or []any of those (in / notIn)
	Children []*Filter
}

func invalid(format string, args ...any) error {
	return llm.Errorf(llm.KindValidation, format, args...)
}

// ParseFilter decodes a Bedrock RetrievalFilter (JSON). An empty input or
// null is no filter (nil, nil). Malformed filters are ValidationExceptions
// naming the path of the offending member.
func ParseFilter(raw []byte) (*Filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	n := 0
	return parseFilter(raw, "filter", 0, &n)
}

func parseFilter(raw []byte, path string, depth int, nodes *int) (*Filter, error) {
	*nodes++
	if depth > maxFilterDepth || *nodes > maxFilterNodes {
		return nil, invalid("%s: the filter is nested deeper than %d levels or has more than %d conditions", path, maxFilterDepth, maxFilterNodes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, invalid("%s: must be an object", path)
	}
	if len(obj) != 1 {
		return nil, invalid("%s: must have exactly one of equals, notEquals, greaterThan, greaterThanOrEquals, lessThan, lessThanOrEquals, in, notIn, startsWith, listContains, stringContains, andAll, orAll", path)
	}
	for op, v := range obj {
		p := path + "." + op
		switch op {
		case OpAndAll, OpOrAll:
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, invalid("%s: must be a list of filters", p)
			}
			if len(list) < 2 {
				return nil, invalid("%s: must contain at least 2 filters", p)
			}
			f := &Filter{Op: op}
			for i, c := range list {
				cf, err := parseFilter(c, fmt.Sprintf("%s[%d]", p, i), depth+1, nodes)
				if err != nil {
					return nil, err
				}
				f.Children = append(f.Children, cf)
			}
			return f, nil
		case OpEquals, OpNotEquals, OpGreaterThan, OpGreaterThanOrEquals, OpLessThan, OpLessThanOrEquals,
			OpIn, OpNotIn, OpStartsWith, OpListContains, OpStringContains:
			var leaf struct {
				Key   *string         `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&leaf); err != nil {
				return nil, invalid("%s: must be an object with key and value", p)
			}
			if leaf.Key == nil || len(*leaf.Key) < 1 || len(*leaf.Key) > 100 {
				return nil, invalid("%s.key: must have length between 1 and 100", p)
			}
			if len(bytes.TrimSpace(leaf.Value)) == 0 {
				return nil, invalid("%s.value: is required", p)
			}
			var val any
			d := json.NewDecoder(bytes.NewReader(leaf.Value))
			if err := d.Decode(&val); err != nil {
				return nil, invalid("%s.value: is not valid JSON", p)
			}
			if err := checkValue(op, val); err != nil {
				return nil, invalid("%s.value: %v", p, err)
			}
			return &Filter{Op: op, Key: *leaf.Key, Value: val}, nil
		default:
			return nil, invalid("%s: unknown filter operator %q", path, op)
		}
	}
	panic("unreachable")
}

// checkValue checks that val suits op.
func checkValue(op string, val any) error {
	scalar := func(v any) bool {
		switch x := v.(type) {
		case string, bool:
			return true
		case float64:
			return !math.IsNaN(x) && !math.IsInf(x, 0)
		}
		return false
	}
	switch op {
	case OpEquals, OpNotEquals, OpListContains:
		if !scalar(val) {
			return fmt.Errorf("must be a string, number or boolean")
		}
	case OpGreaterThan, OpGreaterThanOrEquals, OpLessThan, OpLessThanOrEquals:
		if _, ok := val.(float64); !ok {
			return fmt.Errorf("must be a number")
		}
	case OpIn, OpNotIn:
		list, ok := val.([]any)
		if !ok || len(list) == 0 {
			return fmt.Errorf("must be a non-empty list")
		}
		for _, m := range list {
			if !scalar(m) {
				return fmt.Errorf("list members must be strings, numbers or booleans")
			}
		}
	case OpStartsWith, OpStringContains:
		if _, ok := val.(string); !ok {
			return fmt.Errorf("must be a string")
		}
	}
	return nil
}

// Match reports whether metadata satisfies f. A nil filter matches
// everything.
func (f *Filter) Match(md map[string]any) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case OpAndAll:
		for _, c := range f.Children {
			if !c.Match(md) {
				return false
			}
		}
		return true
	case OpOrAll:
		for _, c := range f.Children {
			if c.Match(md) {
				return true
			}
		}
		return false
	}
	v, ok := md[f.Key]
	switch f.Op {
	case OpEquals:
		return ok && scalarEqual(v, f.Value)
	case OpNotEquals:
		return !ok || !scalarEqual(v, f.Value)
	case OpGreaterThan, OpGreaterThanOrEquals, OpLessThan, OpLessThanOrEquals:
		x, isNum := number(v)
		y, _ := f.Value.(float64)
		if !ok || !isNum {
			return false
		}
		switch f.Op {
		case OpGreaterThan:
			return x > y
		case OpGreaterThanOrEquals:
			return x >= y
		case OpLessThan:
			return x < y
		}
		return x <= y
	case OpIn, OpNotIn:
		in := false
		if ok {
			for _, m := range f.Value.([]any) {
				if scalarEqual(v, m) {
					in = true
					break
				}
			}
		}
		if f.Op == OpIn {
			return in
		}
		return !in
	case OpStartsWith:
		s, isStr := v.(string)
		return ok && isStr && strings.HasPrefix(s, f.Value.(string))
	case OpListContains:
		for _, m := range list(v) {
			if scalarEqual(m, f.Value) {
				return true
			}
		}
		return false
	case OpStringContains:
		sub := f.Value.(string)
		if s, isStr := v.(string); isStr {
			return strings.Contains(s, sub)
		}
		for _, m := range list(v) {
			if s, isStr := m.(string); isStr && strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
	return false
}

// list returns v as a list ([]any or []string), or nil.
func list(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// scalarEqual compares two scalars: numbers by value, strings and booleans
// exactly; anything else (lists, maps, nil) is never equal.
func scalarEqual(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// And combines filters with andAll, skipping nils: the result matches only
// what every given filter matches. It is how a principal-bound filter is
// applied on top of a request's own filter, which therefore cannot widen it.
func And(fs ...*Filter) *Filter {
	var kept []*Filter
	for _, f := range fs {
		if f != nil {
			kept = append(kept, f)
		}
	}
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	return &Filter{Op: OpAndAll, Children: kept}
}
