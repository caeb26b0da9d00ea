package kb_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestKnowledgeBaseBoto3 runs test/interop/python/knowledge_bases.py:
// boto3 creates a knowledge base with hierarchical chunking over a folder,
// ingests it and retrieves with and without a filter.
func TestKnowledgeBaseBoto3(t *testing.T) {
	py := testenv.Python(t)
	e := newEnv(t)
	bucket := filepath.Join(e.root, "s3", "pydocs")
	write(t, filepath.Join(bucket, "expenses.md"), "# Expenses\n\nExpenses are reimbursed within ten days after the receipt is uploaded to the finance portal. Meals on trips are reimbursed up to fifty euros a day. Taxis need a receipt.")
	write(t, filepath.Join(bucket, "expenses.md.metadata.json"), `{"metadataAttributes":{"dept":"finance"}}`)
	write(t, filepath.Join(bucket, "laptops.txt"), "Laptops are replaced every three years by the IT desk. Lost laptops must be reported at once.")
	write(t, filepath.Join(bucket, "laptops.txt.metadata.json"), `{"metadataAttributes":{"dept":"it"}}`)
	wd, _ := os.Getwd()
	cmd := exec.Command(py, filepath.Join(wd, "..", "..", "test", "interop", "python", "knowledge_bases.py"))
	cmd.Env = append(os.Environ(), "OUTCROP_URL="+e.url)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("knowledge_bases.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		Job struct {
			Status     string         `json:"status"`
			Statistics map[string]int `json:"statistics"`
		} `json:"job"`
		All     [][2]string `json:"all"`
		Finance [][2]string `json:"finance"`
		Hybrid  [][2]string `json:"hybrid"`
		Missing string      `json:"missing"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Job.Status != "COMPLETE" || got.Job.Statistics["numberOfNewDocumentsIndexed"] != 2 {
		t.Fatalf("ingestion job: %+v", got.Job)
	}
	if len(got.All) == 0 || got.All[0][0] != "s3://pydocs/expenses.md" || len(got.Hybrid) == 0 || got.Hybrid[0][0] != "s3://pydocs/expenses.md" {
		t.Errorf("top results: semantic %v, hybrid %v", got.All, got.Hybrid)
	}
	// Hierarchical chunking returns parents: the 80-token parent holds the
	// whole expenses paragraph, not one 20-token child.
	if !strings.Contains(got.All[0][1], "ten days") || !strings.Contains(got.All[0][1], "Taxis") {
		t.Errorf("hierarchical result is not the parent chunk: %q", got.All[0][1])
	}
	for _, r := range got.Finance {
		if r[0] != "s3://pydocs/expenses.md" {
			t.Errorf("dept=finance filter returned %s", r[0])
		}
	}
	if got.Missing != "ResourceNotFoundException" {
		t.Errorf("unknown knowledge base: %q", got.Missing)
	}
}
