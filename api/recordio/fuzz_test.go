package recordio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// FuzzReader feeds arbitrary streams to the Reader: it must never panic,
// never return a record longer than its limit, allocate in proportion to the
// input rather than to declared lengths, and read back exactly what a Writer
// wrote.
func FuzzReader(f *testing.F) {
	f.Add([]byte("20\n{\"type\":\"HEARTBEAT\"}"), uint8(3))
	f.Add([]byte("5\nhello3\nabc"), uint8(0))
	f.Add([]byte("0\n"), uint8(1))
	f.Add([]byte("99999999999999999999999\n"), uint8(2))
	f.Add([]byte("2000000\nabc"), uint8(7))
	f.Add([]byte("3\nab"), uint8(255))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		checkReaderLimit(t, data)
		checkReaderAllocation(t, data)
		checkRoundTrip(t, data, int(split%32)+1)
	})
}

const fuzzLimit = 64

func checkReaderLimit(t *testing.T, data []byte) {
	r := NewReader(iotest.OneByteReader(bytes.NewReader(data)), fuzzLimit)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			if rec != nil {
				t.Fatalf("record %q returned with error %v", rec, err)
			}
			return
		}
		if len(rec) == 0 || len(rec) > fuzzLimit {
			t.Fatalf("record of %d bytes; limit %d, and empty records are invalid", len(rec), fuzzLimit)
		}
	}
}

// checkReaderAllocation reads with the default (256 MiB) limit and checks
// that the bytes allocated stay proportional to the input.
func checkReaderAllocation(t *testing.T, data []byte) {
	const bufioSize = 64 << 10
	allocated := bytesAllocated(func() {
		r := NewReader(bytes.NewReader(data), 0)
		for {
			if _, err := r.ReadRecord(); err != nil {
				return
			}
		}
	})
	if bound := uint64(bufioSize + initialPayloadCap + 4*len(data) + 4096); allocated > bound {
		t.Fatalf("allocated %d bytes reading %d bytes of input (bound %d)", allocated, len(data), bound)
	}
}

// checkRoundTrip cuts data into records of up to size bytes, writes them,
// and reads them back one byte at a time.
func checkRoundTrip(t *testing.T, data []byte, size int) {
	var records [][]byte
	for rest := data; len(rest) > 0; {
		n := min(size, len(rest))
		records = append(records, rest[:n])
		rest = rest[n:]
	}
	var stream bytes.Buffer
	w := NewWriter(&stream)
	for _, rec := range records {
		if err := w.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(iotest.OneByteReader(&stream), size)
	for i, want := range records {
		got, err := r.ReadRecord()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d = %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := r.ReadRecord(); !errors.Is(err, io.EOF) {
		t.Fatalf("after %d records: err = %v, want io.EOF", len(records), err)
	}
}

// bytesAllocated reports the heap bytes allocated while fn runs.
func bytesAllocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func newBufio(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
