package eval

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/jmespath/go-jmespath"
)

// DataConfig describes a dataset the way FMEval's DataConfig does: a JSON
// Lines file and a JMESPath expression per column.
type DataConfig struct {
	// Name names the dataset in outputs and in MLflow.
	Name string `json:"dataset_name" yaml:"dataset_name"`
	// URI is a local file path (file:// accepted).
	URI string `json:"dataset_uri" yaml:"dataset_uri"`
	// MimeType is "application/jsonlines" (default) or "application/json"
	// (one JSON array of records).
	MimeType string `json:"dataset_mime_type,omitempty" yaml:"dataset_mime_type"`

	ModelInputLocation      string `json:"model_input_location,omitempty" yaml:"model_input_location"`
	ModelOutputLocation     string `json:"model_output_location,omitempty" yaml:"model_output_location"`
	TargetOutputLocation    string `json:"target_output_location,omitempty" yaml:"target_output_location"`
	CategoryLocation        string `json:"category_location,omitempty" yaml:"category_location"`
	SentMoreInputLocation   string `json:"sent_more_input_location,omitempty" yaml:"sent_more_input_location"`
	SentLessInputLocation   string `json:"sent_less_input_location,omitempty" yaml:"sent_less_input_location"`
	SentMoreLogProbLocation string `json:"sent_more_log_prob_location,omitempty" yaml:"sent_more_log_prob_location"`
	SentLessLogProbLocation string `json:"sent_less_log_prob_location,omitempty" yaml:"sent_less_log_prob_location"`
}

// Record is one dataset row after extraction, with FMEval's column names.
// String columns are cast with Python's str(), as FMEval does.
type Record struct {
	// Index is the row's 0-based position in the file.
	Index        int      `json:"-"`
	ModelInput   string   `json:"model_input,omitempty"`
	Prompt       string   `json:"prompt,omitempty"`
	ModelOutput  string   `json:"model_output,omitempty"`
	TargetOutput string   `json:"target_output,omitempty"`
	Category     string   `json:"category,omitempty"`
	SentMore     string   `json:"sent_more_input,omitempty"`
	SentLess     string   `json:"sent_less_input,omitempty"`
	SentMoreLogP *float64 `json:"sent_more_log_prob,omitempty"`
	SentLessLogP *float64 `json:"sent_less_log_prob,omitempty"`
	// Has reports which columns the data config located.
	Has map[string]bool `json:"-"`
}

// Dataset is a loaded dataset with what MLflow's log-inputs needs.
type Dataset struct {
	Config  DataConfig
	Records []Record
	// Digest is the first 16 hex digits of SHA-256 over the file's bytes
	// (MLflow's own pandas digest is not reproducible outside pandas).
	Digest string
	// Fields are the top-level keys of the records, sorted (for the schema).
	Fields []string
}

// LineError is a dataset line that cannot be used.
type LineError struct {
	Dataset string
	Line    int
	Msg     string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("dataset %s line %d: %s", e.Dataset, e.Line, e.Msg)
}

type column struct {
	name, expr string
	q          *jmespath.JMESPath
	numeric    bool
}

// LoadDataset reads and extracts a dataset. A malformed JSON line, or a
// configured location that finds nothing in a record, is a *LineError: the
// evaluation does not start on a dataset it would silently shrink.
func LoadDataset(cfg DataConfig) (*Dataset, error) {
	if cfg.Name == "" {
		return nil, &ConfigError{Field: "dataset_name", Msg: "required"}
	}
	path := strings.TrimPrefix(cfg.URI, "file://")
	if path == "" {
		return nil, &ConfigError{Field: "dataset_uri", Msg: "required"}
	}
	var cols []column
	for _, c := range []struct {
		name, expr string
		numeric    bool
	}{
		{"model_input", cfg.ModelInputLocation, false}, {"model_output", cfg.ModelOutputLocation, false},
		{"target_output", cfg.TargetOutputLocation, false}, {"category", cfg.CategoryLocation, false},
		{"sent_more_input", cfg.SentMoreInputLocation, false}, {"sent_less_input", cfg.SentLessInputLocation, false},
		{"sent_more_log_prob", cfg.SentMoreLogProbLocation, true}, {"sent_less_log_prob", cfg.SentLessLogProbLocation, true},
	} {
		if c.expr == "" {
			continue
		}
		q, err := jmespath.Compile(c.expr)
		if err != nil {
			return nil, &ConfigError{Field: c.name + "_location", Msg: fmt.Sprintf("invalid JMESPath %q: %v", c.expr, err)}
		}
		cols = append(cols, column{c.name, c.expr, q, c.numeric})
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", cfg.Name, err)
	}
	raw, err := splitRecords(cfg, data)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Config: cfg}
	sum := sha256.Sum256(data)
	ds.Digest = hex.EncodeToString(sum[:])[:16]
	fields := map[string]bool{}
	for _, rr := range raw {
		var v any
		dec := json.NewDecoder(bytes.NewReader(rr.b))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, &LineError{cfg.Name, rr.line, "invalid JSON: " + err.Error()}
		}
		if dec.More() {
			return nil, &LineError{cfg.Name, rr.line, "more than one JSON value on the line"}
		}
		if m, ok := v.(map[string]any); ok {
			for k := range m {
				fields[k] = true
			}
		}
		rec := Record{Index: len(ds.Records), Has: map[string]bool{}}
		for _, c := range cols {
			got, err := c.q.Search(v)
			if err != nil || got == nil {
				return nil, &LineError{cfg.Name, rr.line, fmt.Sprintf("%s_location %q finds nothing", c.name, c.expr)}
			}
			rec.Has[c.name] = true
			if c.numeric {
				f, err := logProb(got)
				if err != nil {
					return nil, &LineError{cfg.Name, rr.line, fmt.Sprintf("%s: %v", c.name, err)}
				}
				if c.name == "sent_more_log_prob" {
					rec.SentMoreLogP = &f
				} else {
					rec.SentLessLogP = &f
				}
				continue
			}
			s := PyStr(got)
			switch c.name {
			case "model_input":
				rec.ModelInput = s
			case "model_output":
				rec.ModelOutput = s
			case "target_output":
				rec.TargetOutput = s
			case "category":
				rec.Category = s
			case "sent_more_input":
				rec.SentMore = s
			case "sent_less_input":
				rec.SentLess = s
			}
		}
		ds.Records = append(ds.Records, rec)
	}
	if len(ds.Records) == 0 {
		return nil, fmt.Errorf("dataset %s: no records", cfg.Name)
	}
	for k := range fields {
		ds.Fields = append(ds.Fields, k)
	}
	sort.Strings(ds.Fields)
	return ds, nil
}

type rawRecord struct {
	line int
	b    []byte
}

func splitRecords(cfg DataConfig, data []byte) ([]rawRecord, error) {
	switch cfg.MimeType {
	case "", "application/jsonlines":
	case "application/json":
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, &LineError{cfg.Name, 1, "application/json dataset must be one JSON array: " + err.Error()}
		}
		out := make([]rawRecord, len(arr))
		for i, r := range arr {
			out[i] = rawRecord{i + 1, r}
		}
		return out, nil
	default:
		return nil, &ConfigError{Field: "dataset_mime_type", Msg: "must be application/jsonlines or application/json"}
	}
	var out []rawRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		out = append(out, rawRecord{n, append([]byte(nil), b...)})
	}
	if err := sc.Err(); err != nil {
		return nil, &LineError{cfg.Name, n + 1, err.Error()}
	}
	return out, nil
}

func logProb(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Float64()
	case float64:
		return x, nil
	case []any: // a list of token log-probabilities is summed, as FMEval does
		var s float64
		for _, e := range x {
			f, err := logProb(e)
			if err != nil {
				return 0, err
			}
			s += f
		}
		return s, nil
	}
	return 0, fmt.Errorf("log probability must be a number or a list of numbers")
}

// PyStr is Python's str() of a JSON value as json.loads builds it: strings
// as they are, True/False/None, ints as written, floats in repr form
// (1.0, 1e-05), lists and objects in repr form with single quotes.
func PyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyQuote(x)
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return strconv.FormatInt(i, 10)
			}
			return s
		}
		f, _ := x.Float64()
		return pyFloat(f)
	case float64:
		return pyFloat(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		// json.loads keeps file order; Go maps do not, so keys are sorted.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyQuote(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	exp := 0
	if f != 0 {
		exp = int(math.Floor(math.Log10(math.Abs(f))))
	}
	if exp < -4 || exp >= 16 { // Go's 'e' form has Python's two-digit exponent
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func pyQuote(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	s = r.Replace(s)
	if q == "'" {
		s = strings.ReplaceAll(s, "'", `\'`)
	}
	return q + s + q
}

// Sample returns n records chosen without replacement by a PCG generator
// seeded with seed, in their original order; all records when n <= 0 or n >=
// len. FMEval samples with pandas (random_state=1234), which Go cannot
// reproduce: the number of rows matches, the rows chosen differ.
func Sample(recs []Record, n int, seed uint64) []Record {
	if n <= 0 || n >= len(recs) {
		return recs
	}
	r := rand.New(rand.NewPCG(seed, 0x6f757463726f70))
	idx := r.Perm(len(recs))[:n]
	sort.Ints(idx)
	out := make([]Record, n)
	for i, j := range idx {
		out[i] = recs[j]
	}
	return out
}
