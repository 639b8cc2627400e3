package spec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
)

// Malformed is a request body that is not valid JSON for its type: a 400
// "Invalid JSON".
type Malformed struct {
	Details []marathon.ErrorDetail
}

func (e *Malformed) Error() string { return "Invalid JSON: " + describe(e.Details) }

// Invalid is a well-formed definition that breaks a rule: a 422 "Object is
// not valid".
type Invalid struct {
	Details []marathon.ErrorDetail
}

func (e *Invalid) Error() string { return "Object is not valid: " + describe(e.Details) }

func describe(ds []marathon.ErrorDetail) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Path+": "+strings.Join(d.Errors, ", "))
	}
	return strings.Join(parts, "; ")
}

// problems collects validation errors by path.
type problems struct {
	byPath map[string][]string
	order  []string
}

func (p *problems) add(path, format string, args ...any) {
	if p.byPath == nil {
		p.byPath = map[string][]string{}
	}
	if _, seen := p.byPath[path]; !seen {
		p.order = append(p.order, path)
	}
	p.byPath[path] = append(p.byPath[path], fmt.Sprintf(format, args...))
}

// err returns an *Invalid, or nil when nothing was added. Details are
// ordered by path so answers are stable.
func (p *problems) err() error {
	if len(p.order) == 0 {
		return nil
	}
	paths := append([]string(nil), p.order...)
	sort.Strings(paths)
	out := make([]marathon.ErrorDetail, 0, len(paths))
	for _, path := range paths {
		out = append(out, marathon.ErrorDetail{Path: path, Errors: p.byPath[path]})
	}
	return &Invalid{Details: out}
}

// prefixed returns the problems of err (an *Invalid) with prefix before
// every path, for apps inside groups.
func Prefixed(err error, prefix string) error {
	inv, ok := err.(*Invalid)
	if !ok || prefix == "" {
		return err
	}
	out := make([]marathon.ErrorDetail, len(inv.Details))
	for i, d := range inv.Details {
		out[i] = marathon.ErrorDetail{Path: prefix + d.Path, Errors: d.Errors}
	}
	return &Invalid{Details: out}
}
