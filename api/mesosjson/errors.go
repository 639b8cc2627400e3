package mesosjson

import (
	"strconv"
	"strings"
)

// Error is an encoding or decoding failure. Its message names the field path
// and, for input problems, the byte offset; it is written to be returned to
// API clients as the body of a 400 response.
type Error struct {
	// Path is the dotted field path of the value at fault, e.g.
	// "subscribe.framework_info.user" or "offers.offers[2].resources[0].name".
	// It is empty when the fault is not inside a field.
	Path string
	// Offset is the byte offset in the input where decoding stopped, or -1
	// for problems that have no position (encoding, missing fields).
	Offset int
	// Missing reports a required field that is absent (Path names it).
	Missing bool

	msg      string
	segments []string // reversed path segments, joined lazily into Path
}

func (e *Error) Error() string {
	e.resolvePath()
	if e.Missing {
		return "mesosjson: missing required field '" + e.Path + "'"
	}
	var b strings.Builder
	b.WriteString("mesosjson: ")
	if e.Path != "" {
		b.WriteString("field '")
		b.WriteString(e.Path)
		b.WriteString("'")
		if e.Offset >= 0 {
			b.WriteString(" at offset ")
			b.WriteString(strconv.Itoa(e.Offset))
		}
		b.WriteString(": ")
	} else if e.Offset >= 0 {
		b.WriteString("at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
		b.WriteString(": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// resolvePath joins the segments collected while the error travelled up the
// message tree. Segments are appended innermost first.
func (e *Error) resolvePath() {
	if len(e.segments) == 0 {
		return
	}
	var b strings.Builder
	for i := len(e.segments) - 1; i >= 0; i-- {
		seg := e.segments[i]
		if b.Len() > 0 && seg[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	e.Path = b.String()
	e.segments = nil
}

// errorAt is an input error at byte offset off.
func errorAt(off int, msg string) *Error {
	return &Error{Offset: off, msg: msg}
}

// missingField reports an absent required field.
func missingField(name string) *Error {
	return &Error{Offset: -1, Missing: true, segments: []string{name}}
}

// within prefixes the error's path with a field name, an "[i]" index or a
// `["key"]` map key. Non-*Error values pass through unchanged.
func within(err error, segment string) error {
	if e, ok := err.(*Error); ok {
		e.segments = append(e.segments, segment)
	}
	return err
}

func indexSegment(i int) string { return "[" + strconv.Itoa(i) + "]" }

func keySegment(k string) string { return "[" + strconv.Quote(k) + "]" }

// maxExcerpt bounds how much of an input token an error message repeats.
const maxExcerpt = 40

// describe renders string contents for error messages, quoted and cut short.
func describe(s []byte) string {
	if len(s) > maxExcerpt {
		return strconv.Quote(string(s[:maxExcerpt])) + "..."
	}
	return strconv.Quote(string(s))
}

// excerpt renders a number or literal token for error messages, cut short.
func excerpt(tok []byte) string {
	if len(tok) > maxExcerpt {
		return string(tok[:maxExcerpt]) + "..."
	}
	return string(tok)
}
