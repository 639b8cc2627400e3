package apps

import "testing"

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"team": "web", "tier": "front", "odd,key": "a b"}
	tests := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"team", true},
		{"owner", false},
		{"team==web", true},
		{"team==db", false},
		{"team!=db", true},
		{"owner!=x", true},
		{"tier in (front,back)", true},
		{"tier notin (front,back)", false},
		{"team==web,tier==front", true},
		{"team==web,tier==back", false},
		{`odd\,key==a\ b`, true},
	}
	for _, tc := range tests {
		sel, err := parseSelector(tc.sel)
		if err != nil {
			t.Errorf("parseSelector(%q): %v", tc.sel, err)
			continue
		}
		if got := sel.matches(labels); got != tc.want {
			t.Errorf("%q matches = %v, want %v", tc.sel, got, tc.want)
		}
	}
	if _, err := parseSelector("tier in front"); err == nil {
		t.Error("unparenthesised set accepted")
	}
}
