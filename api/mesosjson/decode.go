package mesosjson

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// transcoder parses Mesos JSON into the protobuf wire form of a message,
// which proto.Unmarshal then decodes on protobuf-go's generated fast path:
// much faster than setting fields one by one through protoreflect.
type transcoder struct {
	decoder        // the tokenizer
	out     []byte // the wire form being built
	spans   []span // a stack: the fields written by each open object
	raw     []byte // scratch for decoded base64
}

// span is where one field's wire bytes lie in out, so that a repeated key
// or a later null can remove them.
type span struct {
	field      int
	start, end int
}

var transcoderPool = sync.Pool{New: func() any { return new(transcoder) }}

func (t *transcoder) release() {
	t.data = nil
	if cap(t.out) > maxPooledBuffer {
		t.out = nil
	}
	if cap(t.scratch) > maxPooledBuffer {
		t.scratch = nil
	}
	if cap(t.raw) > maxPooledBuffer {
		t.raw = nil
	}
	transcoderPool.Put(t)
}

// unmarshal parses data into m, which must be empty.
func (t *transcoder) unmarshal(data []byte, m protoreflect.Message) error {
	t.decoder = decoder{data: data, scratch: t.scratch[:0]}
	t.out, t.spans = t.out[:0], t.spans[:0]
	if t.peek() != '{' {
		return t.syntaxError("expected a JSON object, got " + t.describeNext())
	}
	if err := t.parseObject(infoFor(m.Descriptor())); err != nil {
		return err
	}
	if t.skipSpace(); t.pos < len(t.data) {
		return t.syntaxError("unexpected " + t.describeNext() + " after the top-level object")
	}
	// Required fields were checked object by object, with their paths.
	opts := proto.UnmarshalOptions{Merge: true, AllowPartial: true}
	if err := opts.Unmarshal(t.out, m.Interface()); err != nil {
		return &Error{Offset: -1, msg: "internal error: " + err.Error()}
	}
	return nil
}

// parseObject consumes a JSON object, writing the wire form of its fields.
// Unknown keys are skipped; a repeated key replaces the earlier value. When
// the object closes, every required field must have been written.
func (t *transcoder) parseObject(mi *messageInfo) error {
	if t.peek() != '{' {
		return t.syntaxError("expected an object, got " + t.describeNext())
	}
	if err := t.enter(); err != nil {
		return err
	}
	base := len(t.spans)
	if err := t.parseMembers(mi, base); err != nil {
		return err
	}
	t.leave()
	for _, i := range mi.required {
		if !t.written(base, i) {
			return missingField(mi.fields[i].name)
		}
	}
	t.spans = t.spans[:base]
	return nil
}

func (t *transcoder) parseMembers(mi *messageInfo, base int) error {
	if t.peek() == '}' {
		t.pos++
		return nil
	}
	for {
		if t.peek() != '"' {
			return t.syntaxError("expected a string key, got " + t.describeNext())
		}
		key, err := t.readString()
		if err != nil {
			return err
		}
		fi := mi.byName[string(key)]
		if err := t.consume(':', "':' after object key"); err != nil {
			return err
		}
		if fi == nil {
			err = t.skipValue()
		} else {
			err = t.parseMember(fi, base)
		}
		if err != nil {
			return err
		}
		if done, err := t.endOfMember('}'); done || err != nil {
			return err
		}
	}
}

func (t *transcoder) parseMember(fi *fieldInfo, base int) error {
	t.dropField(base, fi.index)
	start := len(t.out)
	if err := t.parseField(fi); err != nil {
		return within(err, fi.name)
	}
	if len(t.out) > start {
		t.spans = append(t.spans, span{field: fi.index, start: start, end: len(t.out)})
	}
	return nil
}

// dropField removes what an earlier occurrence of the field wrote in the
// object whose spans start at base.
func (t *transcoder) dropField(base, field int) {
	for i := base; i < len(t.spans); i++ {
		sp := t.spans[i]
		if sp.field != field {
			continue
		}
		n := sp.end - sp.start
		t.out = append(t.out[:sp.start], t.out[sp.end:]...)
		t.spans = append(t.spans[:i], t.spans[i+1:]...)
		for j := i; j < len(t.spans); j++ {
			t.spans[j].start -= n
			t.spans[j].end -= n
		}
		return
	}
}

// written reports whether the object whose spans start at base holds the
// field.
func (t *transcoder) written(base, field int) bool {
	for _, sp := range t.spans[base:] {
		if sp.field == field {
			return true
		}
	}
	return false
}

// parseField consumes the value of one field. null writes nothing.
func (t *transcoder) parseField(fi *fieldInfo) error {
	if t.atNull() {
		return nil
	}
	switch {
	case fi.isMap:
		return t.parseMap(fi)
	case fi.list:
		return t.parseList(fi)
	case fi.kind == protoreflect.MessageKind:
		return t.parseNested(fi.tag, fi.message())
	}
	return t.parseScalar(&fi.valueInfo, fi.tag, fi.required)
}

// atNull consumes a null literal if one is next.
func (t *transcoder) atNull() bool {
	if t.peek() != 'n' || len(t.data)-t.pos < 4 || string(t.data[t.pos:t.pos+4]) != "null" {
		return false
	}
	if t.pos+4 < len(t.data) && isLetter(t.data[t.pos+4]) {
		return false // e.g. "nullx": let the value parser report it
	}
	t.pos += 4
	return true
}

// parseNested writes a length-delimited message field.
func (t *transcoder) parseNested(tag []byte, mi *messageInfo) error {
	t.out = append(t.out, tag...)
	lenPos := len(t.out)
	t.out = append(t.out, 0)
	if err := t.parseObject(mi); err != nil {
		return err
	}
	t.fixLength(lenPos)
	return nil
}

// fixLength stores the length of what follows lenPos in the one byte
// reserved there, moving the content up when the varint needs more.
func (t *transcoder) fixLength(lenPos int) {
	n := len(t.out) - lenPos - 1
	if n < 0x80 {
		t.out[lenPos] = byte(n)
		return
	}
	k := protowire.SizeVarint(uint64(n))
	t.out = append(t.out, make([]byte, k-1)...)
	copy(t.out[lenPos+k:], t.out[lenPos+1:lenPos+1+n])
	protowire.AppendVarint(t.out[:lenPos], uint64(n))
}

// parseList consumes an array into a repeated field. Like Mesos, a single
// value that is not an array is taken as a one-element list.
func (t *transcoder) parseList(fi *fieldInfo) error {
	if t.peek() != '[' {
		return t.parseElement(fi)
	}
	if err := t.enter(); err != nil {
		return err
	}
	defer t.leave()
	if t.peek() == ']' {
		t.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := t.parseElement(fi); err != nil {
			return within(err, indexSegment(i))
		}
		if done, err := t.endOfMember(']'); done || err != nil {
			return err
		}
	}
}

// parseElement consumes one list element; an unknown enum name is dropped.
func (t *transcoder) parseElement(fi *fieldInfo) error {
	if t.atNull() {
		return errorAt(t.pos-len("null"), "null is not allowed as a list element")
	}
	if fi.kind == protoreflect.MessageKind {
		return t.parseNested(fi.tag, fi.message())
	}
	return t.parseScalar(&fi.valueInfo, fi.tag, false)
}

// parseMap consumes an object into a map field: one entry message (key = 1,
// value = 2) per member. An entry whose value is an unknown enum name is
// dropped.
func (t *transcoder) parseMap(fi *fieldInfo) error {
	if t.peek() != '{' {
		return t.syntaxError("expected an object for a map field, got " + t.describeNext())
	}
	if err := t.enter(); err != nil {
		return err
	}
	defer t.leave()
	if t.peek() == '}' {
		t.pos++
		return nil
	}
	for {
		if t.peek() != '"' {
			return t.syntaxError("expected a string key, got " + t.describeNext())
		}
		keyPos := t.pos
		if err := t.parseMapEntry(fi); err != nil {
			return within(err, keySegment(t.stringAt(keyPos)))
		}
		if done, err := t.endOfMember('}'); done || err != nil {
			return err
		}
	}
}

func (t *transcoder) parseMapEntry(fi *fieldInfo) error {
	key, err := t.readString()
	if err != nil {
		return err
	}
	entryStart := len(t.out)
	t.out = append(t.out, fi.tag...)
	lenPos := len(t.out)
	t.out = append(t.out, 0)
	if err := t.appendMapKey(fi.mapKey, key); err != nil {
		return err
	}
	if err := t.consume(':', "':' after object key"); err != nil {
		return err
	}
	if t.atNull() {
		return errorAt(t.pos-len("null"), "null is not allowed as a map value")
	}
	valueStart := len(t.out)
	if fi.kind == protoreflect.MessageKind {
		err = t.parseNested(mapValueTag[protowire.BytesType], fi.message())
	} else {
		err = t.parseScalar(&fi.valueInfo, mapValueTag[fi.wireType], false)
	}
	switch {
	case err != nil:
		return err
	case len(t.out) == valueStart: // an unknown enum name
		t.out = t.out[:entryStart]
	default:
		t.fixLength(lenPos)
	}
	return nil
}

// mapKeyTag and mapValueTag are the tags of map entry fields 1 and 2.
var mapKeyTag, mapValueTag = entryTags(1), entryTags(2)

func entryTags(num protowire.Number) map[protowire.Type][]byte {
	tags := make(map[protowire.Type][]byte)
	for _, typ := range []protowire.Type{protowire.VarintType, protowire.Fixed32Type, protowire.Fixed64Type, protowire.BytesType} {
		tags[typ] = protowire.AppendTag(nil, num, typ)
	}
	return tags
}

// stringAt re-reads the JSON string at pos, for error messages.
func (t *transcoder) stringAt(pos int) string {
	d := decoder{data: t.data, pos: pos}
	s, _ := d.readString()
	return string(s)
}
