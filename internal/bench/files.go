package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Recorder appends records to DIR/requests.jsonl as they finish, flushing
// each line so that an interrupted run keeps everything measured so far.
type Recorder struct {
	mu      sync.Mutex // guards the fields below
	f       *os.File
	w       *bufio.Writer
	records []Record
	err     error
}

// NewRecorder creates dir and an empty requests.jsonl in it.
func NewRecorder(dir string) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, FileRequests))
	if err != nil {
		return nil, fmt.Errorf("create output file: %w", err)
	}
	return &Recorder{f: f, w: bufio.NewWriter(f)}, nil
}

// Add writes one record.
func (r *Recorder) Add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	if r.err != nil {
		return
	}
	b, err := json.Marshal(rec)
	if err == nil {
		b = append(b, '\n')
		_, err = r.w.Write(b)
	}
	if err == nil {
		err = r.w.Flush()
	}
	r.err = err
}

// Records returns the records added so far.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// Close flushes and closes the file, returning the first write error.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return r.err
	}
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = err
	}
	r.f = nil
	return r.err
}

// Report recomputes the summary of the records in dir/requests.jsonl and
// writes every other output file, keeping the run metadata given in meta.
func Report(dir string, meta Summary, targets []string, baseline string) (Summary, error) {
	recs, err := ReadRecords(filepath.Join(dir, FileRequests))
	if err != nil {
		return Summary{}, err
	}
	s := Summarize(recs, targets, baseline)
	s.Started, s.Ended, s.Interrupted, s.StopReason = meta.Started, meta.Ended, meta.Interrupted, meta.StopReason
	s.Planned, s.Config, s.Notes = meta.Planned, meta.Config, meta.Notes
	return s, WriteReport(dir, s, recs)
}

// LoadRun reads an earlier result folder: its records and summary.json.
func LoadRun(dir string) ([]Record, Summary, error) {
	recs, err := ReadRecords(filepath.Join(dir, FileRequests))
	if err != nil {
		return nil, Summary{}, fmt.Errorf("result folder %s: %w", dir, err)
	}
	var s Summary
	b, err := os.ReadFile(filepath.Join(dir, FileSummary))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, Summary{}, fmt.Errorf("result folder %s: %w", dir, err)
	}
	return recs, s, nil
}

// CompareRuns summarises two result folders side by side: the groups of B
// are compared with the groups of A with the same target name, or, when
// each holds a single target, with each other. Target names are prefixed
// with the folder labels la and lb.
func CompareRuns(a, b []Record, la, lb string) Summary {
	names := func(recs []Record) []string {
		var out []string
		for _, r := range recs {
			if !slices.Contains(out, r.Target) {
				out = append(out, r.Target)
			}
		}
		return out
	}
	na, nb := names(a), names(b)
	var all []Record
	for _, r := range a {
		r.Target = la + ":" + r.Target
		all = append(all, r)
	}
	for _, r := range b {
		r.Target = lb + ":" + r.Target
		all = append(all, r)
	}
	var order []string
	for _, n := range na {
		order = append(order, la+":"+n)
	}
	for _, n := range nb {
		order = append(order, lb+":"+n)
	}
	s := Summarize(all, order, "")
	idx := map[string]int{}
	for i, g := range s.Groups {
		idx[g.Target] = i
	}
	s.Comparisons = nil
	for _, n := range nb {
		bi := idx[lb+":"+n]
		if ai, ok := idx[la+":"+n]; ok {
			s.Comparisons = append(s.Comparisons, compareTwo(s.Groups, bi, ai))
		}
	}
	if len(s.Comparisons) == 0 && len(na) == 1 && len(nb) == 1 {
		s.Comparisons = append(s.Comparisons, compareTwo(s.Groups, idx[lb+":"+nb[0]], idx[la+":"+na[0]]))
	}
	return s
}
