package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// segmentPattern is Marathon's id segment rule.
var segmentPattern = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)

// idRuleText is the validation message of a bad id segment.
const idRuleText = `must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$'`

// Root is the root group's id.
const Root = "/"

// Resolve makes id absolute against the group base ("/" or "/a/b"):
// relative ids are appended, "." and ".." segments are resolved. It
// reports a segment that breaks the id rule.
func Resolve(id, base string) (string, error) {
	var parts []string
	if !strings.HasPrefix(id, "/") {
		parts = segments(base)
	}
	for _, s := range strings.Split(id, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", fmt.Errorf("%s: .. leaves the root group", id)
			}
			parts = parts[:len(parts)-1]
		default:
			if !segmentPattern.MatchString(s) {
				return "", fmt.Errorf("%s", idRuleText)
			}
			parts = append(parts, s)
		}
	}
	return "/" + strings.Join(parts, "/"), nil
}

// segments splits an absolute path into its segments.
func segments(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Parent is the group holding id ("/" for top-level ids).
func Parent(id string) string {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return Root
	}
	return id[:i]
}

// IsUnder reports whether id is group or inside it.
func IsUnder(id, group string) bool {
	if group == Root {
		return true
	}
	return id == group || strings.HasPrefix(id, group+"/")
}

// SafeID is the id without its leading slash, with "/" replaced by "_":
// the prefix of instance ids.
func SafeID(id string) string {
	return strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_")
}

// FromSafeID inverts SafeID.
func FromSafeID(safe string) string { return "/" + strings.ReplaceAll(safe, "_", "/") }

// ServiceName is the task name Marathon uses: the segments reversed and
// joined by dots ("/prod/web" → "web.prod").
func ServiceName(id string) string {
	s := segments(id)
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return strings.Join(s, ".")
}

// TopLevel is the first segment of id ("" for the root).
func TopLevel(id string) string {
	s := segments(id)
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
