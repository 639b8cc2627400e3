package resources

import (
	"math"
	"testing"
)

func TestScalarFromFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want Scalar
	}{
		{0, 0},
		{1, 1000},
		{0.1, 100},
		{0.001, 1},
		{0.0004, 0},
		{0.0005, 1}, // half away from zero, like llround
		{-0.0005, -1},
		{2.0015, 2002},
		{1024.125, 1024125},
		{math.NaN(), 0},
		{math.Inf(1), math.MaxInt64},
		{math.Inf(-1), math.MinInt64},
		{1e300, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := ScalarFromFloat(tt.in); got != tt.want {
			t.Errorf("ScalarFromFloat(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestScalarFixedPointArithmetic(t *testing.T) {
	sum := ScalarFromFloat(0.1) + ScalarFromFloat(0.2)
	if sum != ScalarFromFloat(0.3) {
		t.Fatalf("0.1+0.2 = %d, want %d", sum, ScalarFromFloat(0.3))
	}
	if got := sum.Float(); got != 0.3 {
		t.Fatalf("Float() = %v, want 0.3", got)
	}
}

func TestScalarFloatAndString(t *testing.T) {
	tests := []struct {
		in    Scalar
		float float64
		str   string
	}{
		{0, 0, "0"},
		{1000, 1, "1"},
		{100, 0.1, "0.1"},
		{1500, 1.5, "1.5"},
		{1024125, 1024.125, "1024.125"},
		{10, 0.01, "0.01"},
		{-2500, -2.5, "-2.5"},
		{1_000_000_000_000_000, 1e12, "1000000000000"},
	}
	for _, tt := range tests {
		if got := tt.in.Float(); got != tt.float {
			t.Errorf("Scalar(%d).Float() = %v, want %v", tt.in, got, tt.float)
		}
		if got := tt.in.String(); got != tt.str {
			t.Errorf("Scalar(%d).String() = %q, want %q", tt.in, got, tt.str)
		}
	}
	if got := Scalar(math.MinInt64).String(); got != "-9223372036854775.808" {
		t.Errorf("MinInt64 renders %q", got)
	}
}

func TestAddScalarSaturates(t *testing.T) {
	if got := addScalar(math.MaxInt64-1, 5); got != math.MaxInt64 {
		t.Errorf("overflow: got %d", got)
	}
	if got := addScalar(math.MinInt64+1, -5); got != math.MinInt64 {
		t.Errorf("underflow: got %d", got)
	}
	if got := addScalar(2, 3); got != 5 {
		t.Errorf("2+3 = %d", got)
	}
}
