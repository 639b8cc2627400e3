// Package recordio reads and writes the RecordIO framing used by the Mesos v1
// streaming APIs: each record is its payload length in decimal ASCII, a "\n",
// then exactly that many payload bytes. There is no separator after a payload,
// lengths are never zero, and chunk boundaries carry no meaning.
package recordio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// DefaultMaxRecord is the largest record a Reader accepts unless told
// otherwise. A state-carrying event (SUBSCRIBED on the operator stream) can be
// large, so the bound is generous; its job is to stop a corrupt length from
// allocating the machine's memory.
const DefaultMaxRecord = 256 << 20

// maxHeaderDigits bounds the decimal length prefix (uint64 has 20 digits).
const maxHeaderDigits = 20

// ErrRecordTooLarge is returned when a record's declared length exceeds the
// reader's bound.
var ErrRecordTooLarge = errors.New("recordio: record exceeds size limit")

// Writer frames payloads onto an underlying writer.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that writes records to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteRecord writes one record. The header and payload go out in a single
// Write call so that a record is never split across two HTTP chunks by us.
func (w *Writer) WriteRecord(payload []byte) error {
	if len(payload) == 0 {
		return errors.New("recordio: empty record")
	}
	w.buf = Append(w.buf[:0], payload)
	_, err := w.w.Write(w.buf)
	return err
}

// Append appends the framed form of payload to dst and returns the result.
func Append(dst, payload []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(len(payload)), 10)
	dst = append(dst, '\n')
	return append(dst, payload...)
}

// Reader reads records from an underlying reader.
type Reader struct {
	r   *bufio.Reader
	max uint64
}

// NewReader returns a Reader over r that refuses records longer than
// maxRecord bytes (DefaultMaxRecord when maxRecord <= 0).
func NewReader(r io.Reader, maxRecord int) *Reader {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecord
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{r: br, max: uint64(maxRecord)}
}

// ReadRecord returns the next record's payload. It returns io.EOF only when
// the stream ends cleanly between records, and io.ErrUnexpectedEOF when it
// ends inside one. The returned slice is newly allocated and owned by the
// caller.
func (r *Reader) ReadRecord() ([]byte, error) {
	n, err := r.readHeader()
	if err != nil {
		return nil, err
	}
	if n > r.max {
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrRecordTooLarge, n, r.max)
	}
	return r.readPayload(int(n))
}

// initialPayloadCap bounds the up-front allocation for a record. A larger
// record grows as its bytes arrive, so a corrupt or hostile length prefix
// costs memory only in proportion to the data actually sent.
const initialPayloadCap = 64 << 10

// readPayload reads exactly n bytes.
func (r *Reader) readPayload(n int) ([]byte, error) {
	payload := make([]byte, 0, min(n, initialPayloadCap))
	for len(payload) < n {
		if len(payload) == cap(payload) {
			payload = slices.Grow(payload, min(n-len(payload), cap(payload)))
		}
		m, err := r.r.Read(payload[len(payload):min(cap(payload), n)])
		payload = payload[:len(payload)+m]
		if err != nil && len(payload) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return payload, nil
}

func (r *Reader) readHeader() (uint64, error) {
	var n uint64
	digits := 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if c == '\n' {
			break
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("recordio: invalid byte %q in record length", c)
		}
		digits++
		if digits > maxHeaderDigits {
			return 0, errors.New("recordio: record length has too many digits")
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, errors.New("recordio: record length overflows uint64")
		}
		n = n*10 + d
	}
	if digits == 0 {
		return 0, errors.New("recordio: empty record length")
	}
	if n == 0 {
		return 0, errors.New("recordio: zero-length record")
	}
	return n, nil
}
