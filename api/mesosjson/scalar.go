package mesosjson

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// parseScalar consumes one scalar value and writes it with its tag. An
// unknown enum name writes nothing unless the field is required (an error).
func (t *transcoder) parseScalar(vi *valueInfo, tag []byte, required bool) error {
	t.skipSpace()
	start := t.pos
	err := t.appendScalarValue(vi, tag, required)
	if e, isErr := err.(*Error); isErr && e.Offset < 0 {
		e.Offset = start
	}
	return err
}

func (t *transcoder) appendScalarValue(vi *valueInfo, tag []byte, required bool) error {
	switch vi.kind {
	case protoreflect.BoolKind:
		v, err := t.parseBool()
		if err == nil {
			t.out = protowire.AppendVarint(append(t.out, tag...), protowire.EncodeBool(v))
		}
		return err
	case protoreflect.EnumKind:
		n, ok, err := t.parseEnum(vi, required)
		if ok {
			t.out = protowire.AppendVarint(append(t.out, tag...), uint64(int64(n)))
		}
		return err
	case protoreflect.StringKind:
		s, err := t.parseString()
		if err == nil {
			t.out = protowire.AppendBytes(append(t.out, tag...), s)
		}
		return err
	case protoreflect.BytesKind:
		return t.appendBytesValue(tag)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return t.appendFloatValue(vi.kind, tag)
	}
	tok, err := t.numberToken()
	if err != nil {
		return err
	}
	return t.appendInteger(vi.kind, tag, tok)
}

func (d *decoder) parseBool() (bool, error) {
	var tok []byte
	switch d.peek() {
	case 't', 'f':
		lit, err := d.readNumberOrLiteral()
		if err != nil {
			return false, err
		}
		tok = lit
	case '"':
		s, err := d.readString()
		if err != nil {
			return false, err
		}
		tok = s
	default:
		return false, d.syntaxError("expected true or false, got " + d.describeNext())
	}
	switch string(tok) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, valueError("expected true or false, got " + describe(tok))
}

func (d *decoder) parseEnum(vi *valueInfo, required bool) (protoreflect.EnumNumber, bool, error) {
	if d.peek() != '"' {
		return 0, false, d.syntaxError("expected an enum value name (a string), got " + d.describeNext())
	}
	start := d.pos
	name, err := d.readString()
	if err != nil {
		return 0, false, err
	}
	if n, ok := vi.enum.byName[string(name)]; ok {
		return n, true, nil
	}
	if required {
		return 0, false, errorAt(start, "unknown value "+describe(name)+" for enum "+string(vi.enum.name))
	}
	return 0, false, nil
}

func (d *decoder) parseString() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.syntaxError("expected a string, got " + d.describeNext())
	}
	return d.readString()
}

func (t *transcoder) appendBytesValue(tag []byte) error {
	if t.peek() != '"' {
		return t.syntaxError("expected a base64 string, got " + t.describeNext())
	}
	s, err := t.readString()
	if err != nil {
		return err
	}
	if t.raw, err = decodeBase64(t.raw[:0], s); err != nil {
		return valueError(err.Error())
	}
	t.out = protowire.AppendBytes(append(t.out, tag...), t.raw)
	return nil
}

func (t *transcoder) appendFloatValue(kind protoreflect.Kind, tag []byte) error {
	tok, err := t.numberToken()
	if err != nil {
		return err
	}
	if kind == protoreflect.FloatKind {
		f, err := parseFloatToken(tok, 32)
		if err == nil {
			t.out = protowire.AppendFixed32(append(t.out, tag...), math.Float32bits(float32(f)))
		}
		return err
	}
	f, err := parseFloatToken(tok, 64)
	if err == nil {
		t.out = protowire.AppendFixed64(append(t.out, tag...), math.Float64bits(f))
	}
	return err
}

// appendInteger parses an integer token for a field of the given kind and
// writes it with its tag.
func (t *transcoder) appendInteger(kind protoreflect.Kind, tag []byte, tok []byte) error {
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if kind == protoreflect.Int32Kind || kind == protoreflect.Sint32Kind || kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		n, err := parseSigned(tok, bits)
		if err == nil {
			t.out = appendSignedWire(append(t.out, tag...), kind, n)
		}
		return err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		bits := 64
		if kind == protoreflect.Uint32Kind || kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		n, err := parseUnsigned(tok, bits)
		if err == nil {
			t.out = appendUnsignedWire(append(t.out, tag...), kind, n)
		}
		return err
	}
	return valueError("unsupported field kind " + kind.String())
}

func appendSignedWire(b []byte, kind protoreflect.Kind, n int64) []byte {
	switch kind {
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(n))
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(b, uint32(n))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(b, uint64(n))
	}
	return protowire.AppendVarint(b, uint64(n))
}

func appendUnsignedWire(b []byte, kind protoreflect.Kind, n uint64) []byte {
	switch kind {
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(b, uint32(n))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(b, n)
	}
	return protowire.AppendVarint(b, n)
}

// appendMapKey writes a map entry's key field from the JSON object key.
func (t *transcoder) appendMapKey(vi *valueInfo, key []byte) error {
	tag := mapKeyTag[vi.wireType]
	switch vi.kind {
	case protoreflect.StringKind:
		t.out = protowire.AppendBytes(append(t.out, tag...), key)
		return nil
	case protoreflect.BoolKind:
		switch string(key) {
		case "true", "false":
			t.out = protowire.AppendVarint(append(t.out, tag...), protowire.EncodeBool(string(key) == "true"))
			return nil
		}
		return valueError("map key " + describe(key) + " is not a bool")
	}
	return t.appendInteger(vi.kind, tag, key)
}

// decodeBase64 appends the decoding of s to dst. It accepts standard or
// URL-safe base64, with or without padding.
func decodeBase64(dst, s []byte) ([]byte, error) {
	enc := base64.RawStdEncoding
	for _, c := range s {
		if c == '-' || c == '_' {
			enc = base64.RawURLEncoding
			break
		}
	}
	trimmed := s
	for i := 0; i < 2 && len(trimmed) > 0 && trimmed[len(trimmed)-1] == '='; i++ {
		trimmed = trimmed[:len(trimmed)-1]
	}
	out, err := enc.AppendDecode(dst, trimmed)
	if err != nil {
		var cie base64.CorruptInputError
		if errors.As(err, &cie) {
			return nil, errors.New("invalid base64 at byte " + strconv.Itoa(int(cie)))
		}
		return nil, errors.New("invalid base64")
	}
	return out, nil
}

// numberToken consumes a bare number, a bare Infinity/-Infinity/NaN, or a
// string holding a number (numbers may be quoted), and returns its text.
func (d *decoder) numberToken() ([]byte, error) {
	switch c := d.peek(); {
	case c == '"':
		return d.readString()
	case c == '-' || c >= '0' && c <= '9' || c == 'I' || c == 'N':
		return d.readNumberOrLiteral()
	}
	return nil, d.syntaxError("expected a number, got " + d.describeNext())
}

func parseFloatToken(tok []byte, bitSize int) (float64, error) {
	switch string(tok) {
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if !validNumber(tok) {
		return 0, valueError("expected a number, got " + describe(tok))
	}
	f, err := strconv.ParseFloat(string(tok), bitSize)
	if err != nil && math.IsInf(f, 0) {
		return 0, valueError(excerpt(tok) + " is out of range for " + floatName(bitSize))
	}
	return f, nil
}

func floatName(bitSize int) string {
	if bitSize == 32 {
		return "float"
	}
	return "double"
}

// parseSigned parses an integer of the given width. Integral values written
// with a fraction or exponent ("5.0", "1e3") are accepted.
func parseSigned(tok []byte, bits int) (int64, error) {
	neg := len(tok) > 0 && tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	u, plain, err := parseMagnitude(tok, digits)
	if err != nil {
		return 0, err
	}
	limit := uint64(1) << (bits - 1) // |min| for negatives, max+1 for positives
	if !plain || (neg && u > limit) || (!neg && u >= limit) {
		if plain {
			return 0, outOfRange(tok, signedName(bits))
		}
		return floatToSigned(tok, bits)
	}
	if neg {
		return -int64(u), nil // u == 2^63 wraps to the minimum, as intended
	}
	return int64(u), nil
}

// parseUnsigned parses a non-negative integer of the given width.
func parseUnsigned(tok []byte, bits int) (uint64, error) {
	if len(tok) > 0 && tok[0] == '-' {
		if validNumber(tok) && isZero(tok[1:]) {
			return 0, nil
		}
		return 0, outOfRange(tok, unsignedName(bits))
	}
	u, plain, err := parseMagnitude(tok, tok)
	if err != nil {
		return 0, err
	}
	if !plain {
		return floatToUnsigned(tok, bits)
	}
	if bits == 32 && u > math.MaxUint32 {
		return 0, outOfRange(tok, unsignedName(bits))
	}
	return u, nil
}

// parseMagnitude reads digits as an unsigned integer. plain is false when
// the token has a fraction or exponent, or its magnitude overflows uint64
// (the caller then decides between "out of range" and "not an integer").
func parseMagnitude(tok, digits []byte) (u uint64, plain bool, err error) {
	if !validNumber(tok) {
		return 0, false, valueError("expected an integer, got " + describe(tok))
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, nil
		}
		if u > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, false, nil
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true, nil
}

// floatToSigned handles integers written as "5.0" or "1e3", and magnitudes
// beyond uint64.
func floatToSigned(tok []byte, bits int) (int64, error) {
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, valueError("expected an integer, got " + describe(tok))
	}
	if f != math.Trunc(f) {
		return 0, valueError(excerpt(tok) + " is not an integer")
	}
	limit := math.Ldexp(1, bits-1)
	if f < -limit || f >= limit {
		return 0, outOfRange(tok, signedName(bits))
	}
	return int64(f), nil
}

func floatToUnsigned(tok []byte, bits int) (uint64, error) {
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, valueError("expected an integer, got " + describe(tok))
	}
	if f != math.Trunc(f) {
		return 0, valueError(excerpt(tok) + " is not an integer")
	}
	if f < 0 || f >= math.Ldexp(1, bits) {
		return 0, outOfRange(tok, unsignedName(bits))
	}
	return uint64(f), nil
}

// isZero reports whether a valid number token's magnitude is zero ("0",
// "0.0", "0e5").
func isZero(tok []byte) bool {
	for _, c := range tok {
		if c == 'e' || c == 'E' {
			return true
		}
		if c >= '1' && c <= '9' {
			return false
		}
	}
	return true
}

func signedName(bits int) string   { return "int" + strconv.Itoa(bits) }
func unsignedName(bits int) string { return "uint" + strconv.Itoa(bits) }

func outOfRange(tok []byte, typ string) *Error {
	return valueError(excerpt(tok) + " is out of range for " + typ)
}

// valueError is a problem with a value whose position the caller fills in.
func valueError(msg string) *Error { return &Error{Offset: -1, msg: msg} }
