package mesosjson

import (
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// messageInfo is the per-descriptor table both directions work from. It is
// built once per message type and shared by all goroutines.
type messageInfo struct {
	name     protoreflect.FullName
	fields   []*fieldInfo          // declaration order: the output key order
	byName   map[string]*fieldInfo // JSON key (the proto field name) -> field
	byNumber []int32               // field number -> index in fields, or -1
	required []int                 // indices of required fields
}

// fieldInfo describes one field of a message.
type fieldInfo struct {
	valueInfo // the element: the field itself, or the map value of a map

	index  int
	name   string
	number protowire.Number
	key    []byte // `"name":`, written before the value
	tag    []byte // wire tag of one element (a map entry for maps)

	list, isMap bool
	required    bool
	// unsetJSON is `"name":value`, written for an unset singular field that
	// has a non-deprecated declared default (the stout rule) or no presence
	// (a proto3 scalar, written as its zero value). Nil otherwise.
	unsetJSON []byte
	mapKey    *valueInfo // for maps: the key; valueInfo is the map value
}

// valueInfo describes the type of one value: a singular field, a list
// element, a map key or a map value.
type valueInfo struct {
	fd       protoreflect.FieldDescriptor // of the value (map value for maps)
	kind     protoreflect.Kind
	wireType protowire.Type // of one unpacked value
	enum     *enumInfo
	msg      atomic.Pointer[messageInfo] // resolved lazily: types may recurse
}

// enumInfo maps enum names to numbers and numbers to quoted names.
type enumInfo struct {
	name   protoreflect.FullName
	byName map[string]protoreflect.EnumNumber
	// quoted names (`"NAME"`) of numbers 0..len-1 (nil where undefined),
	// and of any other numbers in sparse.
	dense  [][]byte
	sparse map[protoreflect.EnumNumber][]byte
}

// maxDenseEnum bounds the enum numbers kept in a slice rather than a map.
const maxDenseEnum = 256

// quoted returns the quoted name of number n; ok is false when the enum has
// no such value.
func (ei *enumInfo) quoted(n protoreflect.EnumNumber) (name []byte, ok bool) {
	if n >= 0 && int(n) < len(ei.dense) {
		name = ei.dense[n]
		return name, name != nil
	}
	name, ok = ei.sparse[n]
	return name, ok
}

var (
	messageInfos sync.Map // protoreflect.MessageDescriptor -> *messageInfo
	enumInfos    sync.Map // protoreflect.EnumDescriptor -> *enumInfo
)

// infoFor returns the cached table for md, building it on first use.
func infoFor(md protoreflect.MessageDescriptor) *messageInfo {
	if mi, ok := messageInfos.Load(md); ok {
		return mi.(*messageInfo)
	}
	mi, _ := messageInfos.LoadOrStore(md, buildMessageInfo(md))
	return mi.(*messageInfo)
}

// message returns the table of the value's message type.
func (v *valueInfo) message() *messageInfo {
	if mi := v.msg.Load(); mi != nil {
		return mi
	}
	mi := infoFor(v.fd.Message())
	v.msg.Store(mi)
	return mi
}

// field returns the field with the given number, or nil.
func (mi *messageInfo) field(num protowire.Number) *fieldInfo {
	if num < 0 || int(num) >= len(mi.byNumber) || mi.byNumber[num] < 0 {
		return nil
	}
	return mi.fields[mi.byNumber[num]]
}

func buildMessageInfo(md protoreflect.MessageDescriptor) *messageInfo {
	fds := md.Fields()
	mi := &messageInfo{
		name:   md.FullName(),
		fields: make([]*fieldInfo, 0, fds.Len()),
		byName: make(map[string]*fieldInfo, fds.Len()),
	}
	maxNumber := protowire.Number(0)
	for i := range fds.Len() {
		fi := buildFieldInfo(fds.Get(i), i)
		mi.fields = append(mi.fields, fi)
		mi.byName[fi.name] = fi
		maxNumber = max(maxNumber, fi.number)
		if fi.required {
			mi.required = append(mi.required, i)
		}
	}
	mi.byNumber = make([]int32, maxNumber+1)
	for i := range mi.byNumber {
		mi.byNumber[i] = -1
	}
	for i, fi := range mi.fields {
		mi.byNumber[fi.number] = int32(i)
	}
	return mi
}

func buildFieldInfo(fd protoreflect.FieldDescriptor, index int) *fieldInfo {
	name := string(fd.Name())
	fi := &fieldInfo{
		index:    index,
		name:     name,
		number:   fd.Number(),
		key:      []byte(`"` + name + `":`),
		list:     fd.IsList(),
		isMap:    fd.IsMap(),
		required: fd.Cardinality() == protoreflect.Required,
	}
	elem := fd
	if fi.isMap {
		elem = fd.MapValue()
		fi.mapKey = newValueInfo(fd.MapKey())
	}
	fi.setValue(elem)
	wt := fi.wireType
	if fi.isMap {
		wt = protowire.BytesType
	}
	fi.tag = protowire.AppendTag(nil, fi.number, wt)
	singular := !fi.list && !fi.isMap
	switch {
	case singular && fd.HasDefault() && !isDeprecated(fd):
		fi.unsetJSON = fi.renderUnset(fd.Default())
	case singular && !fd.HasPresence():
		fi.unsetJSON = fi.renderUnset(fd.Default()) // the zero value
	}
	return fi
}

func newValueInfo(fd protoreflect.FieldDescriptor) *valueInfo {
	vi := &valueInfo{}
	vi.setValue(fd)
	return vi
}

func (vi *valueInfo) setValue(fd protoreflect.FieldDescriptor) {
	vi.fd = fd
	vi.kind = fd.Kind()
	vi.wireType = wireTypes[vi.kind]
	if vi.kind == protoreflect.EnumKind {
		vi.enum = enumFor(fd.Enum())
	}
}

// renderUnset renders `"name":value` for a default or zero value.
func (fi *fieldInfo) renderUnset(v protoreflect.Value) []byte {
	b := append([]byte(nil), fi.key...)
	switch fi.kind {
	case protoreflect.BoolKind:
		return appendBool(b, v.Bool())
	case protoreflect.EnumKind:
		name, _ := fi.enum.quoted(v.Enum())
		return append(b, name...)
	case protoreflect.StringKind:
		return appendString(b, []byte(v.String()))
	case protoreflect.BytesKind:
		return appendBase64(b, v.Bytes())
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32)
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64)
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return appendUint(b, v.Uint())
	}
	return appendInt(b, v.Int())
}

// wireTypes is the wire type of one (unpacked) value of each kind.
var wireTypes = map[protoreflect.Kind]protowire.Type{
	protoreflect.BoolKind: protowire.VarintType, protoreflect.EnumKind: protowire.VarintType,
	protoreflect.Int32Kind: protowire.VarintType, protoreflect.Sint32Kind: protowire.VarintType,
	protoreflect.Uint32Kind: protowire.VarintType, protoreflect.Int64Kind: protowire.VarintType,
	protoreflect.Sint64Kind: protowire.VarintType, protoreflect.Uint64Kind: protowire.VarintType,
	protoreflect.Sfixed32Kind: protowire.Fixed32Type, protoreflect.Fixed32Kind: protowire.Fixed32Type,
	protoreflect.FloatKind: protowire.Fixed32Type, protoreflect.Sfixed64Kind: protowire.Fixed64Type,
	protoreflect.Fixed64Kind: protowire.Fixed64Type, protoreflect.DoubleKind: protowire.Fixed64Type,
	protoreflect.StringKind: protowire.BytesType, protoreflect.BytesKind: protowire.BytesType,
	protoreflect.MessageKind: protowire.BytesType, protoreflect.GroupKind: protowire.StartGroupType,
}

func isDeprecated(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetDeprecated()
}

func enumFor(ed protoreflect.EnumDescriptor) *enumInfo {
	if ei, ok := enumInfos.Load(ed); ok {
		return ei.(*enumInfo)
	}
	vals := ed.Values()
	ei := &enumInfo{
		name:   ed.FullName(),
		byName: make(map[string]protoreflect.EnumNumber, vals.Len()),
		sparse: make(map[protoreflect.EnumNumber][]byte),
	}
	for i := range vals.Len() {
		v := vals.Get(i)
		ei.byName[string(v.Name())] = v.Number()
		if _, dup := ei.quoted(v.Number()); dup {
			continue // aliases: the first name wins
		}
		quoted := []byte(`"` + string(v.Name()) + `"`)
		if n := v.Number(); n >= 0 && n < maxDenseEnum {
			for len(ei.dense) <= int(n) {
				ei.dense = append(ei.dense, nil)
			}
			ei.dense[n] = quoted
		} else {
			ei.sparse[n] = quoted
		}
	}
	actual, _ := enumInfos.LoadOrStore(ed, ei)
	return actual.(*enumInfo)
}
