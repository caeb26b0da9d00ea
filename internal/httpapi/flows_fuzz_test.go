package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/store/storetest"
)

// FuzzFlowRequests sends arbitrary bodies to the flows control plane and
// runtime: whatever the body, the answer is a Bedrock-shaped 2xx or 4xx,
// never a 5xx.
func FuzzFlowRequests(f *testing.F) {
	for _, s := range []string{
		`{"name":"f1","executionRoleArn":"arn:aws:iam::123456789012:role/r","definition":{"nodes":[],"connections":[]}}`,
		`{"definition":{"nodes":[{"name":"In","type":"Input"}]}}`,
		`{"inputs":[{"nodeName":"FlowInputNode","nodeOutputName":"document","content":{"document":"hi"}}]}`,
		`{"inputs":[{"nodeName":"FlowInputNode","content":{"document":{"a":[1,2,{"b":null}]}}}],"enableTrace":true}`,
		`{"executionId":"x","inputs":[{"nodeName":"FlowInputNode","nodeInputName":"agentInputText","content":{"document":3}}]}`,
		`{"inputs":[]}`, `[]`, `{`, `null`,
	} {
		f.Add(s)
	}
	db := storetest.SQLite(f)
	srv := newFlowServer(f, db, "", "http://127.0.0.1:1/v1", 5*time.Second)
	def := `{"nodes":[{"name":"FlowInputNode","type":"Input","configuration":{"input":{}},"outputs":[{"name":"document","type":"String"}]},
 {"name":"Out","type":"Output","configuration":{"output":{}},"inputs":[{"name":"document","type":"String","expression":"$.data"}]}],
 "connections":[{"name":"InOut","source":"FlowInputNode","target":"Out","type":"Data","configuration":{"data":{"sourceOutput":"document","targetInput":"document"}}}]}`
	var created struct{ ID string }
	post := func(url, body string) int {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			f.Fatal(err)
		}
		defer resp.Body.Close()
		if created.ID == "" && resp.StatusCode == 201 {
			decodeInto(resp, &created)
		}
		return resp.StatusCode
	}
	if code := post(srv.URL+"/flows/", `{"name":"echo","executionRoleArn":"arn:aws:iam::123456789012:role/r","definition":`+def+`}`); code != 201 {
		f.Fatalf("CreateFlow = %d", code)
	}
	if code := post(srv.URL+"/flows/"+created.ID+"/", ""); code != 202 {
		f.Fatalf("PrepareFlow = %d", code)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, url := range []string{
			srv.URL + "/flows/",
			srv.URL + "/flows/validate-definition",
			srv.URL + "/flows/" + created.ID + "/aliases",
			srv.URL + "/flows/" + created.ID + "/aliases/TSTALIASID",
			srv.URL + "/flows/" + created.ID + "/aliases/TSTALIASID/executions",
		} {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("POST %s with %q: status %d", url, body, resp.StatusCode)
			}
		}
	})
}

func decodeInto(resp *http.Response, v any) {
	_ = jsonNewDecoder(resp).Decode(v)
}

func jsonNewDecoder(resp *http.Response) *json.Decoder { return json.NewDecoder(resp.Body) }
