package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// allowEntry is one reviewed exception of the vulnerability gate. Every
// field is required: an exception nobody can explain, or that nobody has
// looked at since it expired, fails the gate like a new finding.
type allowEntry struct {
	ID       string `yaml:"id"`
	Module   string `yaml:"module"`
	Reason   string `yaml:"reason"`
	Reviewed string `yaml:"reviewed"` // YYYY-MM-DD
	Expires  string `yaml:"expires"`  // YYYY-MM-DD
}

type allowList struct {
	Entries []allowEntry `yaml:"entries"`
}

// readAllowList parses and checks the allow-list: required fields, dates,
// no duplicates, and no entry past its expiry at now.
func readAllowList(b []byte, now time.Time) (map[string]allowEntry, error) {
	var l allowList
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("allow-list: %w", err)
	}
	out := map[string]allowEntry{}
	var errs []error
	for i, e := range l.Entries {
		where := fmt.Sprintf("allow-list entry %d (%s)", i+1, e.ID)
		if e.ID == "" || e.Module == "" || strings.TrimSpace(e.Reason) == "" || e.Reviewed == "" || e.Expires == "" {
			errs = append(errs, fmt.Errorf("%s: id, module, reason, reviewed and expires are all required", where))
			continue
		}
		rev, err1 := time.Parse(time.DateOnly, e.Reviewed)
		exp, err2 := time.Parse(time.DateOnly, e.Expires)
		switch {
		case err1 != nil || err2 != nil:
			errs = append(errs, fmt.Errorf("%s: dates must be YYYY-MM-DD", where))
			continue
		case rev.After(now):
			errs = append(errs, fmt.Errorf("%s: reviewed %s is in the future", where, e.Reviewed))
		case !exp.After(rev):
			errs = append(errs, fmt.Errorf("%s: expires %s is not after reviewed %s", where, e.Expires, e.Reviewed))
		case !now.Before(exp):
			errs = append(errs, fmt.Errorf("%s: review expired on %s; review it again", where, e.Expires))
		}
		if _, dup := out[e.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate", where))
		}
		out[e.ID] = e
	}
	return out, errors.Join(errs...)
}

// Finding levels, from govulncheck's traces: the module is required, a
// vulnerable package is linked, a vulnerable function is reachable.
const (
	levelModule = iota + 1
	levelPackage
	levelSymbol
)

// vuln is one OSV entry as the scan saw it.
type vuln struct {
	ID      string
	Module  string
	Version string
	Fixed   string
	Level   int
	Summary string
	Symbols []string
}

// parseScan reads govulncheck's -format json stream (one JSON object per
// message) and keeps, per OSV id, the deepest level any finding reached.
func parseScan(r io.Reader) (map[string]*vuln, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	summaries := map[string]string{}
	out := map[string]*vuln{}
	for {
		var msg struct {
			OSV *struct {
				ID      string `json:"id"`
				Summary string `json:"summary"`
			} `json:"osv"`
			Finding *struct {
				OSV   string `json:"osv"`
				Fixed string `json:"fixed_version"`
				Trace []struct {
					Module   string `json:"module"`
					Version  string `json:"version"`
					Package  string `json:"package"`
					Function string `json:"function"`
					Receiver string `json:"receiver"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("govulncheck output: %w", err)
		}
		if msg.OSV != nil {
			summaries[msg.OSV.ID] = msg.OSV.Summary
		}
		f := msg.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		t := f.Trace[0]
		level := levelModule
		if t.Package != "" {
			level = levelPackage
		}
		if t.Function != "" {
			level = levelSymbol
		}
		v := out[f.OSV]
		if v == nil {
			v = &vuln{ID: f.OSV, Module: t.Module, Version: t.Version, Fixed: f.Fixed}
			out[f.OSV] = v
		}
		v.Level = max(v.Level, level)
		if level == levelSymbol {
			sym := t.Function
			if t.Receiver != "" {
				sym = strings.TrimPrefix(t.Receiver, "*") + "." + sym
			}
			sym = lastElem(t.Package) + "." + sym
			if len(v.Symbols) < 5 && !slices.Contains(v.Symbols, sym) {
				v.Symbols = append(v.Symbols, sym)
			}
		}
	}
	for id, v := range out {
		v.Summary = summaries[id]
	}
	return out, nil
}

func lastElem(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// verdict applies the allow-list to a scan: every reachable (symbol-level)
// finding must be allow-listed for its module. It returns the report text
// and an error naming what failed.
func verdict(scan map[string]*vuln, allow map[string]allowEntry) (string, error) {
	ids := make([]string, 0, len(scan))
	for id := range scan {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var rep strings.Builder
	var failed, allowed, notCalled []string
	for _, id := range ids {
		v := scan[id]
		if v.Level < levelSymbol {
			notCalled = append(notCalled, id)
			continue
		}
		fixed := v.Fixed
		if fixed == "" {
			fixed = "none"
		}
		line := fmt.Sprintf("%s  %s@%s (fixed: %s)  %s", id, v.Module, v.Version, fixed, v.Summary)
		if e, ok := allow[id]; ok && e.Module == v.Module {
			allowed = append(allowed, line+"\n    allowed, reviewed "+e.Reviewed+", expires "+e.Expires+": "+oneLine(e.Reason))
			continue
		}
		failed = append(failed, line+"\n    reachable: "+strings.Join(v.Symbols, ", "))
	}
	var stale []string
	for id := range allow {
		if v, ok := scan[id]; !ok || v.Level < levelSymbol {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	section := func(title string, lines []string) {
		fmt.Fprintf(&rep, "%s: %d\n", title, len(lines))
		for _, l := range lines {
			fmt.Fprintf(&rep, "  %s\n", l)
		}
	}
	section("FAIL reachable and not allow-listed", failed)
	section("allowed (reachable, reviewed exception)", allowed)
	section("required but not reachable (informational)", notCalled)
	section("allow-list entries that no longer match a reachable finding (remove them)", stale)
	if len(failed) > 0 {
		return rep.String(), fmt.Errorf("vulnerability gate: %d reachable finding(s) not in the allow-list", len(failed))
	}
	return rep.String(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// runGate scans binary with govulncheck against the local database and
// applies the allow-list; the raw JSON and the report are written to
// outPrefix+".json" and outPrefix+".txt".
func runGate(govulncheck []string, dbDir, binary, allowFile, outPrefix string, now time.Time) error {
	ab, err := os.ReadFile(allowFile)
	if err != nil {
		return err
	}
	allow, err := readAllowList(ab, now)
	if err != nil {
		return err
	}
	args := append(append([]string{}, govulncheck[1:]...), "-mode", "binary", "-format", "json", "-db", "file://"+dbDir, binary)
	raw, err := runOut(govulncheck[0], args...)
	if err != nil {
		return fmt.Errorf("govulncheck: %w", err)
	}
	if err := os.WriteFile(outPrefix+".json", raw, 0o644); err != nil {
		return err
	}
	scan, err := parseScan(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	rep, gateErr := verdict(scan, allow)
	rep = fmt.Sprintf("binary: %s\ndatabase: %s\n\n%s", binary, dbDir, rep)
	if err := os.WriteFile(outPrefix+".txt", []byte(rep), 0o644); err != nil {
		return err
	}
	return gateErr
}
