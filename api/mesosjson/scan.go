package mesosjson

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder is a hand-written JSON tokenizer and parser over a byte slice. It
// accepts RFC 8259 JSON plus the bare tokens Infinity, -Infinity and NaN.
type decoder struct {
	data    []byte
	pos     int
	depth   int
	scratch []byte // unescaped string contents; valid until the next string
}

// MaxDepth is the deepest nesting of objects and arrays Unmarshal accepts.
// No Mesos message comes close; the bound keeps hostile input from
// exhausting the stack.
const MaxDepth = 100

func (d *decoder) syntaxError(msg string) *Error { return errorAt(d.pos, msg) }

// skipSpace advances past JSON whitespace.
func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end of input.
func (d *decoder) peek() byte {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// consume skips whitespace and consumes c, or fails naming what was expected.
func (d *decoder) consume(c byte, expected string) error {
	if d.peek() != c {
		return d.syntaxError("expected " + expected + ", got " + d.describeNext())
	}
	d.pos++
	return nil
}

// enter consumes an opening '{' or '[' and counts the nesting depth.
func (d *decoder) enter() error {
	if d.depth >= MaxDepth {
		return d.syntaxError("nesting deeper than " + strconv.Itoa(MaxDepth) + " levels")
	}
	d.depth++
	d.pos++
	return nil
}

func (d *decoder) leave() { d.depth-- }

// describeNext names the value starting at the current position, for error
// messages.
func (d *decoder) describeNext() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		end := d.pos + 1
		for end < len(d.data) && d.data[end] != '"' && end-d.pos < 41 {
			end++
		}
		return "string " + describe(d.data[d.pos+1:end])
	case c == '-' || c >= '0' && c <= '9':
		return "number " + excerpt(d.numberSpan())
	case isLetter(c):
		return excerpt(d.letterSpanAt(d.pos))
	default:
		return "character " + strconv.QuoteRune(rune(c))
	}
}

// readString consumes a JSON string starting at '"' and returns its
// unescaped contents. The result may alias the input or the scratch buffer:
// use it before reading the next string.
func (d *decoder) readString() ([]byte, error) {
	start := d.pos + 1
	i := start
	escaped, nonASCII := false, false
	for ; i < len(d.data); i++ {
		c := d.data[i]
		switch {
		case c == '"':
			return d.finishString(start, i, escaped, nonASCII)
		case c == '\\':
			escaped = true
			i++ // skip the escaped byte; validated by unescape
		case c < 0x20:
			d.pos = i
			return nil, d.syntaxError("control character " + strconv.QuoteRune(rune(c)) +
				" in string (must be escaped)")
		case c >= utf8.RuneSelf:
			nonASCII = true
		}
	}
	d.pos = len(d.data)
	return nil, d.syntaxError("unterminated string")
}

func (d *decoder) finishString(start, end int, escaped, nonASCII bool) ([]byte, error) {
	raw := d.data[start:end]
	if nonASCII && !utf8.Valid(raw) {
		return nil, d.syntaxError("string is not valid UTF-8")
	}
	if !escaped {
		d.pos = end + 1
		return raw, nil
	}
	s, err := d.unescape(raw)
	if err != nil {
		return nil, err
	}
	d.pos = end + 1
	return s, nil
}

// unescape decodes the escape sequences of raw into the scratch buffer.
// Unpaired UTF-16 surrogates become U+FFFD.
func (d *decoder) unescape(raw []byte) ([]byte, error) {
	out := d.scratch[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, d.syntaxError("unterminated escape sequence in string")
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, ok := decodeUnicodeEscape(raw[i-1:])
			if !ok {
				return nil, d.syntaxError("invalid \\u escape in string")
			}
			out = utf8.AppendRune(out, r)
			i += n - 2
		default:
			return nil, d.syntaxError("invalid escape sequence \\" + string(rune(raw[i])) + " in string")
		}
	}
	d.scratch = out
	return out, nil
}

// decodeUnicodeEscape decodes `\uXXXX`, or a surrogate pair `\uXXXX\uXXXX`,
// at the start of s. It returns the rune and the number of bytes used.
func decodeUnicodeEscape(s []byte) (rune, int, bool) {
	r1, ok := hex4(s)
	if !ok {
		return 0, 0, false
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6, true
	}
	if r2, ok := hex4(s[6:]); ok {
		if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
			return r, 12, true
		}
	}
	return utf8.RuneError, 6, true
}

// hex4 parses `\uXXXX` at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// readNumberOrLiteral consumes a bare number or one of the literals
// Infinity, -Infinity, NaN, true, false, null, and returns its text.
func (d *decoder) readNumberOrLiteral() ([]byte, error) {
	c := d.data[d.pos]
	if c == '-' && d.pos+1 < len(d.data) && isLetter(d.data[d.pos+1]) {
		lit := d.data[d.pos : d.pos+1+len(d.letterSpanAt(d.pos+1))]
		if string(lit) != "-Infinity" {
			return nil, d.syntaxError("invalid literal " + excerpt(lit))
		}
		d.pos += len(lit)
		return lit, nil
	}
	if isLetter(c) {
		lit := d.letterSpanAt(d.pos)
		switch string(lit) {
		case "true", "false", "null", "Infinity", "NaN":
			d.pos += len(lit)
			return lit, nil
		}
		return nil, d.syntaxError("invalid literal " + excerpt(lit))
	}
	tok := d.numberSpan()
	if !validNumber(tok) {
		return nil, d.syntaxError("invalid number " + excerpt(tok))
	}
	d.pos += len(tok)
	return tok, nil
}

// numberSpan returns the run of number characters at the current position.
func (d *decoder) numberSpan() []byte {
	end := d.pos
	for end < len(d.data) {
		switch c := d.data[end]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			end++
			continue
		}
		break
	}
	return d.data[d.pos:end]
}

// letterSpanAt returns the run of ASCII letters starting at i.
func (d *decoder) letterSpanAt(i int) []byte {
	end := i
	for end < len(d.data) && isLetter(d.data[end]) {
		end++
	}
	return d.data[i:end]
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// validNumber reports whether tok is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(tok []byte) bool {
	i := 0
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	switch {
	case i < len(tok) && tok[i] == '0':
		i++
	case i < len(tok) && tok[i] >= '1' && tok[i] <= '9':
		i = skipDigits(tok, i)
	default:
		return false
	}
	if i < len(tok) && tok[i] == '.' {
		j := skipDigits(tok, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		j := skipDigits(tok, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(tok)
}

func skipDigits(tok []byte, i int) int {
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	return i
}

// skipValue consumes one value of any type, checking its syntax. It is used
// for the values of unknown keys.
func (d *decoder) skipValue() error {
	switch c := d.peek(); {
	case c == '{':
		return d.skipObject()
	case c == '[':
		return d.skipArray()
	case c == '"':
		_, err := d.readString()
		return err
	case c == '-' || c >= '0' && c <= '9' || isLetter(c):
		_, err := d.readNumberOrLiteral()
		return err
	}
	return d.syntaxError("expected a value, got " + d.describeNext())
}

func (d *decoder) skipObject() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntaxError("expected a string key, got " + d.describeNext())
		}
		if _, err := d.readString(); err != nil {
			return err
		}
		if err := d.consume(':', "':' after object key"); err != nil {
			return err
		}
		if err := d.skipValue(); err != nil {
			return err
		}
		if done, err := d.endOfMember('}'); done || err != nil {
			return err
		}
	}
}

func (d *decoder) skipArray() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for {
		if err := d.skipValue(); err != nil {
			return err
		}
		if done, err := d.endOfMember(']'); done || err != nil {
			return err
		}
	}
}

// endOfMember consumes the ',' between members (done=false) or the closing
// bracket (done=true).
func (d *decoder) endOfMember(closing byte) (done bool, err error) {
	switch d.peek() {
	case ',':
		d.pos++
		return false, nil
	case closing:
		d.pos++
		return true, nil
	}
	return false, d.syntaxError("expected ',' or '" + string(rune(closing)) + "', got " + d.describeNext())
}
