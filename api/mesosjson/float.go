package mesosjson

import (
	"bytes"
	"math"
	"strconv"
)

// appendFloat writes v the way Mesos' JSON writer (rapidjson) does, so that
// output matches Mesos byte for byte:
//
//   - the shortest digits that read back as the same value;
//   - plain decimal notation when 1e-6 <= |v| < 1e21 (and for 0), with a
//     trailing ".0" on integral values: 15.0, 0.5, 100000000000000000000.0;
//   - otherwise exponent notation without a "+" or leading zeros: 1e21,
//     1.5e-7, -2.5e300;
//   - non-finite values as the bare tokens Infinity, -Infinity and NaN
//     (not valid JSON, but what Mesos emits, e.g. for unlimited task limits).
//
// bitSize is 32 for float fields: they are written with the shortest digits
// of the float32 value ("0.1", not rapidjson's widened 0.10000000149011612).
func appendFloat(b []byte, v float64, bitSize int) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "Infinity"...)
	case math.IsInf(v, -1):
		return append(b, "-Infinity"...)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		if v == 0 && math.Signbit(v) {
			return append(b, "-0.0"...)
		}
		b = strconv.AppendInt(b, int64(v), 10)
		return append(b, ".0"...)
	}
	var tmp [32]byte
	sci := strconv.AppendFloat(tmp[:0], v, 'e', -1, bitSize) // -d.ddde±xx
	exp := decimalExponent(sci)
	if exp >= -6 && exp <= 20 {
		start := len(b)
		b = strconv.AppendFloat(b, v, 'f', -1, bitSize)
		if bytes.IndexByte(b[start:], '.') < 0 {
			b = append(b, ".0"...)
		}
		return b
	}
	return appendExponent(b, sci, exp)
}

// decimalExponent returns the exponent of a strconv 'e' formatted number.
func decimalExponent(sci []byte) int {
	i := len(sci) - 1
	for sci[i] != 'e' {
		i--
	}
	exp, _ := strconv.Atoi(string(sci[i+1:]))
	return exp
}

// appendExponent rewrites strconv's "-1.5e+21" as rapidjson's "-1.5e21".
func appendExponent(b, sci []byte, exp int) []byte {
	i := 0
	for sci[i] != 'e' {
		i++
	}
	b = append(b, sci[:i]...)
	b = append(b, 'e')
	return strconv.AppendInt(b, int64(exp), 10)
}
