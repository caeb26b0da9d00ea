package flow

import (
	"strings"
	"testing"
)

// docSample is the AWS user guide's sample object for $.data expressions.
const docSample = `{"animals":{"mammals":["cat","dog"],"reptiles":["snake","turtle","iguana"]},
"organisms":{"mammals":["rabbit","horse","mouse"],"flowers":["lily","daisy"]},"numbers":[1,2,3,5,8]}`

func mustJSON(t testing.TB, v Value) string {
	t.Helper()
	b, err := MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPathEval(t *testing.T) {
	data, err := ParseValue([]byte(docSample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ expr, want string }{
		{"$.data.numbers", `[1,2,3,5,8]`},
		{"$.data.animals.reptiles[2]", `"iguana"`},
		{"$.data.numbers[0, 3]", `[1,5]`},
		{"$.data.organisms.mammals[1:]", `["horse","mouse"]`},
		{"$.data.numbers[:2]", `[1,2]`},
		{"$.data.numbers[-1]", `8`},
		{"$.data.*.mammals", `[["cat","dog"],["rabbit","horse","mouse"]]`},
		{"$.data.animals.*", `[["cat","dog"],["snake","turtle","iguana"]]`},
		{"$.data.numbers[*]", `[1,2,3,5,8]`},
		{"$.data.*.flowers", `[["lily","daisy"]]`},
		{"$.data.*.nothing", `[]`},
		{"$.data['numbers'][1]", `2`},
	} {
		p, err := ParsePath(tc.expr)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.expr, err)
			continue
		}
		got, err := p.Eval(data)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if s := mustJSON(t, got); s != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, s, tc.want)
		}
	}
	whole, _ := ParsePath("$.data")
	if got, _ := whole.Eval(data); mustJSON(t, got) != mustJSON(t, data) {
		t.Error("$.data is not the whole input")
	}
	// Wildcards follow document order, not map order, every time.
	obj, _ := ParseValue([]byte(`{"k9":1,"k1":2,"k5":3,"k3":4,"k7":5,"k2":6,"k8":7,"k4":8,"k6":9,"k0":10}`))
	wild, _ := ParsePath("$.data.*")
	for range 20 {
		if got, _ := wild.Eval(obj); mustJSON(t, got) != `[1,2,3,4,5,6,7,8,9,10]` {
			t.Fatalf("$.data.* = %s, want document order", mustJSON(t, got))
		}
	}
	missing, _ := ParsePath("$.data.nope")
	if _, err := missing.Eval(data); err == nil {
		t.Error("definite path to a missing field gave no error")
	}
}

func TestPathErrors(t *testing.T) {
	for _, expr := range []string{"", "data", "$.dat", "$.data.", "$.data[", "$.data[]", "$.data[a]", "$.data..x", "$.data x",
		"$.data" + strings.Repeat(".a", 30), "$.data[1:2:3]"} {
		if _, err := ParsePath(expr); err == nil {
			t.Errorf("ParsePath(%q) accepted", expr)
		}
	}
}

func TestNumbersKeepTheirText(t *testing.T) {
	v, err := ParseValue([]byte(`{"big":12345678901234567890,"f":1.50,"b":{"z":1,"a":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := mustJSON(t, v); s != `{"big":12345678901234567890,"f":1.50,"b":{"z":1,"a":2}}` {
		t.Fatalf("round trip = %s", s)
	}
	for _, bad := range []string{`{`, `[1,]`, `{"a":1} x`, strings.Repeat("[", 300) + strings.Repeat("]", 300)} {
		if _, err := ParseValue([]byte(bad)); err == nil {
			t.Errorf("ParseValue(%q) accepted", bad)
		}
	}
}

func TestCond(t *testing.T) {
	types := map[string]string{"retailPrice": TypeNumber, "marketPrice": TypeNumber, "type": TypeString, "categoryLetter": TypeString, "ok": TypeBoolean}
	vars := func(js string) map[string]Value {
		v, err := ParseValue([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]Value{}
		for _, k := range v.(*Object).Keys {
			m[k] = v.(*Object).Vals[k]
		}
		return m
	}
	for _, tc := range []struct {
		expr, vars string
		want       bool
	}{
		{`(retailPrice > 10) and (type == "produce")`, `{"retailPrice":11,"type":"produce"}`, true},
		{`(retailPrice > 10) and (type == "produce")`, `{"retailPrice":10,"type":"produce"}`, false},
		{`(retailPrice < marketPrice)`, `{"retailPrice":3,"marketPrice":4.5}`, true},
		{`categoryLetter=="A"`, `{"categoryLetter":"A"}`, true},
		{`categoryLetter=="A"`, `{"categoryLetter":"A\n"}`, false},
		{`not (retailPrice >= 5) or type != "x"`, `{"retailPrice":5,"type":"x"}`, false},
		{`not retailPrice >= 5 or type != "x"`, `{"retailPrice":4,"type":"x"}`, true},
		{`ok == true and retailPrice <= -1.5e0`, `{"ok":true,"retailPrice":-2}`, true},
		{`ok`, `{"ok":false}`, false},
		{`type < "b"`, `{"type":"a"}`, true},
	} {
		c, err := ParseCond(tc.expr, types)
		if err != nil {
			t.Errorf("ParseCond(%q): %v", tc.expr, err)
			continue
		}
		got, err := c.Eval(vars(tc.vars))
		if err != nil || got != tc.want {
			t.Errorf("%s over %s = %v, %v; want %v", tc.expr, tc.vars, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `retailPrice >`, `retailPrice > "10"`, `unknown == 1`, `1 == 1`, `retailPrice && ok`,
		`(ok`, `ok)`, `"a"`, `retailPrice`, `ok and retailPrice`, `ok < true`, `retailPrice = 1`, `type == 'x'`,
		`ok or`, strings.Repeat("(", 40) + "ok" + strings.Repeat(")", 40)} {
		if _, err := ParseCond(bad, types); err == nil {
			t.Errorf("ParseCond(%q) accepted", bad)
		}
	}
	// Run-time type mismatch (an input whose declared type was wrong) is an error.
	c, _ := ParseCond(`retailPrice > 10`, types)
	if _, err := c.Eval(vars(`{"retailPrice":"11"}`)); err == nil {
		t.Error("comparing a String value with a Number gave no error")
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"$.data", "$.data.a[1]", "$.data[0, 3]", "$.data[1:]", "$.data.*.x", "$.data[*]", "$.data[-2:-1]", "$.data['a']"} {
		f.Add(s, docSample)
	}
	f.Fuzz(func(t *testing.T, expr, doc string) {
		p, err := ParsePath(expr)
		if err != nil {
			return
		}
		v, err := ParseValue([]byte(doc))
		if err != nil {
			return
		}
		out, err := p.Eval(v)
		if err != nil {
			return
		}
		if _, err := MarshalValue(out); err != nil {
			t.Fatalf("result of %q does not encode: %v", expr, err)
		}
		if !p.Definite() {
			if _, ok := out.([]Value); !ok {
				t.Fatalf("multi-value path %q gave %T", expr, out)
			}
		}
	})
}

func FuzzParseCond(f *testing.F) {
	for _, s := range []string{`(a > 10) and (b == "produce")`, `not a < 1 or c`, `b != "x"`, `c == true`, `a >= -1.5e3`} {
		f.Add(s, int64(3), "produce", true)
	}
	types := map[string]string{"a": TypeNumber, "b": TypeString, "c": TypeBoolean}
	f.Fuzz(func(t *testing.T, expr string, a int64, b string, c bool) {
		cond, err := ParseCond(expr, types)
		if err != nil {
			return
		}
		vars := map[string]Value{"a": jsonNumber(a), "b": b, "c": c}
		if _, err := cond.Eval(vars); err != nil {
			t.Fatalf("type-checked condition %q failed on well-typed inputs: %v", expr, err)
		}
	})
}
