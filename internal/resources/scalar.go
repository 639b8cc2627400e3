package resources

import (
	"math"
	"strconv"
)

// Scalar is a fixed-point quantity with 3 decimals: the value ×1000, rounded as Mesos
// does (llround(v*1000)). All arithmetic and comparison of scalar resources uses it.
type Scalar int64

// Scalar bounds. MaxScalarValue is the largest value a valid resource may
// carry; sums of valid values saturate at math.MaxInt64 instead of wrapping.
const (
	ScalarUnit          Scalar  = 1000
	MaxScalarValue      float64 = 1e12
	maxValidScalarFixed Scalar  = Scalar(MaxScalarValue * 1000)
)

// ScalarFromFloat converts v to fixed point, rounding half away from zero like
// llround. NaN converts to 0; values beyond the int64 range saturate.
func ScalarFromFloat(v float64) Scalar {
	f := math.Round(v * 1000)
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return Scalar(f)
}

// Float returns the value as a float64 the way Mesos converts back: the whole
// part plus the thousandths, so results print with at most three decimals.
func (s Scalar) Float() float64 {
	return float64(s/1000) + float64(s%1000)/1000
}

// String renders the exact decimal value with trailing zeros trimmed: "2",
// "0.5", "1024.125".
func (s Scalar) String() string {
	neg := s < 0
	u := uint64(s)
	if neg {
		u = -u
	}
	b := make([]byte, 0, 24)
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, u/1000, 10)
	if frac := u % 1000; frac != 0 {
		digits := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(b, digits...)
	}
	return string(b)
}

// addScalar adds saturating at the int64 bounds.
func addScalar(a, b Scalar) Scalar {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}
