package apps

import (
	"fmt"
	"slices"
	"strings"
)

// selector is a Marathon label selector: comma-separated terms, all of
// which must hold. Terms: "key", "k==v", "k!=v", "k in (a,b)",
// "k notin (a,b)"; characters outside [-A-Za-z0-9_.] are \-escaped.
type selector []term

type term struct {
	key    string
	op     string // "exists", "==", "!=", "in", "notin"
	values []string
}

func (s selector) matches(labels map[string]string) bool {
	for _, t := range s {
		v, ok := labels[t.key]
		switch t.op {
		case "exists":
			if !ok {
				return false
			}
		case "==":
			if !ok || v != t.values[0] {
				return false
			}
		case "!=":
			if ok && v == t.values[0] {
				return false
			}
		case "in":
			if !ok || !slices.Contains(t.values, v) {
				return false
			}
		case "notin":
			if ok && slices.Contains(t.values, v) {
				return false
			}
		}
	}
	return true
}

func parseSelector(s string) (selector, error) {
	var out selector
	for _, part := range splitTerms(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, err := parseTerm(part)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// splitTerms splits on commas outside parentheses and escapes.
func splitTerms(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseTerm(t string) (term, error) {
	for _, op := range []string{"==", "!="} {
		if i := indexUnescaped(t, op); i >= 0 {
			return term{key: unescape(strings.TrimSpace(t[:i])), op: op, values: []string{unescape(strings.TrimSpace(t[i+2:]))}}, nil
		}
	}
	for _, op := range []string{" notin ", " in "} {
		if i := strings.Index(t, op); i >= 0 {
			set := strings.TrimSpace(t[i+len(op):])
			if !strings.HasPrefix(set, "(") || !strings.HasSuffix(set, ")") {
				return term{}, fmt.Errorf("%q: set must be parenthesised", t)
			}
			var values []string
			for _, v := range splitTerms(set[1 : len(set)-1]) {
				values = append(values, unescape(strings.TrimSpace(v)))
			}
			return term{key: unescape(strings.TrimSpace(t[:i])), op: strings.TrimSpace(op), values: values}, nil
		}
	}
	return term{key: unescape(t), op: "exists"}, nil
}

func indexUnescaped(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
