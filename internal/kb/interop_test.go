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

// TestVectorStoresOpenAIPython runs test/interop/python/vector_stores.py:
// the OpenAI Python SDK uploads files, builds a vector store with file
// attributes, and searches it with and without filters.
func TestVectorStoresOpenAIPython(t *testing.T) {
	py := testenv.Python(t)
	e := newEnv(t)
	docs := t.TempDir()
	write(t, filepath.Join(docs, "expenses.md"), "# Expenses\n\nExpenses are reimbursed within ten days after the receipt is uploaded to the finance portal.")
	write(t, filepath.Join(docs, "laptops.txt"), "Laptops are replaced every three years by the IT desk.")
	write(t, filepath.Join(docs, "notes.docx"), "not a supported type")
	wd, _ := os.Getwd()
	cmd := exec.Command(py, filepath.Join(wd, "..", "..", "test", "interop", "python", "vector_stores.py"))
	cmd.Env = append(os.Environ(), "OUTCROP_URL="+e.url, "DOCS="+docs)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("vector_stores.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		Files     []string          `json:"files"`
		Statuses  map[string]string `json:"statuses"`
		Counts    map[string]int    `json:"counts"`
		Listed    int               `json:"listed"`
		Plain     [][3]any          `json:"plain"`
		ITOnly    [][3]any          `json:"it_only"`
		Compound  [][3]any          `json:"compound"`
		Missing   int               `json:"missing"`
		BadFilter int               `json:"bad_filter"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Files) != 3 || got.Statuses["expenses.md"] != "completed" || got.Statuses["notes.docx"] != "failed" || got.Counts["completed"] != 2 || got.Counts["failed"] != 1 || got.Listed != 3 {
		t.Fatalf("files %v, statuses %v, counts %v, listed %d", got.Files, got.Statuses, got.Counts, got.Listed)
	}
	if len(got.Plain) == 0 || got.Plain[0][0] != "expenses.md" || !strings.Contains(got.Plain[0][2].(string), "ten days") {
		t.Errorf("plain search: %v", got.Plain)
	}
	for _, r := range got.ITOnly {
		if r[0] != "laptops.txt" {
			t.Errorf("dept eq it returned %v", r[0])
		}
	}
	if len(got.Compound) != 1 || got.Compound[0][0] != "expenses.md" {
		t.Errorf("compound filter: %v", got.Compound)
	}
	if got.Missing != 404 || got.BadFilter != 400 {
		t.Errorf("missing store %d, bad filter %d", got.Missing, got.BadFilter)
	}
}
