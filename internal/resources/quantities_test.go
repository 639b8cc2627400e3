package resources

import (
	"maps"
	"slices"
	"testing"
)

func TestQuantitiesFromResources(t *testing.T) {
	r := mustParse(t, "cpus:2;cpus(eng):1.5;mem:1024;ports:[31000-32000,40000-40009];bugs:{a,b,c}")
	q := r.Quantities()
	want := map[string]Scalar{"cpus": 3500, "mem": 1_024_000, "ports": 1_011_000, "bugs": 3000}
	if got := q.ToMap(); !maps.Equal(got, want) {
		t.Errorf("Quantities = %v, want %v", got, want)
	}
	if got := q.Names(); !slices.Equal(got, []string{"bugs", "cpus", "mem", "ports"}) {
		t.Errorf("Names = %v", got)
	}
	if q.Get("gpus") != 0 || q.Get("cpus") != 3500 {
		t.Error("Get wrong")
	}
	if got := q.String(); got != "bugs:3;cpus:3.5;mem:1024;ports:1011" {
		t.Errorf("String = %q", got)
	}
}

func TestQuantitiesArithmetic(t *testing.T) {
	a := QuantitiesFromMap(map[string]Scalar{"cpus": 2000, "mem": 100_000})
	b := QuantitiesFromMap(map[string]Scalar{"cpus": 500, "gpus": 1000, "disk": 0, "neg": -5})
	if got := b.Names(); !slices.Equal(got, []string{"cpus", "gpus"}) {
		t.Fatalf("FromMap must drop values ≤ 0, got %v", got)
	}
	sum := a.Add(b)
	if got := sum.ToMap(); !maps.Equal(got, map[string]Scalar{"cpus": 2500, "mem": 100_000, "gpus": 1000}) {
		t.Errorf("Add = %v", got)
	}
	if got := a.Subtract(b).ToMap(); !maps.Equal(got, map[string]Scalar{"cpus": 1500, "mem": 100_000}) {
		t.Errorf("Subtract = %v", got)
	}
	if got := b.Subtract(a).ToMap(); !maps.Equal(got, map[string]Scalar{"gpus": 1000}) {
		t.Errorf("saturating Subtract = %v", got)
	}
	if !sum.Contains(a) || !sum.Contains(b) || a.Contains(b) || !a.Contains(Quantities{}) {
		t.Error("Contains wrong")
	}
	if !sum.Subtract(b).Equal(a) {
		t.Errorf("(a+b)-b = %v, want %v", sum.Subtract(b), a)
	}
	if !(Quantities{}).IsEmpty() || a.IsEmpty() || !a.Subtract(a).IsEmpty() {
		t.Error("IsEmpty wrong")
	}
	if got := (Quantities{}).FromMap(map[string]Scalar{"x": 1}); got.Get("x") != 1 {
		t.Error("FromMap method wrong")
	}
	mixed := QuantitiesFromMap(map[string]Scalar{"a": 1, "cpus": 2, "d": 3, "zz": 4, "ports": 5})
	if got := mixed.Names(); !slices.Equal(got, []string{"a", "cpus", "d", "ports", "zz"}) {
		t.Errorf("Names interleaves standard and other names wrongly: %v", got)
	}
	if got := mixed.String(); got != "a:0.001;cpus:0.002;d:0.003;ports:0.005;zz:0.004" {
		t.Errorf("String = %q", got)
	}
	if !mixed.Subtract(QuantitiesFromMap(map[string]Scalar{"a": 1, "d": 5})).Equal(QuantitiesFromMap(map[string]Scalar{"cpus": 2, "zz": 4, "ports": 5})) {
		t.Error("Subtract of other names wrong")
	}
	if mixed.Contains(QuantitiesFromMap(map[string]Scalar{"b": 1})) || !mixed.Contains(QuantitiesFromMap(map[string]Scalar{"zz": 4, "mem": 0})) {
		t.Error("Contains of other names wrong")
	}
}
