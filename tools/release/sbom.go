package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// component is a CycloneDX component, the fields this tool writes.
type component struct {
	Type        string         `json:"type"`
	BOMRef      string         `json:"bom-ref"`
	Name        string         `json:"name"`
	Version     string         `json:"version,omitempty"`
	Description string         `json:"description,omitempty"`
	PURL        string         `json:"purl,omitempty"`
	Licenses    []licenseRef   `json:"licenses,omitempty"`
	ExtRefs     []extRef       `json:"externalReferences,omitempty"`
	Properties  []property     `json:"properties,omitempty"`
	Hashes      []hashEntry    `json:"hashes,omitempty"`
	Evidence    map[string]any `json:"evidence,omitempty"`
}

type licenseRef struct {
	License struct {
		ID   string `json:"id,omitempty"`
		Name string `json:"name,omitempty"`
	} `json:"license"`
}

type extRef struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type hashEntry struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

func spdx(id string) []licenseRef {
	if id == "" {
		return nil
	}
	var l licenseRef
	l.License.ID = id
	return []licenseRef{l}
}

// declared is release/components.yaml: the non-Go parts whose facts cannot
// be read from a lockfile or the module graph (the default model).
type declared struct {
	Components []struct {
		Type        string            `yaml:"type"`
		Name        string            `yaml:"name"`
		Version     string            `yaml:"version"`
		Description string            `yaml:"description"`
		License     string            `yaml:"license"`
		PURL        string            `yaml:"purl"`
		URLs        map[string]string `yaml:"urls"`
	} `yaml:"components"`
}

// sbomInputs are the extra sources merged into cyclonedx-gomod's SBOM.
type sbomInputs struct {
	GoSBOM    string // cyclonedx-gomod output
	Declared  string // release/components.yaml
	OllamaDir string // module directory of github.com/ollama/ollama
	Libs      []runtimeLib
	NPMLock   string // console lockfile; skipped when absent
}

var fetchHead = regexp.MustCompile(`(?m)^FETCH_HEAD=(\S+)`)

// vendoredLlama describes the llama.cpp and ggml sources that the ollama
// module vendors and cgo compiles into the binary.
func vendoredLlama(ollamaDir string) ([]component, error) {
	mk, err := os.ReadFile(filepath.Join(ollamaDir, "Makefile.sync"))
	if err != nil {
		return nil, fmt.Errorf("ollama module: %w", err)
	}
	m := fetchHead.FindSubmatch(mk)
	if m == nil {
		return nil, fmt.Errorf("ollama module: no FETCH_HEAD in Makefile.sync")
	}
	commit := string(m[1])
	var out []component
	for _, v := range []struct{ name, dir, url string }{
		{"llama.cpp", "llama/llama.cpp", "https://github.com/ggml-org/llama.cpp"},
		{"ggml", "ml/backend/ggml/ggml", "https://github.com/ggml-org/llama.cpp/tree/master/ggml"},
	} {
		lic := licenseOf(filepath.Join(ollamaDir, v.dir), filepath.Join(ollamaDir, "llama/llama.cpp"))
		if lic == "" {
			return nil, fmt.Errorf("%s: licence file not found or not recognised under %s", v.name, v.dir)
		}
		out = append(out, component{
			Type:        "library",
			BOMRef:      "vendored:" + v.name + "@" + commit,
			Name:        v.name,
			Version:     commit,
			Description: "C/C++ sources vendored in github.com/ollama/ollama (" + v.dir + ") and compiled into the binary by cgo",
			PURL:        "pkg:github/ggml-org/llama.cpp@" + commit,
			Licenses:    spdx(lic),
			ExtRefs:     []extRef{{Type: "vcs", URL: v.url}},
		})
	}
	return out, nil
}

// licenseOf recognises the licence text in the first directory that has a
// LICENSE file.
func licenseOf(dirs ...string) string {
	for _, d := range dirs {
		for _, n := range []string{"LICENSE", "LICENSE.txt", "LICENSE.md"} {
			b, err := os.ReadFile(filepath.Join(d, n))
			if err != nil {
				continue
			}
			switch s := string(b); {
			case strings.Contains(s, "MIT License") || strings.Contains(s, "Permission is hereby granted, free of charge"):
				return "MIT"
			case strings.Contains(s, "Apache License") && strings.Contains(s, "Version 2.0"):
				return "Apache-2.0"
			}
		}
	}
	return ""
}

// npmComponents lists the packages of an npm lockfile (v2/v3) that ship in
// the bundle (dev dependencies are build tools, not shipped).
func npmComponents(lockFile string) ([]component, error) {
	b, err := os.ReadFile(lockFile)
	if err != nil {
		return nil, err
	}
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Version   string `json:"version"`
			License   string `json:"license"`
			Dev       bool   `json:"dev"`
			Resolved  string `json:"resolved"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("%s: %w", lockFile, err)
	}
	if lock.LockfileVersion < 2 {
		return nil, fmt.Errorf("%s: lockfile version %d; need 2 or 3", lockFile, lock.LockfileVersion)
	}
	var out []component
	for key, p := range lock.Packages {
		if key == "" || p.Dev {
			continue
		}
		name := key[strings.LastIndex(key, "node_modules/")+len("node_modules/"):]
		c := component{
			Type:     "library",
			BOMRef:   "npm:" + name + "@" + p.Version,
			Name:     name,
			Version:  p.Version,
			PURL:     "pkg:npm/" + strings.Replace(name, "@", "%40", 1) + "@" + p.Version,
			Licenses: spdx(p.License),
		}
		if p.Integrity != "" {
			c.Properties = append(c.Properties, property{Name: "npm:integrity", Value: p.Integrity})
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BOMRef < out[j].BOMRef })
	return out, nil
}

// mergeSBOM adds the non-Go components to cyclonedx-gomod's document and
// returns it, indented, with keys in a fixed order.
func mergeSBOM(in sbomInputs) ([]byte, error) {
	raw, err := os.ReadFile(in.GoSBOM)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", in.GoSBOM, err)
	}
	if doc["bomFormat"] != "CycloneDX" {
		return nil, fmt.Errorf("%s is not a CycloneDX document", in.GoSBOM)
	}
	var extra []component
	llama, err := vendoredLlama(in.OllamaDir)
	if err != nil {
		return nil, err
	}
	extra = append(extra, llama...)
	for _, l := range in.Libs {
		c := component{
			Type:        "library",
			BOMRef:      "file:" + l.Path,
			Name:        filepath.Base(l.Path),
			Description: "shared library the binary links, copied into the image at " + l.Path,
		}
		if l.Package != "" {
			c.BOMRef = "deb:" + l.Package + "@" + l.Version + ":" + filepath.Base(l.Path)
			c.Version = l.Version
			c.PURL = "pkg:deb/debian/" + l.Package + "@" + l.Version + "?arch=amd64"
			c.Properties = []property{{Name: "debian:package", Value: l.Package}}
		}
		extra = append(extra, c)
	}
	if in.Declared != "" {
		b, err := os.ReadFile(in.Declared)
		if err != nil {
			return nil, err
		}
		var d declared
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Declared, err)
		}
		for _, dc := range d.Components {
			if dc.Name == "" || dc.Version == "" || dc.License == "" || dc.Type == "" {
				return nil, fmt.Errorf("%s: %q needs type, name, version and license", in.Declared, dc.Name)
			}
			c := component{Type: dc.Type, BOMRef: dc.Type + ":" + dc.Name + "@" + dc.Version, Name: dc.Name, Version: dc.Version,
				Description: dc.Description, PURL: dc.PURL, Licenses: spdx(dc.License)}
			keys := make([]string, 0, len(dc.URLs))
			for k := range dc.URLs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				c.ExtRefs = append(c.ExtRefs, extRef{Type: k, URL: dc.URLs[k]})
			}
			extra = append(extra, c)
		}
	}
	notes := []property{}
	if in.NPMLock != "" {
		if _, err := os.Stat(in.NPMLock); err == nil {
			npm, err := npmComponents(in.NPMLock)
			if err != nil {
				return nil, err
			}
			extra = append(extra, npm...)
		} else {
			notes = append(notes, property{Name: "outcrop:npm-bundle", Value: "none: " + in.NPMLock + " does not exist in this tree (no console bundle is embedded)"})
		}
	}
	comps, _ := doc["components"].([]any)
	for _, c := range extra {
		b, _ := json.Marshal(c)
		var m map[string]any
		json.Unmarshal(b, &m)
		comps = append(comps, m)
	}
	doc["components"] = comps
	if len(notes) > 0 {
		md, _ := doc["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
		}
		props, _ := md["properties"].([]any)
		for _, p := range notes {
			props = append(props, map[string]any{"name": p.Name, "value": p.Value})
		}
		md["properties"] = props
		doc["metadata"] = md
	}
	// The ollama module depends on what it vendors.
	if deps, ok := doc["dependencies"].([]any); ok {
		for _, d := range deps {
			dm, _ := d.(map[string]any)
			if ref, _ := dm["ref"].(string); strings.Contains(ref, "github.com/ollama/ollama@") {
				on, _ := dm["dependsOn"].([]any)
				for _, c := range llama {
					on = append(on, c.BOMRef)
				}
				dm["dependsOn"] = on
			}
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}
