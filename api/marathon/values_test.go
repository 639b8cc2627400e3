package marathon

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPolymorphicValuesRoundTrip(t *testing.T) {
	in := `{"env":{"A":"1","B":{"secret":"s1"}},"u1":"disabled","u2":{"inactiveAfterSeconds":60,"expungeAfterSeconds":120},"c":[["hostname","UNIQUE"],["rack","GROUP_BY",3]]}`
	var v struct {
		Env map[string]EnvVar   `json:"env"`
		U1  UnreachableStrategy `json:"u1"`
		U2  UnreachableStrategy `json:"u2"`
		C   []Constraint        `json:"c"`
	}
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.Env["A"] != (EnvVar{Value: "1"}) || v.Env["B"] != (EnvVar{Secret: "s1"}) {
		t.Errorf("env %+v", v.Env)
	}
	if !v.U1.Disabled || v.U2 != (UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 120}) {
		t.Errorf("unreachable %+v %+v", v.U1, v.U2)
	}
	if diff := cmp.Diff([]Constraint{{"hostname", "UNIQUE"}, {"rack", "GROUP_BY", "3"}}, v.C); diff != "" {
		t.Errorf("constraints (-want +got):\n%s", diff)
	}
	if c := v.C[1]; c.Field() != "rack" || c.Operator() != "GROUP_BY" || c.Value() != "3" || v.C[0].Value() != "" {
		t.Errorf("accessors %v", c)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"env":{"A":"1","B":{"secret":"s1"}},"u1":"disabled","u2":{"inactiveAfterSeconds":60,"expungeAfterSeconds":120},"c":[["hostname","UNIQUE"],["rack","GROUP_BY","3"]]}`
	if string(out) != want {
		t.Errorf("marshal:\n got %s\nwant %s", out, want)
	}
	var bad UnreachableStrategy
	if err := json.Unmarshal([]byte(`"sometimes"`), &bad); err == nil {
		t.Error(`"sometimes" accepted as unreachableStrategy`)
	}
}
