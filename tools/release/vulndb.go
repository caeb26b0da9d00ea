package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// defaultVulnDB is the golang.org/x/vulndb module version the release
// gate reads (scripts/release.sh takes it from here). Refresh: pick a newer
// pseudo-version from the module proxy (go list -m -versions does not list
// pseudo-versions; use go get golang.org/x/vulndb@master in a scratch module,
// or the proxy's @latest), change it here, and run make vulncheck.
const defaultVulnDB = "v0.0.0-20261105234957-e22db6528018"

// osvEntry is the part of an OSV record (https://ossf.github.io/osv-schema/)
// the database index needs. The record itself is copied byte for byte.
type osvEntry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

// osvRange is one affected range: versions from each "introduced" up to the
// next "fixed".
type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

// The v1 database layout read by govulncheck (golang.org/x/vuln): three
// index files and one file per entry under ID/.
type (
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
	moduleIndex struct {
		Path  string           `json:"path"`
		Vulns []moduleVulnInfo `json:"vulns"`
	}
	moduleVulnInfo struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	vulnIndex struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
)

// buildVulnDB writes a govulncheck v1 database to out from a directory of
// OSV JSON files (golang.org/x/vulndb's data/osv). The output depends only
// on the input files: entries and modules are sorted, and no clock is read.
func buildVulnDB(osvDir, out string) (int, error) {
	names, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, fmt.Errorf("no OSV files in %s", osvDir)
	}
	sort.Strings(names)
	if err := os.MkdirAll(filepath.Join(out, "ID"), 0o755); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(out, "index"), 0o755); err != nil {
		return 0, err
	}
	var (
		meta    dbMeta
		vulns   []vulnIndex
		modules = map[string][]moduleVulnInfo{}
	)
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			return 0, err
		}
		var e osvEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if e.ID == "" || filepath.Base(name) != e.ID+".json" {
			return 0, fmt.Errorf("%s: id %q does not match the file name", name, e.ID)
		}
		if e.Modified.After(meta.Modified) {
			meta.Modified = e.Modified
		}
		vulns = append(vulns, vulnIndex{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		seen := map[string]int{}
		for _, a := range e.Affected {
			mod := a.Package.Name
			if mod == "" {
				continue
			}
			fixed := latestFixed(a.Ranges)
			if i, ok := seen[mod]; ok {
				if cur := modules[mod][i].Fixed; cur != "" && (fixed == "" || semverLess(cur, fixed)) {
					modules[mod][i].Fixed = fixed
				}
				continue
			}
			seen[mod] = len(modules[mod])
			modules[mod] = append(modules[mod], moduleVulnInfo{ID: e.ID, Modified: e.Modified, Fixed: fixed})
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return 0, err
		}
	}
	var mods []moduleIndex
	for path, v := range modules {
		mods = append(mods, moduleIndex{Path: path, Vulns: v})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	for name, v := range map[string]any{"db.json": meta, "modules.json": mods, "vulns.json": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(out, "index", name), b, 0o644); err != nil {
			return 0, err
		}
	}
	return len(vulns), nil
}

// latestFixed is the highest "fixed" event over the SEMVER ranges; empty
// when some range is still open (no fix for its latest line).
func latestFixed(ranges []osvRange) string {
	var best string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, ev := range r.Events {
			if ev.Fixed != "" && (best == "" || semverLess(best, ev.Fixed)) {
				best = ev.Fixed
			}
		}
	}
	return best
}

func semverLess(a, b string) bool {
	return semver.Compare("v"+strings.TrimPrefix(a, "v"), "v"+strings.TrimPrefix(b, "v")) < 0
}

// vulnDBSource finds data/osv of the golang.org/x/vulndb module version in
// the module cache (downloading it through the module proxy when missing).
func vulnDBSource(version string) (string, error) {
	if version == "" {
		return "", errors.New("no vulndb version")
	}
	out, err := runOut("go", "mod", "download", "-json", "golang.org/x/vulndb@"+version)
	if err != nil {
		return "", err
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", errors.New(info.Error)
	}
	return filepath.Join(info.Dir, "data", "osv"), nil
}
