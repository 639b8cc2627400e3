package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Parse reads the agent's --resources flag: either a JSON array of Resource
// objects (Mesos JSON; used whenever text is valid JSON) or the text syntax `name(role):value;...`, where value
// is a scalar (`2.5`), ranges (`[21000-24000,30000-34000]`) or a set
// (`{a,b}`), and a role in parentheses makes a static reservation. Resources
// without a role get defaultRole ("" means "*"). As in Mesos, the flag may not
// declare persistent volumes, revocable resources, dynamic reservations, or one
// name with two types. `file://` is the caller's business. Errors wrap
// ErrInvalid.
func Parse(text string, defaultRole string) (Resources, error) {
	if defaultRole == "" {
		defaultRole = "*"
	}
	if err := ValidateRole(defaultRole); err != nil {
		return Resources{}, fmt.Errorf("default role: %w", err)
	}
	protos, err := parseResources(text, defaultRole)
	if err != nil {
		return Resources{}, err
	}
	if err := Validate(protos); err != nil {
		return Resources{}, err
	}
	if err := validateFlagResources(protos); err != nil {
		return Resources{}, err
	}
	return fromValidProto(protos), nil
}

// parseResources reads a JSON array when text is one, else the text syntax. A
// text that looks like JSON but is neither reports the JSON error.
func parseResources(text, defaultRole string) ([]*mesos.Resource, error) {
	if !strings.HasPrefix(strings.TrimSpace(text), "[") {
		return parseTextResources(text, defaultRole)
	}
	if json.Valid([]byte(text)) {
		return parseJSONResources(text, defaultRole)
	}
	if protos, err := parseTextResources(text, defaultRole); err == nil {
		return protos, nil
	}
	return parseJSONResources(text, defaultRole)
}

func parseJSONResources(text, defaultRole string) ([]*mesos.Resource, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(text), &raws); err != nil {
		return nil, fmt.Errorf("%w resources JSON: %w", ErrInvalid, err)
	}
	out := make([]*mesos.Resource, len(raws))
	for i, raw := range raws {
		r := &mesos.Resource{}
		if err := mesosjson.Unmarshal(raw, r); err != nil {
			return nil, fmt.Errorf("%w resources JSON element #%d: %w", ErrInvalid, i, err)
		}
		if r.Role == nil && len(r.Reservations) == 0 {
			r.Role = proto.String(defaultRole)
		}
		out[i] = r
	}
	return out, nil
}

func parseTextResources(text, defaultRole string) ([]*mesos.Resource, error) {
	var out []*mesos.Resource
	for _, token := range strings.Split(text, ";") {
		if strings.TrimSpace(token) == "" {
			continue
		}
		r, err := parseTextResource(token, defaultRole)
		if err != nil {
			return nil, fmt.Errorf("%w resources %q: %w", ErrInvalid, strings.TrimSpace(token), err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseTextResource(token, defaultRole string) (*mesos.Resource, error) {
	head, text, ok := strings.Cut(token, ":")
	if !ok || strings.Contains(text, ":") {
		return nil, errors.New("expected exactly one ':' between name and value")
	}
	name, role, err := parseNameRole(head, defaultRole)
	if err != nil {
		return nil, err
	}
	v, err := parseValue(text)
	if err != nil {
		return nil, err
	}
	r := &mesos.Resource{Name: proto.String(name), Type: v.Type}
	switch v.GetType() {
	case mesos.Value_SCALAR:
		r.Scalar = v.Scalar
	case mesos.Value_RANGES:
		r.Ranges = v.Ranges
	case mesos.Value_SET:
		r.Set = v.Set
	default:
		return nil, fmt.Errorf("value %q is not a scalar, ranges or set", v.GetText().GetValue())
	}
	if role != "*" {
		r.Reservations = []*mesos.Resource_ReservationInfo{{
			Type: mesos.Resource_ReservationInfo_STATIC.Enum(),
			Role: proto.String(role),
		}}
	}
	return r, nil
}

// parseNameRole splits `name(role)`; without parentheses the role is defaultRole.
func parseNameRole(head, defaultRole string) (name, role string, err error) {
	open := strings.IndexByte(head, '(')
	closing := strings.IndexByte(head, ')')
	if open < 0 {
		if closing >= 0 {
			return "", "", errors.New("mismatched parentheses")
		}
		return strings.TrimSpace(head), defaultRole, nil
	}
	if closing < open {
		return "", "", errors.New("mismatched parentheses")
	}
	if strings.TrimSpace(head[closing+1:]) != "" {
		return "", "", fmt.Errorf("unexpected %q after the role", strings.TrimSpace(head[closing+1:]))
	}
	return strings.TrimSpace(head[:open]), strings.TrimSpace(head[open+1 : closing]), nil
}

// parseValue reads a Mesos value: ranges, set, scalar, or else text. Spaces
// are ignored, as in Mesos.
func parseValue(text string) (*mesos.Value, error) {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, text)
	switch {
	case s == "":
		return nil, errors.New("empty value")
	case strings.HasPrefix(s, "["):
		return parseRangesValue(s)
	case strings.HasPrefix(s, "{"):
		return parseSetValue(s)
	case strings.ContainsAny(s, "[]{}"):
		return nil, fmt.Errorf("unexpected bracket in %q", s)
	}
	if isDecimal(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return &mesos.Value{Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(f)}}, nil
		}
	}
	return &mesos.Value{Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String(s)}}, nil
}

// parseRangesValue reads "[a-b,c-d]" and coalesces the ranges.
func parseRangesValue(s string) (*mesos.Value, error) {
	inner, ok := strings.CutSuffix(s[1:], "]")
	if !ok || strings.ContainsAny(inner, "[]{}()") {
		return nil, fmt.Errorf("expected ranges like [1-10,20-30], got %q", s)
	}
	var rs []Range
	for _, part := range strings.Split(inner, ",") {
		if part == "" {
			continue
		}
		rg, err := parseRange(part)
		if err != nil {
			return nil, err
		}
		rs = append(rs, rg)
	}
	return &mesos.Value{Type: mesos.Value_RANGES.Enum(), Ranges: rangesProto(normalizeRanges(rs))}, nil
}

func parseRange(part string) (Range, error) {
	b, e, ok := strings.Cut(part, "-")
	if !ok {
		return Range{}, fmt.Errorf("expected a range like 1-10, got %q", part)
	}
	begin, err1 := strconv.ParseUint(b, 10, 64)
	end, err2 := strconv.ParseUint(e, 10, 64)
	if err1 != nil || err2 != nil {
		return Range{}, fmt.Errorf("expected non-negative integers in range %q", part)
	}
	if begin > end {
		return Range{}, fmt.Errorf("range %q begins after it ends", part)
	}
	return Range{begin, end}, nil
}

// parseSetValue reads "{a,b}"; empty items are skipped.
func parseSetValue(s string) (*mesos.Value, error) {
	inner, ok := strings.CutSuffix(s[1:], "}")
	if !ok || strings.ContainsAny(inner, "[]{}()") {
		return nil, fmt.Errorf("expected a set like {a,b}, got %q", s)
	}
	set := &mesos.Value_Set{}
	for _, item := range strings.Split(inner, ",") {
		if item != "" {
			set.Item = append(set.Item, item)
		}
	}
	return &mesos.Value{Type: mesos.Value_SET.Enum(), Set: set}, nil
}

// isDecimal reports whether s is a plain decimal number: optional sign,
// digits with an optional fraction, optional exponent (no hex, inf, nan or
// underscores).
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	intDigits := countDigits(s[i:])
	i += intDigits
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		fracDigits = countDigits(s[i:])
		i += fracDigits
	}
	if intDigits+fracDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := countDigits(s[i:])
		if exp == 0 {
			return false
		}
		i += exp
	}
	return i == len(s)
}

func countDigits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// validateFlagResources applies Mesos' extra rules for resources given on the
// command line.
func validateFlagResources(rs []*mesos.Resource) error {
	types := make(map[string]mesos.Value_Type, len(rs))
	for _, r := range rs {
		var reason string
		switch {
		case r.GetDisk().GetPersistence() != nil:
			reason = "persistent volumes cannot be given on the command line"
		case r.Revocable != nil:
			reason = "revocable resources cannot be given on the command line"
		case isDynamicallyReservedProto(r):
			reason = "dynamic reservations cannot be given on the command line"
		}
		if t, seen := types[r.GetName()]; seen && t != r.GetType() {
			reason = fmt.Sprintf("resource %s is given with two types, %s and %s", r.GetName(), t, r.GetType())
		}
		if reason != "" {
			return fmt.Errorf("%w resource %q: %s", ErrInvalid, describeProto(r), reason)
		}
		types[r.GetName()] = r.GetType()
	}
	return nil
}

// ParseAttributes reads the agent's --attributes flag,
// `rack:r1;zone:2;range:[1-10]`. Each value is a scalar, ranges, or text made
// of [a-zA-Z0-9_/.-]; sets are not allowed, nor is a name given twice. Errors
// wrap ErrInvalid.
func ParseAttributes(text string) ([]*mesos.Attribute, error) {
	var out []*mesos.Attribute
	seen := make(map[string]bool)
	tokens := strings.FieldsFunc(text, func(r rune) bool { return r == ';' || r == '\n' })
	for _, token := range tokens {
		if strings.TrimSpace(token) == "" {
			continue
		}
		a, err := parseAttribute(token)
		if err != nil {
			return nil, fmt.Errorf("%w attribute %q: %w", ErrInvalid, strings.TrimSpace(token), err)
		}
		if seen[a.GetName()] {
			return nil, fmt.Errorf("%w attribute %q: name %q is given twice", ErrInvalid, strings.TrimSpace(token), a.GetName())
		}
		seen[a.GetName()] = true
		out = append(out, a)
	}
	return out, nil
}

func parseAttribute(token string) (*mesos.Attribute, error) {
	name, text, ok := strings.Cut(token, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(text) == "" {
		return nil, errors.New("expected name:value")
	}
	v, err := parseValue(text)
	if err != nil {
		return nil, err
	}
	a := &mesos.Attribute{Name: proto.String(name), Type: v.Type}
	switch v.GetType() {
	case mesos.Value_SCALAR:
		a.Scalar = v.Scalar
	case mesos.Value_RANGES:
		a.Ranges = v.Ranges
	case mesos.Value_TEXT:
		if bad := strings.IndexFunc(v.GetText().GetValue(), notTextChar); bad >= 0 {
			return nil, fmt.Errorf("text value %q may only contain [a-zA-Z0-9_/.-]", v.GetText().GetValue())
		}
		a.Text = v.Text
	default:
		return nil, errors.New("set values are not allowed in attributes")
	}
	return a, nil
}

func notTextChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("_/.-", r)
}
