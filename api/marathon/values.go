package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// EnvVar is an env entry: a plain string value, or {"secret": name}.
type EnvVar struct {
	Value  string
	Secret string
}

// MarshalJSON writes a string, or {"secret":name}.
func (e EnvVar) MarshalJSON() ([]byte, error) {
	if e.Secret != "" {
		return json.Marshal(struct {
			Secret string `json:"secret"`
		}{e.Secret})
	}
	return json.Marshal(e.Value)
}

// UnmarshalJSON reads a string or {"secret":name}.
func (e *EnvVar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var s struct {
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = EnvVar{Secret: s.Secret}
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = EnvVar{Value: v}
	return nil
}

// UnreachableStrategy is "disabled" or {inactiveAfterSeconds,
// expungeAfterSeconds}.
type UnreachableStrategy struct {
	Disabled             bool
	InactiveAfterSeconds int64
	ExpungeAfterSeconds  int64
}

type unreachableFields struct {
	InactiveAfterSeconds int64 `json:"inactiveAfterSeconds"`
	ExpungeAfterSeconds  int64 `json:"expungeAfterSeconds"`
}

// MarshalJSON writes "disabled" or the object.
func (u UnreachableStrategy) MarshalJSON() ([]byte, error) {
	if u.Disabled {
		return []byte(`"disabled"`), nil
	}
	return json.Marshal(unreachableFields{u.InactiveAfterSeconds, u.ExpungeAfterSeconds})
}

// UnmarshalJSON reads "disabled" or the object.
func (u *UnreachableStrategy) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "disabled" {
			return fmt.Errorf("unreachableStrategy: %q is neither \"disabled\" nor an object", s)
		}
		*u = UnreachableStrategy{Disabled: true}
		return nil
	}
	var f unreachableFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*u = UnreachableStrategy{InactiveAfterSeconds: f.InactiveAfterSeconds, ExpungeAfterSeconds: f.ExpungeAfterSeconds}
	return nil
}

// Constraint is [field, operator] or [field, operator, value].
type Constraint []string

// UnmarshalJSON accepts an array of strings; numbers are taken as their
// text (old clients send GROUP_BY values as numbers).
func (c *Constraint) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Constraint, 0, len(raw))
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			out = append(out, s)
			continue
		}
		var n json.Number
		if err := json.Unmarshal(r, &n); err != nil {
			return errors.New("constraint entries must be strings")
		}
		out = append(out, n.String())
	}
	*c = out
	return nil
}

// Field is the constraint's field (c[0]), or "".
func (c Constraint) Field() string { return c.at(0) }

// Operator is the constraint's operator (c[1]), or "".
func (c Constraint) Operator() string { return c.at(1) }

// Value is the constraint's value (c[2]), or "".
func (c Constraint) Value() string { return c.at(2) }

func (c Constraint) at(i int) string {
	if i < len(c) {
		return c[i]
	}
	return ""
}
