package httpapi

import (
	"net/http/httptest"
	"testing"
)

func FuzzPromptRouterRequest(f *testing.F) {
	f.Add("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A000000000000%3Aprompt-router%2Fabcdefghij/converse",
		`{"messages":[{"role":"user","content":[{"text":"hi"},{"image":{}}]}]}`)
	f.Add("/model/acme.chat-v1/invoke", `{"messages":[{"role":"user","content":"plain"}]}`)
	f.Add("/model/%zz/converse", `{"messages":[{"role":"user","content":7}]}`)
	f.Fuzz(func(t *testing.T, path, body string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.URL.Path, r.URL.RawPath = path, path
		if arn, op, ok := routerCall(r); ok && (arn == "" || op == "") {
			t.Fatalf("routerCall(%q) = %q, %q, true", path, arn, op)
		}
		_ = lastUserText([]byte(body))
	})
}
