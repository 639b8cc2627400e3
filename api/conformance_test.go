package api_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	_ "github.com/agoraproject/agora/api/v1/agent"
	_ "github.com/agoraproject/agora/api/v1/allocator"
	_ "github.com/agoraproject/agora/api/v1/executor"
	_ "github.com/agoraproject/agora/api/v1/maintenance"
	_ "github.com/agoraproject/agora/api/v1/master"
	_ "github.com/agoraproject/agora/api/v1/mesos"
	_ "github.com/agoraproject/agora/api/v1/quota"
	_ "github.com/agoraproject/agora/api/v1/scheduler"
)

// TestProtoConformance proves that the generated descriptors match the wire
// reference (testdata/mesos-v1-wire.md): for every message the same fields
// in the same declaration order (the order of JSON keys), each with the same
// name, number, label, type, default, deprecated flag and oneof; for every
// enum the same values, numbers and deprecated flags.
func TestProtoConformance(t *testing.T) {
	ref := loadReference(t)
	if got, want := ref.counts(), ref.declaredCounts; got != want {
		t.Fatalf("parsed %s from the reference, but it declares %s", got, want)
	}
	for _, problem := range checkConformance(ref, protoregistry.GlobalFiles) {
		t.Error(problem)
	}
}

// TestConformanceDetectsDrift checks the checker itself: edits to the
// reference that a wrong .proto would mirror must be reported.
func TestConformanceDetectsDrift(t *testing.T) {
	text, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	edits := []struct{ name, old, new, want string }{
		{"renumbered", "### mesos.v1.FrameworkID\n- value = 1 :", "### mesos.v1.FrameworkID\n- value = 2 :", "mesos.v1.FrameworkID.value: number"},
		{"renamed", "- failover_timeout = 4 :", "- failover_timeouts = 4 :", "mesos.v1.FrameworkInfo has no field failover_timeouts"},
		{"label", "- uuid = 11 : bytes, optional", "- uuid = 11 : bytes, required", "mesos.v1.TaskStatus.uuid: label"},
		{"type", "- uuid = 11 : bytes, optional", "- uuid = 11 : string, optional", "mesos.v1.TaskStatus.uuid: type"},
		{"default", "- refuse_seconds = 1 : double, optional [default=5.0]", "- refuse_seconds = 1 : double, optional [default=6.0]", "mesos.v1.Filters.refuse_seconds: default"},
		{"deprecated", "- role = 6 : string, optional [default=\"*\"] [deprecated]\n- roles", "- role = 6 : string, optional [default=\"*\"]\n- roles", "mesos.v1.FrameworkInfo.role: deprecated"},
		{"oneof", "- attribute_name = 2 : string, optional, oneof selector", "- attribute_name = 2 : string, optional", "mesos.v1.scheduler.AttributeConstraint.Selector.attribute_name: oneof"},
		{"enum value", "SCALAR=0, RANGES=1, SET=2, TEXT=3", "SCALAR=0, RANGES=1, SET=2, TEXT=4", "mesos.v1.Value.Type.TEXT: number"},
		{"missing field", "- hostname = 4 : string, required\n- url = 8", "- url = 8", "mesos.v1.Offer: 11 fields, reference has 10"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			if strings.Count(string(text), e.old) != 1 {
				t.Fatalf("edit anchor %q is not unique in the reference", e.old)
			}
			ref, err := parseReference(strings.NewReader(strings.Replace(string(text), e.old, e.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			problems := checkConformance(ref, protoregistry.GlobalFiles)
			for _, p := range problems {
				if strings.Contains(p, e.want) {
					return
				}
			}
			t.Fatalf("no problem mentions %q; got %q", e.want, problems)
		})
	}
}

const referencePath = "testdata/mesos-v1-wire.md"

// reference is the parsed fact table.
type reference struct {
	messages       []refMessage
	enums          []refEnum
	declaredCounts string // from the "Counts:" line
}

type refMessage struct {
	name   string // full name
	pkg    string
	fields []refField
}

type refField struct {
	name, typ, label, oneof string
	number                  int
	def                     string // raw default text, "" when none
	hasDefault, deprecated  bool
}

type refEnum struct {
	name   string
	values []refEnumValue
}

type refEnumValue struct {
	name       string
	number     int
	deprecated bool
}

func (r *reference) counts() string {
	fields, values := 0, 0
	for _, m := range r.messages {
		fields += len(m.fields)
	}
	for _, e := range r.enums {
		values += len(e.values)
	}
	return fmt.Sprintf("%d messages (%d fields) and %d enums (%d values)", len(r.messages), fields, len(r.enums), values)
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	f, err := os.Open(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, err := parseReference(f)
	if err != nil {
		t.Fatalf("%s: %v", referencePath, err)
	}
	return ref
}

var (
	packageLine = regexp.MustCompile(`^## package (\S+) `)
	countsLine  = regexp.MustCompile(`^- Counts: (.*)\.$`)
	fieldLine   = regexp.MustCompile(`^- (\w+) = (\d+) : (.+), (required|optional|repeated|map)` +
		`(?: \[default=(.*?)\])?( \[deprecated\])?(?:, oneof (\w+))?$`)
	enumValue = regexp.MustCompile(`^(\w+)=(-?\d+)( \[deprecated\])?$`)
)

func parseReference(r io.Reader) (*reference, error) {
	ref := &reference{}
	var pkg string
	var msg *refMessage
	var enum *refEnum
	sc := bufio.NewScanner(r)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if m := countsLine.FindStringSubmatch(line); m != nil && pkg == "" {
			ref.declaredCounts = m[1]
		}
		if m := packageLine.FindStringSubmatch(line); m != nil {
			pkg, msg, enum = m[1], nil, nil
			continue
		}
		if pkg == "" || line == "" || line == "(no fields)" {
			continue
		}
		var err error
		msg, enum, err = ref.parseLine(line, pkg, msg, enum)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
	}
	return ref, sc.Err()
}

// parseLine handles one line inside a package section, returning the
// message or enum block that is open after it.
func (ref *reference) parseLine(line, pkg string, msg *refMessage, enum *refEnum) (*refMessage, *refEnum, error) {
	switch {
	case strings.HasPrefix(line, "### enum "):
		ref.enums = append(ref.enums, refEnum{name: strings.TrimPrefix(line, "### enum ")})
		return nil, &ref.enums[len(ref.enums)-1], nil
	case strings.HasPrefix(line, "### "):
		ref.messages = append(ref.messages, refMessage{name: strings.TrimPrefix(line, "### "), pkg: pkg})
		return &ref.messages[len(ref.messages)-1], nil, nil
	case msg != nil:
		f, err := parseField(line)
		if err != nil {
			return nil, nil, err
		}
		msg.fields = append(msg.fields, f)
		return msg, nil, nil
	case enum != nil:
		values, err := parseEnumValues(line)
		if err != nil {
			return nil, nil, err
		}
		enum.values = append(enum.values, values...)
		return nil, enum, nil
	}
	return nil, nil, fmt.Errorf("line outside a block: %q", line)
}

func parseField(line string) (refField, error) {
	m := fieldLine.FindStringSubmatch(line)
	if m == nil {
		return refField{}, fmt.Errorf("unrecognized field line %q", line)
	}
	number, _ := strconv.Atoi(m[2])
	return refField{
		name: m[1], number: number, typ: m[3], label: m[4],
		def: m[5], hasDefault: strings.Contains(line, "[default="),
		deprecated: m[6] != "", oneof: m[7],
	}, nil
}

func parseEnumValues(line string) ([]refEnumValue, error) {
	var values []refEnumValue
	for _, part := range strings.Split(line, ", ") {
		m := enumValue.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("unrecognized enum value %q", part)
		}
		n, _ := strconv.Atoi(m[2])
		values = append(values, refEnumValue{name: m[1], number: n, deprecated: m[3] != ""})
	}
	return values, nil
}

// checkConformance lists every difference between the reference and the
// descriptors registered in files.
func checkConformance(ref *reference, files *protoregistry.Files) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, rm := range ref.messages {
		d, err := files.FindDescriptorByName(protoreflect.FullName(rm.name))
		md, ok := d.(protoreflect.MessageDescriptor)
		if err != nil || !ok {
			report("message %s is not generated", rm.name)
			continue
		}
		checkMessage(rm, md, report)
	}
	for _, re := range ref.enums {
		d, err := files.FindDescriptorByName(protoreflect.FullName(re.name))
		ed, ok := d.(protoreflect.EnumDescriptor)
		if err != nil || !ok {
			report("enum %s is not generated", re.name)
			continue
		}
		checkEnum(re, ed, report)
	}
	return problems
}

type reporter func(format string, args ...any)

func checkMessage(rm refMessage, md protoreflect.MessageDescriptor, report reporter) {
	if n := md.Fields().Len(); n != len(rm.fields) {
		report("%s: %d fields, reference has %d", rm.name, n, len(rm.fields))
	}
	for i, rf := range rm.fields {
		fd := md.Fields().ByName(protoreflect.Name(rf.name))
		if fd == nil {
			report("%s has no field %s", rm.name, rf.name)
			continue
		}
		where := rm.name + "." + rf.name
		if fd.Index() != i {
			report("%s: declared at position %d, reference has %d (JSON key order follows declaration order)", where, fd.Index(), i)
		}
		checkField(where, rm.pkg, rf, fd, report)
	}
}

func checkField(where, pkg string, rf refField, fd protoreflect.FieldDescriptor, report reporter) {
	if int(fd.Number()) != rf.number {
		report("%s: number %d, reference has %d", where, fd.Number(), rf.number)
	}
	if got := fieldLabel(fd); got != rf.label {
		report("%s: label %s, reference has %s", where, got, rf.label)
	}
	if got, want := fieldType(fd), resolveType(pkg, rf.typ); got != want {
		report("%s: type %s, reference has %s", where, got, want)
	}
	if got := defaultText(fd); fd.HasDefault() != rf.hasDefault || (rf.hasDefault && !sameDefault(fd, got, rf.def)) {
		report("%s: default %q (set: %v), reference has %q (set: %v)", where, got, fd.HasDefault(), rf.def, rf.hasDefault)
	}
	deprecated := fd.Options().(*descriptorpb.FieldOptions).GetDeprecated()
	if deprecated != rf.deprecated {
		report("%s: deprecated %v, reference has %v", where, deprecated, rf.deprecated)
	}
	oneof := ""
	if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
		oneof = string(o.Name())
	}
	if oneof != rf.oneof {
		report("%s: oneof %q, reference has %q", where, oneof, rf.oneof)
	}
}

func fieldLabel(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.IsList():
		return "repeated"
	case fd.Cardinality() == protoreflect.Required:
		return "required"
	}
	return "optional"
}

// fieldType renders a field's type fully qualified: "int64",
// "mesos.v1.TaskID", "enum mesos.v1.TaskState", "map<string, mesos.v1.Secret>".
func fieldType(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map<" + fieldType(fd.MapKey()) + ", " + fieldType(fd.MapValue()) + ">"
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return "enum " + string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// resolveType qualifies the reference's relative type names: message and
// enum names start with a capital letter when relative to the package.
func resolveType(pkg, typ string) string {
	if inner, ok := strings.CutPrefix(typ, "map<"); ok {
		k, v, _ := strings.Cut(strings.TrimSuffix(inner, ">"), ", ")
		return "map<" + resolveType(pkg, k) + ", " + resolveType(pkg, v) + ">"
	}
	if name, ok := strings.CutPrefix(typ, "enum "); ok {
		return "enum " + resolveType(pkg, name)
	}
	if typ[0] >= 'A' && typ[0] <= 'Z' {
		return pkg + "." + typ
	}
	return typ
}

func defaultText(fd protoreflect.FieldDescriptor) string {
	if !fd.HasDefault() {
		return ""
	}
	if fd.Kind() == protoreflect.EnumKind {
		return string(fd.DefaultEnumValue().Name())
	}
	return fmt.Sprint(fd.Default().Interface())
}

// sameDefault compares a descriptor's default with the reference's text:
// strings are quoted there, numbers compared by value.
func sameDefault(fd protoreflect.FieldDescriptor, got, want string) bool {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		s, err := strconv.Unquote(want)
		return err == nil && s == got
	case protoreflect.EnumKind, protoreflect.BoolKind:
		return got == want
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && g == w
}

func checkEnum(re refEnum, ed protoreflect.EnumDescriptor, report reporter) {
	vals := ed.Values()
	if vals.Len() != len(re.values) {
		report("%s: %d values, reference has %d", re.name, vals.Len(), len(re.values))
	}
	for i, rv := range re.values {
		v := vals.ByName(protoreflect.Name(rv.name))
		where := re.name + "." + rv.name
		if v == nil {
			report("%s is not generated", where)
			continue
		}
		if int(v.Number()) != rv.number {
			report("%s: number %d, reference has %d", where, v.Number(), rv.number)
		}
		if v.Index() != i {
			report("%s: declared at position %d, reference has %d", where, v.Index(), i)
		}
		deprecated := v.Options().(*descriptorpb.EnumValueOptions).GetDeprecated()
		if deprecated != rv.deprecated {
			report("%s: deprecated %v, reference has %v", where, deprecated, rv.deprecated)
		}
	}
}
