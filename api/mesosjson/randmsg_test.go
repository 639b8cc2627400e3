package mesosjson

import (
	"math"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"pgregory.net/rapid"

	agent "github.com/agoraproject/agora/api/v1/agent"
	executor "github.com/agoraproject/agora/api/v1/executor"
	master "github.com/agoraproject/agora/api/v1/master"
	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

// rootMessages are the top-level messages of the v1 APIs.
var rootMessages = []proto.Message{
	&scheduler.Call{}, &scheduler.Event{}, &scheduler.Response{},
	&executor.Call{}, &executor.Event{},
	&master.Call{}, &master.Response{}, &master.Event{},
	&agent.Call{}, &agent.Response{},
}

// messageGen draws random messages of any type over protoreflect. Required
// fields are always set (so the message marshals); optional fields are set
// with probability 1/4, and optional message fields only above maxDepth.
type messageGen struct {
	t        *rapid.T
	maxDepth int
	finite   bool // draw only finite floating-point values
}

func (g *messageGen) draw(md proto.Message) proto.Message {
	m := md.ProtoReflect().New()
	g.fill(m, 0)
	return m.Interface()
}

func (g *messageGen) fill(m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if oneof := fd.ContainingOneof(); oneof != nil && m.WhichOneof(oneof) != nil {
			continue
		}
		if fd.Cardinality() != protoreflect.Required && !g.include(fd, depth) {
			continue
		}
		g.setField(m, fd, depth)
	}
}

func (g *messageGen) include(fd protoreflect.FieldDescriptor, depth int) bool {
	isMessage := fd.Message() != nil && !fd.IsMap() || fd.IsMap() && fd.MapValue().Message() != nil
	if isMessage && depth >= g.maxDepth {
		return false
	}
	return rapid.IntRange(0, 3).Draw(g.t, string(fd.FullName())) == 0
}

func (g *messageGen) setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) {
	switch {
	case fd.IsList():
		list := m.Mutable(fd).List()
		for range rapid.IntRange(1, 3).Draw(g.t, "len") {
			list.Append(g.value(list.NewElement, fd, depth))
		}
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		for range rapid.IntRange(1, 3).Draw(g.t, "len") {
			key := g.value(nil, fd.MapKey(), depth).MapKey()
			mp.Set(key, g.value(mp.NewValue, fd.MapValue(), depth))
		}
	default:
		m.Set(fd, g.value(func() protoreflect.Value { return m.NewField(fd) }, fd, depth))
	}
}

// value draws one value of fd's element type; newMessage makes an empty
// message value when the type is a message.
func (g *messageGen) value(newMessage func() protoreflect.Value, fd protoreflect.FieldDescriptor, depth int) protoreflect.Value {
	t := g.t
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rapid.Bool().Draw(t, "bool"))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(rapid.Int32().Draw(t, "int32"))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(rapid.Int64().Draw(t, "int64"))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(rapid.Uint32().Draw(t, "uint32"))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(rapid.Uint64().Draw(t, "uint64"))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(g.double()))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(g.double())
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(rapid.String().Draw(t, "string"))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes"))
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(rapid.IntRange(0, vals.Len()-1).Draw(t, "enum")).Number())
	}
	v := newMessage()
	g.fill(v.Message(), depth+1)
	return v
}

func (g *messageGen) double() float64 {
	if g.finite {
		return rapid.Float64Range(-math.MaxFloat64, math.MaxFloat64).Draw(g.t, "double")
	}
	special := []float64{math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 0.1, 1e21}
	if i := rapid.IntRange(0, 2*len(special)).Draw(g.t, "special"); i < len(special) {
		return special[i]
	}
	return rapid.Float64().Draw(g.t, "double")
}

// withDefaults returns a copy of m in which every unset field that the
// encoder writes with its default (declared default, not deprecated) is set
// to it explicitly: what decoding the encoder's output yields.
func withDefaults(m proto.Message) proto.Message {
	c := proto.Clone(m)
	fillDefaults(c.ProtoReflect())
	return c
}

func fillDefaults(m protoreflect.Message) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		switch {
		case fd.IsList():
			if fd.Message() != nil && m.Has(fd) {
				l := m.Mutable(fd).List()
				for j := range l.Len() {
					fillDefaults(l.Get(j).Message())
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil && m.Has(fd) {
				m.Mutable(fd).Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					fillDefaults(v.Message())
					return true
				})
			}
		case fd.Message() != nil:
			if m.Has(fd) {
				fillDefaults(m.Mutable(fd).Message())
			}
		case !m.Has(fd) && fd.HasDefault() && !isDeprecated(fd):
			m.Set(fd, fd.Default())
		}
	}
}
