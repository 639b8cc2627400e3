package recordio

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAppendFramesHeartbeat(t *testing.T) {
	got := Append(nil, []byte(`{"type":"HEARTBEAT"}`))
	const want = "20\n{\"type\":\"HEARTBEAT\"}"
	if string(got) != want {
		t.Fatalf("Append = %q, want %q", got, want)
	}
}

func TestWriterWritesOneCallPerRecord(t *testing.T) {
	var calls []string
	w := NewWriter(writerFunc(func(p []byte) (int, error) {
		calls = append(calls, string(p))
		return len(p), nil
	}))
	for _, rec := range []string{`{"type":"HEARTBEAT"}`, "x"} {
		if err := w.WriteRecord([]byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"20\n{\"type\":\"HEARTBEAT\"}", "1\nx"}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Fatalf("writes = %q, want %q", calls, want)
	}
}

func TestWriterRejectsEmptyRecord(t *testing.T) {
	var buf bytes.Buffer
	if err := NewWriter(&buf).WriteRecord(nil); err == nil {
		t.Fatal("WriteRecord(nil) succeeded; Mesos never sends zero-length records")
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q for a rejected record", buf.Bytes())
	}
}

func TestWriterPropagatesWriteError(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(writerFunc(func([]byte) (int, error) { return 0, boom }))
	if err := w.WriteRecord([]byte("x")); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestReaderFramingExample(t *testing.T) {
	r := NewReader(strings.NewReader("20\n{\"type\":\"HEARTBEAT\"}"), 0)
	got, err := r.ReadRecord()
	if err != nil || string(got) != `{"type":"HEARTBEAT"}` {
		t.Fatalf("ReadRecord = %q, %v", got, err)
	}
	if _, err := r.ReadRecord(); err != io.EOF {
		t.Fatalf("after the last record: err = %v, want io.EOF", err)
	}
}

// TestReaderAcrossChunkBoundaries reads many records through readers that
// split the stream at every possible place.
func TestReaderAcrossChunkBoundaries(t *testing.T) {
	records := [][]byte{
		[]byte(`{"type":"SUBSCRIBED"}`),
		[]byte("a"),
		bytes.Repeat([]byte("0123456789"), 1000), // longer than one bufio fill
		[]byte("\n\n12\n"),                       // payload that looks like framing
		[]byte(`{"type":"HEARTBEAT"}`),
	}
	var stream []byte
	for _, rec := range records {
		stream = Append(stream, rec)
	}
	readers := map[string]func() io.Reader{
		"one-byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"half":      func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"data-eof":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
		"whole":     func() io.Reader { return bytes.NewReader(stream) },
		"chunks-of": func() io.Reader { return &chunkReader{data: stream, size: 7} },
	}
	for name, newReader := range readers {
		t.Run(name, func(t *testing.T) {
			r := NewReader(newReader(), 1<<20)
			for i, want := range records {
				got, err := r.ReadRecord()
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("record %d = %q, want %q", i, got, want)
				}
			}
			if _, err := r.ReadRecord(); err != io.EOF {
				t.Fatalf("after the last record: err = %v, want io.EOF", err)
			}
		})
	}
}

// chunkReader returns at most size bytes per Read.
type chunkReader struct {
	data []byte
	size int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		max     int
		wantErr error  // matched with errors.Is when set
		wantMsg string // substring of the error otherwise
	}{
		{name: "clean EOF", stream: "", wantErr: io.EOF},
		{name: "zero length", stream: "0\n", wantMsg: "zero-length record"},
		{name: "empty length", stream: "\nabc", wantMsg: "empty record length"},
		{name: "non-digit", stream: "1a\nx", wantMsg: `invalid byte 'a'`},
		{name: "carriage return", stream: "1\r\nx", wantMsg: `invalid byte '\r'`},
		{name: "sign", stream: "-1\nx", wantMsg: `invalid byte '-'`},
		{name: "too many digits", stream: "000000000000000000001\nx", wantMsg: "too many digits"},
		{name: "overflow", stream: "18446744073709551616\nx", wantMsg: "overflows uint64"},
		{name: "oversized", stream: "11\nhello world", max: 10, wantErr: ErrRecordTooLarge},
		{name: "huge length", stream: "18446744073709551615\n", wantErr: ErrRecordTooLarge},
		{name: "truncated payload", stream: "10\nhello", wantErr: io.ErrUnexpectedEOF},
		{name: "truncated header", stream: "12", wantErr: io.ErrUnexpectedEOF},
		{name: "header only", stream: "5\n", wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.stream), tt.max)
			rec, err := r.ReadRecord()
			if err == nil {
				t.Fatalf("ReadRecord = %q, want an error", rec)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestReaderRecordAtLimit(t *testing.T) {
	r := NewReader(strings.NewReader("10\n0123456789"), 10)
	got, err := r.ReadRecord()
	if err != nil || string(got) != "0123456789" {
		t.Fatalf("ReadRecord = %q, %v; a record of exactly the limit is allowed", got, err)
	}
}

func TestReaderPassesThroughReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("10\nhel"), iotest.ErrReader(boom)), 0)
	if _, err := r.ReadRecord(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

// TestReaderLargeRecordGrowsWithData checks that a record bigger than the
// initial allocation is assembled correctly.
func TestReaderLargeRecordGrowsWithData(t *testing.T) {
	payload := bytes.Repeat([]byte("abcdefghijklmnopq"), 3*initialPayloadCap/17+5)
	stream := Append(nil, payload)
	r := NewReader(iotest.HalfReader(bytes.NewReader(stream)), 0)
	got, err := r.ReadRecord()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("ReadRecord: len %d, err %v; want len %d", len(got), err, len(payload))
	}
}

// TestReaderHostileLengthAllocatesLittle: a length prefix announcing 200 MB
// followed by a few bytes must not allocate 200 MB.
func TestReaderHostileLengthAllocatesLittle(t *testing.T) {
	stream := []byte("200000000\nshort")
	allocated := bytesAllocated(func() {
		r := NewReader(bytes.NewReader(stream), 0)
		if _, err := r.ReadRecord(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
	if allocated > 1<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte stream", allocated, len(stream))
	}
}

func TestNewReaderReusesBufioReader(t *testing.T) {
	stream := Append(Append(nil, []byte("one")), []byte("two"))
	br := newBufio(stream)
	for _, want := range []string{"one", "two"} {
		got, err := NewReader(br, 0).ReadRecord()
		if err != nil || string(got) != want {
			t.Fatalf("ReadRecord = %q, %v; want %q", got, err, want)
		}
	}
}
