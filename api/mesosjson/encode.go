package mesosjson

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// encoder writes Mesos JSON from the protobuf wire form of a message.
// protobuf-go's generated fast path produces the wire form several times
// faster than protoreflect getters can read the fields one by one; the
// encoder then walks it with the per-descriptor tables.
type encoder struct {
	wire    []byte
	slots   []slot     // a stack: one slot per field of each open message
	entries []mapEntry // a stack of map entries being sorted
}

// slot records where a field's values lie in a message's wire bytes.
type slot struct {
	first, last int // offsets of the first and last occurrences' tags
	count       int // occurrences (a packed run counts once)
	badEnum     protowire.Number
	hasBadEnum  bool // a singular enum held an undefined number
}

type mapEntry struct {
	key, val         []byte // wire values, starting at the value
	keyType, valType protowire.Type
	hasKey, hasVal   bool
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

// maxPooledBuffer bounds the buffers kept for reuse between calls.
const maxPooledBuffer = 1 << 20

func (e *encoder) release() {
	if cap(e.wire) > maxPooledBuffer {
		e.wire = nil
	}
	e.slots, e.entries = e.slots[:0], e.entries[:0]
	encoderPool.Put(e)
}

// marshal appends the JSON of m to dst.
func (e *encoder) marshal(dst []byte, m protoreflect.Message) ([]byte, error) {
	var err error
	e.wire, err = proto.MarshalOptions{AllowPartial: true}.MarshalAppend(e.wire[:0], m.Interface())
	if err != nil {
		return dst, &Error{Offset: -1, msg: "cannot encode " + string(m.Descriptor().FullName()) + ": " + err.Error()}
	}
	// Mesos JSON is typically 2-2.5 times the size of the wire form: grow
	// once up front rather than many times while appending.
	dst = slices.Grow(dst, len(e.wire)*5/2+64)
	return e.appendMessage(dst, e.wire, infoFor(m.Descriptor()))
}

// appendMessage writes the message whose wire bytes are w as a JSON object,
// fields in declaration order.
func (e *encoder) appendMessage(b, w []byte, mi *messageInfo) ([]byte, error) {
	base := len(e.slots)
	e.slots = append(e.slots, make([]slot, len(mi.fields))...)
	if err := e.locate(w, mi, base); err != nil {
		return b, err
	}
	b = append(b, '{')
	first := true
	for i, fi := range mi.fields {
		s := e.slots[base+i]
		if s.count == 0 {
			if fi.unsetJSON != nil {
				b = appendComma(b, &first)
				b = append(b, fi.unsetJSON...)
			} else if fi.required {
				return b, unsetRequired(fi, s)
			}
			continue
		}
		var err error
		if b, err = e.appendField(b, w, fi, s, &first); err != nil {
			return b, within(err, fi.name)
		}
	}
	e.slots = e.slots[:base]
	return append(b, '}'), nil
}

func appendComma(b []byte, first *bool) []byte {
	if *first {
		*first = false
		return b
	}
	return append(b, ',')
}

func unsetRequired(fi *fieldInfo, s slot) error {
	if s.hasBadEnum {
		return within(undefinedEnum(fi.enum, s.badEnum), fi.name)
	}
	return missingField(fi.name)
}

func undefinedEnum(ei *enumInfo, n protowire.Number) *Error {
	return &Error{Offset: -1, msg: "enum " + string(ei.name) + " has no value " + strconv.Itoa(int(n))}
}

// locate records, for each known field, where its occurrences are in w.
// Undefined numbers of singular enums are noted and otherwise ignored.
func (e *encoder) locate(w []byte, mi *messageInfo, base int) error {
	for off := 0; off < len(w); {
		num, typ, n := protowire.ConsumeTag(w[off:])
		if n < 0 {
			return malformedWire(mi)
		}
		m := protowire.ConsumeFieldValue(num, typ, w[off+n:])
		if m < 0 {
			return malformedWire(mi)
		}
		if fi := mi.field(num); fi != nil {
			s := &e.slots[base+fi.index]
			if fi.kind == protoreflect.EnumKind && !fi.list && typ == protowire.VarintType {
				v, _ := protowire.ConsumeVarint(w[off+n:])
				if _, ok := fi.enum.quoted(protoreflect.EnumNumber(v)); !ok {
					s.badEnum, s.hasBadEnum = protowire.Number(int32(v)), true
					off += n + m
					continue
				}
			}
			if s.count == 0 {
				s.first = off
			}
			s.last = off
			s.count++
		}
		off += n + m
	}
	return nil
}

func malformedWire(mi *messageInfo) *Error {
	return &Error{Offset: -1, msg: "malformed protobuf encoding of " + string(mi.name)}
}

func (e *encoder) appendField(b, w []byte, fi *fieldInfo, s slot, first *bool) ([]byte, error) {
	switch {
	case fi.isMap:
		return e.appendMap(b, w, fi, s, first)
	case fi.list:
		return e.appendList(b, w, fi, s, first)
	}
	b = appendComma(b, first)
	b = append(b, fi.key...)
	_, typ, n := protowire.ConsumeTag(w[s.last:])
	return e.appendValue(b, &fi.valueInfo, typ, w[s.last+n:])
}

// appendList writes a repeated field's values, packed or not. The key is
// written with the first value, so a field with only empty packed runs is
// omitted like any empty list.
func (e *encoder) appendList(b, w []byte, fi *fieldInfo, s slot, first *bool) ([]byte, error) {
	written := 0
	for off, seen := s.first, 0; seen < s.count; {
		num, typ, n := protowire.ConsumeTag(w[off:])
		m := protowire.ConsumeFieldValue(num, typ, w[off+n:])
		if num == fi.number {
			seen++
			var err error
			if b, err = e.appendOccurrence(b, w[off+n:], typ, fi, &written, first); err != nil {
				return b, err
			}
		}
		off += n + m
	}
	if written > 0 {
		b = append(b, ']')
	}
	return b, nil
}

// appendOccurrence writes the value, or packed run of values, at v.
func (e *encoder) appendOccurrence(b, v []byte, typ protowire.Type, fi *fieldInfo, written *int, first *bool) ([]byte, error) {
	if typ != protowire.BytesType || fi.wireType == protowire.BytesType {
		return e.appendElement(b, v, typ, fi, written, first)
	}
	run, _ := protowire.ConsumeBytes(v)
	for len(run) > 0 {
		l := protowire.ConsumeFieldValue(fi.number, fi.wireType, run)
		if l < 0 {
			return b, &Error{Offset: -1, msg: "malformed packed field"}
		}
		var err error
		if b, err = e.appendElement(b, run, fi.wireType, fi, written, first); err != nil {
			return b, err
		}
		run = run[l:]
	}
	return b, nil
}

// appendElement writes one list element, opening the list before the first.
// Undefined enum numbers are dropped.
func (e *encoder) appendElement(b, v []byte, typ protowire.Type, fi *fieldInfo, written *int, first *bool) ([]byte, error) {
	if fi.kind == protoreflect.EnumKind && typ == protowire.VarintType {
		n, _ := protowire.ConsumeVarint(v)
		if _, ok := fi.enum.quoted(protoreflect.EnumNumber(n)); !ok {
			return b, nil
		}
	}
	if *written == 0 {
		b = appendComma(b, first)
		b = append(b, fi.key...)
		b = append(b, '[')
	} else {
		b = append(b, ',')
	}
	*written++
	b, err := e.appendValue(b, &fi.valueInfo, typ, v)
	if err != nil {
		return b, within(err, indexSegment(*written-1))
	}
	return b, nil
}

// appendValue writes one value whose wire form starts at v.
func (e *encoder) appendValue(b []byte, vi *valueInfo, typ protowire.Type, v []byte) ([]byte, error) {
	if vi.kind == protoreflect.MessageKind && typ == protowire.BytesType {
		content, _ := protowire.ConsumeBytes(v)
		return e.appendMessage(b, content, vi.message())
	}
	return appendScalar(b, vi, typ, v)
}

// appendScalar writes one non-message value whose wire form starts at v.
func appendScalar(b []byte, vi *valueInfo, typ protowire.Type, v []byte) ([]byte, error) {
	switch typ {
	case protowire.VarintType:
		x, _ := protowire.ConsumeVarint(v)
		return appendVarintValue(b, vi, x)
	case protowire.Fixed32Type:
		x, _ := protowire.ConsumeFixed32(v)
		return appendFixed32Value(b, vi, x)
	case protowire.Fixed64Type:
		x, _ := protowire.ConsumeFixed64(v)
		return appendFixed64Value(b, vi, x)
	case protowire.BytesType:
		content, _ := protowire.ConsumeBytes(v)
		switch vi.kind {
		case protoreflect.StringKind:
			return appendString(b, content), nil
		case protoreflect.BytesKind:
			return appendBase64(b, content), nil
		}
	}
	return b, wrongWireType(vi, typ)
}

func wrongWireType(vi *valueInfo, typ protowire.Type) *Error {
	return &Error{Offset: -1, msg: "unexpected wire type " + strconv.Itoa(int(typ)) + " for a " + vi.kind.String() + " field"}
}

func appendVarintValue(b []byte, vi *valueInfo, x uint64) ([]byte, error) {
	switch vi.kind {
	case protoreflect.BoolKind:
		return appendBool(b, x != 0), nil
	case protoreflect.Int32Kind:
		return appendInt(b, int64(int32(x))), nil
	case protoreflect.Int64Kind:
		return appendInt(b, int64(x)), nil
	case protoreflect.Uint32Kind:
		return appendUint(b, uint64(uint32(x))), nil
	case protoreflect.Uint64Kind:
		return appendUint(b, x), nil
	case protoreflect.Sint32Kind:
		return appendInt(b, int64(int32(protowire.DecodeZigZag(x&math.MaxUint32)))), nil
	case protoreflect.Sint64Kind:
		return appendInt(b, protowire.DecodeZigZag(x)), nil
	case protoreflect.EnumKind:
		name, ok := vi.enum.quoted(protoreflect.EnumNumber(x))
		if !ok {
			return b, undefinedEnum(vi.enum, protowire.Number(int32(x)))
		}
		return append(b, name...), nil
	}
	return b, wrongWireType(vi, protowire.VarintType)
}

func appendFixed32Value(b []byte, vi *valueInfo, x uint32) ([]byte, error) {
	switch vi.kind {
	case protoreflect.Fixed32Kind:
		return appendUint(b, uint64(x)), nil
	case protoreflect.Sfixed32Kind:
		return appendInt(b, int64(int32(x))), nil
	case protoreflect.FloatKind:
		return appendFloat(b, float64(math.Float32frombits(x)), 32), nil
	}
	return b, wrongWireType(vi, protowire.Fixed32Type)
}

func appendFixed64Value(b []byte, vi *valueInfo, x uint64) ([]byte, error) {
	switch vi.kind {
	case protoreflect.Fixed64Kind:
		return appendUint(b, x), nil
	case protoreflect.Sfixed64Kind:
		return appendInt(b, int64(x)), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, math.Float64frombits(x), 64), nil
	}
	return b, wrongWireType(vi, protowire.Fixed64Type)
}

// appendMap writes a map as an object with its keys in sorted order, so the
// output is deterministic.
func (e *encoder) appendMap(b, w []byte, fi *fieldInfo, s slot, first *bool) ([]byte, error) {
	base := len(e.entries)
	for off, seen := s.first, 0; seen < s.count; {
		num, typ, n := protowire.ConsumeTag(w[off:])
		m := protowire.ConsumeFieldValue(num, typ, w[off+n:])
		if num == fi.number {
			seen++
			content, _ := protowire.ConsumeBytes(w[off+n:])
			entry, err := parseMapEntry(content)
			if err != nil {
				return b, err
			}
			if !fi.undefinedEnumValue(entry) {
				e.entries = append(e.entries, entry)
			}
		}
		off += n + m
	}
	entries := e.entries[base:]
	if len(entries) == 0 {
		return b, nil
	}
	slices.SortFunc(entries, fi.mapKey.compareKeys) // keys are unique in the wire form of a map
	b = appendComma(b, first)
	b = append(b, fi.key...)
	b = append(b, '{')
	for i, entry := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = e.appendMapEntry(b, fi, entry); err != nil {
			return b, err
		}
	}
	e.entries = e.entries[:base]
	return append(b, '}'), nil
}

func (e *encoder) appendMapEntry(b []byte, fi *fieldInfo, entry mapEntry) ([]byte, error) {
	keyStart := len(b)
	b, err := appendMapKey(b, fi.mapKey, entry)
	if err != nil {
		return b, err
	}
	key := string(b[keyStart:])
	b = append(b, ':')
	if !entry.hasVal {
		entry.val, entry.valType = zeroWire[fi.wireType], fi.wireType
	}
	if b, err = e.appendValue(b, &fi.valueInfo, entry.valType, entry.val); err != nil {
		return b, within(err, "["+key+"]")
	}
	return b, nil
}

// undefinedEnumValue reports an enum-valued entry whose value the enum does
// not define: such entries are left out, as Unmarshal drops them.
func (fi *fieldInfo) undefinedEnumValue(entry mapEntry) bool {
	if fi.kind != protoreflect.EnumKind || !entry.hasVal || entry.valType != protowire.VarintType {
		return false
	}
	n, _ := protowire.ConsumeVarint(entry.val)
	_, ok := fi.enum.quoted(protoreflect.EnumNumber(n))
	return !ok
}

// zeroWire is the wire form of a zero value, for absent map keys and values.
var zeroWire = map[protowire.Type][]byte{
	protowire.VarintType:  {0},
	protowire.Fixed32Type: {0, 0, 0, 0},
	protowire.Fixed64Type: {0, 0, 0, 0, 0, 0, 0, 0},
	protowire.BytesType:   {0},
}

// parseMapEntry splits a map entry message into its key (field 1) and
// value (field 2).
func parseMapEntry(w []byte) (mapEntry, error) {
	var entry mapEntry
	for off := 0; off < len(w); {
		num, typ, n := protowire.ConsumeTag(w[off:])
		if n < 0 {
			return entry, &Error{Offset: -1, msg: "malformed map entry"}
		}
		m := protowire.ConsumeFieldValue(num, typ, w[off+n:])
		if m < 0 {
			return entry, &Error{Offset: -1, msg: "malformed map entry"}
		}
		switch num {
		case 1:
			entry.key, entry.keyType, entry.hasKey = w[off+n:off+n+m], typ, true
		case 2:
			entry.val, entry.valType, entry.hasVal = w[off+n:off+n+m], typ, true
		}
		off += n + m
	}
	return entry, nil
}

// appendMapKey writes an entry's key as a JSON string.
func appendMapKey(b []byte, vi *valueInfo, entry mapEntry) ([]byte, error) {
	raw, typ := entry.key, entry.keyType
	if !entry.hasKey {
		raw, typ = zeroWire[vi.wireType], vi.wireType
	}
	if vi.kind == protoreflect.StringKind {
		content, _ := protowire.ConsumeBytes(raw)
		return appendString(b, content), nil
	}
	b = append(b, '"')
	b, err := appendScalar(b, vi, typ, raw)
	return append(b, '"'), err
}

// compareKeys orders map entries by key.
func (vi *valueInfo) compareKeys(x, y mapEntry) int {
	kx, ky := x.key, y.key
	if !x.hasKey {
		kx = zeroWire[vi.wireType]
	}
	if !y.hasKey {
		ky = zeroWire[vi.wireType]
	}
	switch vi.kind {
	case protoreflect.StringKind:
		cx, _ := protowire.ConsumeBytes(kx)
		cy, _ := protowire.ConsumeBytes(ky)
		return bytes.Compare(cx, cy)
	case protoreflect.BoolKind, protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return cmp.Compare(varintKey(kx), varintKey(ky))
	case protoreflect.Fixed32Kind:
		return cmp.Compare(fixed32Key(kx), fixed32Key(ky))
	case protoreflect.Fixed64Kind:
		return cmp.Compare(fixed64Key(kx), fixed64Key(ky))
	}
	return cmp.Compare(vi.signedKey(kx), vi.signedKey(ky))
}

func varintKey(raw []byte) uint64 { v, _ := protowire.ConsumeVarint(raw); return v }

func fixed32Key(raw []byte) uint32 { v, _ := protowire.ConsumeFixed32(raw); return v }

func fixed64Key(raw []byte) uint64 { v, _ := protowire.ConsumeFixed64(raw); return v }

func (vi *valueInfo) signedKey(raw []byte) int64 {
	switch vi.kind {
	case protoreflect.Int32Kind:
		return int64(int32(varintKey(raw)))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.DecodeZigZag(varintKey(raw))
	case protoreflect.Sfixed32Kind:
		return int64(int32(fixed32Key(raw)))
	case protoreflect.Sfixed64Kind:
		return int64(fixed64Key(raw))
	}
	return int64(varintKey(raw))
}
