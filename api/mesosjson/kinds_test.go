package mesosjson

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"pgregory.net/rapid"
)

// kindsDescriptor is a test-only proto2 message with every field kind the
// Mesos protos do not use (sint, fixed, float, packed lists, non-string map
// keys, negative enum numbers), so the codec is exercised beyond them:
//
//	enum Color { GREEN = 0; RED = -1; BLUE = 7; }
//	message Kinds {
//	  optional sint32 s32 = 1;  optional sint64 s64 = 2;
//	  optional fixed32 f32 = 3; optional fixed64 f64 = 4;
//	  optional sfixed32 sf32 = 5; optional sfixed64 sf64 = 6;
//	  optional float fl = 7 [default = 0.25];
//	  optional Color color = 8 [default = BLUE];
//	  repeated sint32 packed_s32 = 9 [packed = true];
//	  repeated double packed_d = 10 [packed = true];
//	  repeated Color colors = 11;
//	  map<int32, string> by_int = 12;   map<bool, Kinds> by_bool = 13;
//	  map<sint64, double> by_sint = 14; map<fixed32, Color> by_fixed = 15;
//	  map<uint64, bytes> by_uint = 16;  optional Kinds child = 17;
//	}
var kindsDescriptor = func() protoreflect.MessageDescriptor {
	f := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("mesosjson_kinds_test.proto"),
		Package: proto.String("mesosjson.test"),
		Syntax:  proto.String("proto2"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("GREEN"), Number: proto.Int32(0)},
				{Name: proto.String("RED"), Number: proto.Int32(-1)},
				{Name: proto.String("BLUE"), Number: proto.Int32(7)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Kinds"),
			Field: []*descriptorpb.FieldDescriptorProto{
				scalarField("s32", 1, descriptorpb.FieldDescriptorProto_TYPE_SINT32),
				scalarField("s64", 2, descriptorpb.FieldDescriptorProto_TYPE_SINT64),
				scalarField("f32", 3, descriptorpb.FieldDescriptorProto_TYPE_FIXED32),
				scalarField("f64", 4, descriptorpb.FieldDescriptorProto_TYPE_FIXED64),
				scalarField("sf32", 5, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32),
				scalarField("sf64", 6, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64),
				withDefault(scalarField("fl", 7, descriptorpb.FieldDescriptorProto_TYPE_FLOAT), "0.25"),
				withDefault(typedField("color", 8, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".mesosjson.test.Color"), "BLUE"),
				packed(repeated(scalarField("packed_s32", 9, descriptorpb.FieldDescriptorProto_TYPE_SINT32))),
				packed(repeated(scalarField("packed_d", 10, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE))),
				repeated(typedField("colors", 11, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".mesosjson.test.Color")),
				mapField("by_int", 12, "ByIntEntry"),
				mapField("by_bool", 13, "ByBoolEntry"),
				mapField("by_sint", 14, "BySintEntry"),
				mapField("by_fixed", 15, "ByFixedEntry"),
				mapField("by_uint", 16, "ByUintEntry"),
				typedField("child", 17, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".mesosjson.test.Kinds"),
			},
			NestedType: []*descriptorpb.DescriptorProto{
				mapEntryProto("ByIntEntry", scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32),
					scalarField("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING)),
				mapEntryProto("ByBoolEntry", scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_BOOL),
					typedField("value", 2, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".mesosjson.test.Kinds")),
				mapEntryProto("BySintEntry", scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_SINT64),
					scalarField("value", 2, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE)),
				mapEntryProto("ByFixedEntry", scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_FIXED32),
					typedField("value", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".mesosjson.test.Color")),
				mapEntryProto("ByUintEntry", scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_UINT64),
					scalarField("value", 2, descriptorpb.FieldDescriptorProto_TYPE_BYTES)),
			},
		}},
	}
	fd, err := protodesc.NewFile(f, nil)
	if err != nil {
		panic(err)
	}
	return fd.Messages().ByName("Kinds")
}()

func scalarField(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
}

func typedField(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
	f := scalarField(name, num, typ)
	f.TypeName = proto.String(typeName)
	return f
}

func withDefault(f *descriptorpb.FieldDescriptorProto, def string) *descriptorpb.FieldDescriptorProto {
	f.DefaultValue = proto.String(def)
	return f
}

func repeated(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	return f
}

func packed(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	f.Options = &descriptorpb.FieldOptions{Packed: proto.Bool(true)}
	return f
}

func mapField(name string, num int32, entry string) *descriptorpb.FieldDescriptorProto {
	return repeated(typedField(name, num, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".mesosjson.test.Kinds."+entry))
}

func mapEntryProto(name string, key, value *descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: []*descriptorpb.FieldDescriptorProto{key, value},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}}
}

func TestKindsRoundTrip(t *testing.T) {
	root := dynamicpb.NewMessage(kindsDescriptor)
	rapid.Check(t, func(t *rapid.T) {
		m := (&messageGen{t: t, maxDepth: 3}).draw(root)
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got := dynamicpb.NewMessage(kindsDescriptor)
		if err := Unmarshal(out, got); err != nil {
			t.Fatalf("Unmarshal: %v\n%s", err, out)
		}
		if !proto.Equal(got, withDefaults(m)) {
			t.Fatalf("round trip changed the message\nout: %s\ngot:  %v\nwant: %v", out, got, m)
		}
	})
}

func TestKindsEncoding(t *testing.T) {
	const in = `{"s32":-3,"s64":"-9223372036854775808","f32":4294967295,"f64":18446744073709551615,` +
		`"sf32":-2147483648,"sf64":-1,"fl":0.1,"packed_s32":[-1,0,1],"packed_d":[0.5,-Infinity],` +
		`"colors":["RED","PURPLE","BLUE"],"by_int":{"10":"ten","-5":"minus five","3":"three"},` +
		`"by_bool":{"true":{},"false":{"s32":1}},"by_sint":{"-1":1,"1":-1},"by_fixed":{"2":"BLUE","1":"NOPE"},` +
		`"by_uint":{"18446744073709551615":"AQ=="},"child":{"color":"RED"}}`
	const want = `{"s32":-3,"s64":-9223372036854775808,"f32":4294967295,"f64":18446744073709551615,` +
		`"sf32":-2147483648,"sf64":-1,"fl":0.1,"color":"BLUE","packed_s32":[-1,0,1],"packed_d":[0.5,-Infinity],` +
		`"colors":["RED","BLUE"],"by_int":{"-5":"minus five","3":"three","10":"ten"},` +
		`"by_bool":{"false":{"s32":1,"fl":0.25,"color":"BLUE"},"true":{"fl":0.25,"color":"BLUE"}},` +
		`"by_sint":{"-1":1.0,"1":-1.0},"by_fixed":{"2":"BLUE"},` +
		`"by_uint":{"18446744073709551615":"AQ=="},"child":{"fl":0.25,"color":"RED"}}`
	m := dynamicpb.NewMessage(kindsDescriptor)
	if err := Unmarshal([]byte(in), m); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", out, want)
	}
	// The packed fields really were packed on the wire the encoder read.
	wire, _ := proto.Marshal(m)
	if !strings.Contains(string(wire), "\x4a\x03\x01\x00\x02") {
		t.Errorf("packed_s32 not packed in %x", wire)
	}
}

func TestKindsRejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"by_int":{"x":"y"}}`, `mesosjson: field 'by_int["x"]': expected an integer, got "x"`},
		{`{"by_int":{"2147483648":"y"}}`, `mesosjson: field 'by_int["2147483648"]': 2147483648 is out of range for int32`},
		{`{"by_bool":{"yes":{}}}`, `mesosjson: field 'by_bool["yes"]': map key "yes" is not a bool`},
		{`{"fl":1e39}`, `mesosjson: field 'fl' at offset 6: 1e39 is out of range for float`},
		{`{"f32":-1}`, `mesosjson: field 'f32' at offset 7: -1 is out of range for uint32`},
		{`{"by_fixed":{"1":3}}`, `mesosjson: field 'by_fixed["1"]' at offset 17: expected an enum value name (a string), got number 3`},
	}
	for _, tt := range tests {
		err := Unmarshal([]byte(tt.in), dynamicpb.NewMessage(kindsDescriptor))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Unmarshal(%s) = %v, want %s", tt.in, err, tt.want)
		}
	}
}

// TestKindsUndefinedEnumsLeftOut: values a (closed, proto2) enum does not
// define are treated as unset: left out of lists and maps (a map left empty
// is not written), and a singular field shows its default instead.
func TestKindsUndefinedEnumsLeftOut(t *testing.T) {
	m := dynamicpb.NewMessage(kindsDescriptor)
	fields := kindsDescriptor.Fields()
	colors := m.Mutable(fields.ByName("colors")).List()
	colors.Append(protoreflect.ValueOfEnum(99))
	colors.Append(protoreflect.ValueOfEnum(7))
	byFixed := m.Mutable(fields.ByName("by_fixed")).Map()
	byFixed.Set(protoreflect.ValueOfUint32(1).MapKey(), protoreflect.ValueOfEnum(42))
	m.Set(fields.ByName("color"), protoreflect.ValueOfEnum(5))
	out, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"fl":0.25,"color":"BLUE","colors":["BLUE"]}`; string(out) != want {
		t.Fatalf("Marshal = %s, want %s", out, want)
	}
}
