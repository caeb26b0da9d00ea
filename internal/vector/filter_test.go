package vector

import (
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

func TestParseFilterRejects(t *testing.T) {
	for _, in := range []string{
		`[]`, `"x"`, `{}`,
		`{"equals":{"key":"a","value":1},"notEquals":{"key":"a","value":1}}`,
		`{"bogus":{"key":"a","value":1}}`,
		`{"equals":{"key":"","value":1}}`,
		`{"equals":{"value":1}}`,
		`{"equals":{"key":"a"}}`,
		`{"equals":{"key":"a","value":[1]}}`,
		`{"equals":{"key":"a","value":{"x":1}}}`,
		`{"equals":{"key":"a","value":null}}`,
		`{"equals":{"key":"a","value":1,"extra":2}}`,
		`{"greaterThan":{"key":"a","value":"5"}}`,
		`{"in":{"key":"a","value":"x"}}`,
		`{"in":{"key":"a","value":[]}}`,
		`{"in":{"key":"a","value":[[1]]}}`,
		`{"startsWith":{"key":"a","value":5}}`,
		`{"stringContains":{"key":"a","value":true}}`,
		`{"andAll":[{"equals":{"key":"a","value":1}}]}`,
		`{"orAll":{"equals":{"key":"a","value":1}}}`,
		`{"andAll":[{"equals":{"key":"a","value":1}},{"bad":1}]}`,
		`{"equals":{"key":"` + string(make([]byte, 101)) + `","value":1}}`,
	} {
		f, err := ParseFilter([]byte(in))
		if err == nil {
			t.Errorf("ParseFilter(%s) = %+v, want an error", in, f)
			continue
		}
		if llm.AsError(err).Kind != llm.KindValidation {
			t.Errorf("ParseFilter(%s) error kind %v, want Validation", in, llm.AsError(err).Kind)
		}
	}
	deep := `{"equals":{"key":"a","value":1}}`
	for i := 0; i < 12; i++ {
		deep = `{"andAll":[` + deep + `,` + deep + `]}`
	}
	if _, err := ParseFilter([]byte(deep)); err == nil {
		t.Error("a filter nested 12 levels was accepted")
	}
	if f, err := ParseFilter([]byte(" null ")); f != nil || err != nil {
		t.Errorf("ParseFilter(null) = %v, %v", f, err)
	}
}

func TestAnd(t *testing.T) {
	a := &Filter{Op: OpEquals, Key: "tenant", Value: "t1"}
	b := &Filter{Op: OpEquals, Key: "tenant", Value: "t2"}
	if And(nil, a, nil) != a || And() != nil {
		t.Error("And with nils")
	}
	// A request filter cannot widen a bound filter: orAll inside the
	// request stays under the bound andAll.
	req := &Filter{Op: OpOrAll, Children: []*Filter{b, {Op: OpNotEquals, Key: "tenant", Value: "t1"}}}
	if And(a, req).Match(map[string]any{"tenant": "t2"}) {
		t.Error("request filter widened the bound filter")
	}
}

// FuzzParseFilter: any input either fails with a ValidationException or
// yields a filter that evaluates without panicking on assorted metadata.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`{"equals":{"key":"a","value":"x"}}`,
		`{"andAll":[{"in":{"key":"a","value":[1,"b",true]}},{"notIn":{"key":"b","value":[2]}}]}`,
		`{"orAll":[{"startsWith":{"key":"t","value":"St"}},{"stringContains":{"key":"l","value":"o"}}]}`,
		`{"listContains":{"key":"l","value":3}}`,
		`{"greaterThanOrEquals":{"key":"n","value":1e308}}`,
		`{"lessThan":{"key":"n","value":-0}}`,
		`{"equals":{"key":"a","value":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	metas := []map[string]any{
		{}, {"a": "x", "n": 3.0, "l": []any{"o", 3.0}, "t": "Star", "b": true},
		{"a": []string{"x"}, "n": "3", "l": "lol", "t": 5.0},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flt, err := ParseFilter(b)
		if err != nil {
			if llm.AsError(err).Kind != llm.KindValidation {
				t.Fatalf("error kind %v: %v", llm.AsError(err).Kind, err)
			}
			return
		}
		for _, m := range metas {
			flt.Match(m)
		}
	})
}
