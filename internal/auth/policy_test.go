package auth

import (
	"testing"
)

const modelARN = "arn:aws:bedrock:us-east-1::foundation-model/smollm2-135m-instruct"

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name     string
		policies []string
		action   string
		resource string
		conds    Conditions
		want     Decision
	}{
		{
			name:     "no policies denies by default",
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     ImplicitDeny,
		},
		{
			name:     "exact allow",
			policies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"` + modelARN + `"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "action matching ignores case",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"Bedrock:invokemodel","Resource":"*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "resource matching respects case",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:bedrock:*::foundation-model/SMOLLM2-*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     ImplicitDeny,
		},
		{
			name:     "action wildcard",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:Invoke*","Resource":"*"}]}`},
			action:   "bedrock:InvokeModelWithResponseStream",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "action wildcard does not reach other actions",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:Invoke*","Resource":"*"}]}`},
			action:   "bedrock:ApplyGuardrail",
			resource: modelARN,
			want:     ImplicitDeny,
		},
		{
			name:     "question mark wildcard",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:InvokeMode?","Resource":"arn:aws:bedrock:us-east-?::foundation-model/*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "resource wildcard in the middle",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":["bedrock:InvokeModel"],"Resource":["arn:aws:bedrock:*::foundation-model/smollm2-*-instruct"]}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name: "explicit deny wins over allow",
			policies: []string{
				`{"Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`,
				`{"Statement":[{"Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"` + modelARN + `"}]}`,
			},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     ExplicitDeny,
		},
		{
			name:     "deny in the same policy wins regardless of order",
			policies: []string{`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:bedrock:*:*:guardrail/*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
			action:   "bedrock:ApplyGuardrail",
			resource: "arn:aws:bedrock:us-east-1:000000000000:guardrail/abc",
			want:     ExplicitDeny,
		},
		{
			name:     "deny of something else leaves allow",
			policies: []string{`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:bedrock:*:*:guardrail/*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "NotAction allows everything else",
			policies: []string{`{"Statement":[{"Effect":"Allow","NotAction":"bedrock:InvokeFlow","Resource":"*"}]}`},
			action:   "bedrock:InvokeFlow",
			resource: "arn:aws:bedrock:us-east-1:000000000000:flow/F1/alias/A1",
			want:     ImplicitDeny,
		},
		{
			name:     "NotResource",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","NotResource":"arn:aws:bedrock:*::foundation-model/big-*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "condition StringEquals on profile matches",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"bedrock:PerformanceConfigLatency":"standard"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"bedrock:performanceconfiglatency": "standard"},
			want:     Allow,
		},
		{
			name:     "condition StringEquals on profile fails",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"bedrock:PerformanceConfigLatency":"standard"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"bedrock:performanceconfiglatency": "optimized"},
			want:     ImplicitDeny,
		},
		{
			name: "deny optimized profile with a condition",
			policies: []string{`{"Statement":[
				{"Effect":"Allow","Action":"bedrock:*","Resource":"*"},
				{"Effect":"Deny","Action":"bedrock:*","Resource":"*","Condition":{"StringEquals":{"bedrock:PerformanceConfigLatency":"optimized"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"bedrock:performanceconfiglatency": "optimized"},
			want:     ExplicitDeny,
		},
		{
			name:     "condition key missing fails a positive operator",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"bedrock:GuardrailIdentifier":"gr-*"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     ImplicitDeny,
		},
		{
			name:     "IfExists passes when the key is missing",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLikeIfExists":{"bedrock:GuardrailIdentifier":"gr-*"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "negated operator passes when the key is missing",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"bedrock:GuardrailIdentifier":"bad"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     Allow,
		},
		{
			name:     "Null true requires the key to be absent",
			policies: []string{`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"bedrock:GuardrailIdentifier":"true"}}},{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			want:     ExplicitDeny,
		},
		{
			name:     "Null true with the key present",
			policies: []string{`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"bedrock:GuardrailIdentifier":"true"}}},{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"bedrock:guardrailidentifier": "gr-1"},
			want:     Allow,
		},
		{
			name:     "numeric condition on max tokens",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThanEquals":{"outcrop:MaxTokens":512}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"outcrop:maxtokens": "1024"},
			want:     ImplicitDeny,
		},
		{
			name:     "numeric condition within bound",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThanEquals":{"outcrop:MaxTokens":"512"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"outcrop:maxtokens": "100"},
			want:     Allow,
		},
		{
			name:     "several values are ORed",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":["bob","alice"]}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"aws:username": "alice"},
			want:     Allow,
		},
		{
			name:     "several keys are ANDed",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"alice","outcrop:api":"openai"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"aws:username": "alice", "outcrop:api": "bedrock"},
			want:     ImplicitDeny,
		},
		{
			name:     "IpAddress",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.1"]}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"aws:sourceip": "127.0.0.1"},
			want:     Allow,
		},
		{
			name:     "NotIpAddress",
			policies: []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`},
			action:   "bedrock:InvokeModel",
			resource: modelARN,
			conds:    Conditions{"aws:sourceip": "127.0.0.1"},
			want:     ImplicitDeny,
		},
		{
			name:     "Bool",
			policies: []string{`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"outcrop:Stream":true}}},{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
			action:   "bedrock:InvokeModelWithResponseStream",
			resource: modelARN,
			conds:    Conditions{"outcrop:stream": "true"},
			want:     ExplicitDeny,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*Policy
			for _, doc := range tc.policies {
				p, err := ParsePolicy([]byte(doc))
				if err != nil {
					t.Fatalf("ParsePolicy: %v", err)
				}
				ps = append(ps, p)
			}
			if got := Evaluate(ps, tc.action, tc.resource, tc.conds); got != tc.want {
				t.Errorf("Evaluate(%s, %s) = %v, want %v", tc.action, tc.resource, got, tc.want)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	bad := []struct{ name, doc string }{
		{"not json", `{`},
		{"no statement", `{"Version":"2012-10-17","Statement":[]}`},
		{"bad effect", `{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`},
		{"both action and NotAction", `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"a:b","Resource":"*"}]}`},
		{"no resource", `{"Statement":[{"Effect":"Allow","Action":"*"}]}`},
		{"action without service", `{"Statement":[{"Effect":"Allow","Action":"InvokeModel","Resource":"*"}]}`},
		{"unknown operator", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Fuzzy":{"a:b":"c"}}}]}`},
		{"bad number", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"a:b":"x"}}}]}`},
		{"bad cidr", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}]}`},
		{"unknown field", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}]}`},
		{"bad version", `{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
		{"trailing data", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]} {}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePolicy([]byte(tc.doc)); err == nil {
				t.Errorf("ParsePolicy(%s) succeeded, want error", tc.doc)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "abd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b", "xxaxxbxxc", false},
		{"", "", true},
		{"", "a", false},
	}
	for _, tc := range tests {
		if got := wildcardMatch(tc.p, tc.s, false); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"a:b":["x*"]}}}]}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotAction":["a:*"],"NotResource":"arn:*"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParsePolicy(doc)
		if err != nil {
			return
		}
		Evaluate([]*Policy{p}, "bedrock:InvokeModel", modelARN, Conditions{"a:b": "xy", "aws:sourceip": "127.0.0.1"})
	})
}
