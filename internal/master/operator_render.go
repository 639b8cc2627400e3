package master

import (
	"bytes"
	"errors"
	"slices"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agoraproject/agora/api/mesosjson"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
)

// GET_STATE and GET_TASKS at 100,000 tasks are mostly tasks, and tasks
// rarely change. As for /master/state (state_writer.go), each task's v1
// Task is encoded once per version and encoding, cached on the task, and
// the answer is the codec's rendering of everything else with the cached
// tasks spliced in:
//
//   - Mesos JSON: each non-empty list holds one marker task while the rest
//     is encoded; the marker's encoding is then replaced by the list.
//   - protobuf: the rest is encoded with empty lists, then a second
//     encoding of the same Response holding only the lists is appended.
//     Concatenated encodings of a message merge, so a decoder reads one
//     Response with every task in place.

// taskLists are a GET_TASKS answer's lists (pending and orphan tasks are
// always empty in Agora).
type taskLists struct {
	tasks, unreachable, completed []*TaskView
}

// taskListsOf are the lists of GET_TASKS: the active frameworks' tasks
// (terminal ones not yet acknowledged included) and unreachable tasks; the
// completed tasks of active and completed frameworks, with a completed
// framework's remaining tasks.
func taskListsOf(s *Snapshot) taskLists {
	var l taskLists
	for i := range s.Frameworks {
		f := &s.Frameworks[i]
		l.tasks = appendViews(l.tasks, f.Tasks)
		l.unreachable = appendViews(l.unreachable, f.UnreachableTasks)
		l.completed = appendViews(l.completed, f.CompletedTasks)
	}
	for i := range s.Completed {
		f := &s.Completed[i]
		l.completed = appendViews(l.completed, f.Tasks)
		l.completed = appendViews(l.completed, f.CompletedTasks)
	}
	return l
}

func appendViews(out []*TaskView, ts []TaskView) []*TaskView {
	for i := range ts {
		out = append(out, &ts[i])
	}
	return out
}

// each calls fn with every list, its field in GetTasks and a marker name.
func (l taskLists) each(fn func(list []*TaskView, field protoreflect.Name)) {
	fn(l.tasks, "tasks")
	fn(l.unreachable, "unreachable_tasks")
	fn(l.completed, "completed_tasks")
}

// encodeWithTasks encodes root (a Response, or the operator stream's
// SUBSCRIBED Event), whose GetTasks at holder has empty task lists, with
// l's tasks in them. path names the fields from root down to holder
// (e.g. get_state, get_tasks).
func encodeWithTasks(enc wire.Encoding, root proto.Message, holder *masterpb.Response_GetTasks, path []protoreflect.Name, l taskLists) ([]byte, error) {
	if enc == wire.Protobuf {
		return protobufWithTasks(root, path, l)
	}
	return jsonWithTasks(root, holder, l)
}

func jsonWithTasks(root proto.Message, holder *masterpb.Response_GetTasks, l taskLists) ([]byte, error) {
	type splice struct {
		marker []byte
		list   []*TaskView
		at     int // where the marker is in the encoded answer
	}
	var splices []splice
	var err error
	l.each(func(list []*TaskView, field protoreflect.Name) {
		if len(list) == 0 || err != nil {
			return
		}
		marker := markerTask(field)
		var b []byte
		if b, err = mesosjson.Marshal(marker); err == nil {
			splices = append(splices, splice{marker: b, list: list})
			*holderList(holder, field) = []*mesos.Task{marker}
		}
	})
	if err != nil {
		return nil, err
	}
	head, err := mesosjson.Marshal(root)
	if err != nil {
		return nil, err
	}
	for i := range splices {
		if splices[i].at = bytes.Index(head, splices[i].marker); splices[i].at < 0 {
			return nil, errors.New("master: task list marker not found in the encoded answer")
		}
	}
	// In the order the codec wrote the lists.
	slices.SortFunc(splices, func(a, b splice) int { return a.at - b.at })
	var out bytes.Buffer
	done := 0 // head is written up to here
	for _, sp := range splices {
		out.Write(head[done:sp.at])
		for j, t := range sp.list {
			if j > 0 {
				out.WriteByte(',')
			}
			b, err := taskV1JSON(t)
			if err != nil {
				return nil, err
			}
			out.Write(b)
		}
		done = sp.at + len(sp.marker)
	}
	out.Write(head[done:])
	return out.Bytes(), nil
}

// markerTask stands for a list while the rest is encoded; its task ID
// cannot be a real one (IDs are validated, and NUL is never allowed).
func markerTask(field protoreflect.Name) *mesos.Task {
	return &mesos.Task{
		Name: proto.String(""), TaskId: &mesos.TaskID{Value: proto.String("\x00agora-splice:" + string(field))},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("")}, AgentId: &mesos.AgentID{Value: proto.String("")},
		State: mesos.TaskState_TASK_STAGING.Enum(),
	}
}

func holderList(h *masterpb.Response_GetTasks, field protoreflect.Name) *[]*mesos.Task {
	switch field {
	case "tasks":
		return &h.Tasks
	case "unreachable_tasks":
		return &h.UnreachableTasks
	}
	return &h.CompletedTasks
}

func protobufWithTasks(root proto.Message, path []protoreflect.Name, l taskLists) ([]byte, error) {
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(root)
	if err != nil {
		return nil, err
	}
	getTasks := (&masterpb.Response_GetTasks{}).ProtoReflect().Descriptor().Fields()
	var lists []byte
	l.each(func(list []*TaskView, field protoreflect.Name) {
		num := getTasks.ByName(field).Number()
		for _, t := range list {
			b, taskErr := taskV1Proto(t)
			if taskErr != nil {
				err = taskErr
				return
			}
			lists = protowire.AppendTag(lists, num, protowire.BytesType)
			lists = protowire.AppendBytes(lists, b)
		}
	})
	if err != nil {
		return nil, err
	}
	if len(lists) == 0 {
		return out, nil
	}
	// Wrap the lists in the messages above them, innermost first.
	md := root.ProtoReflect().Descriptor()
	nums := make([]protowire.Number, len(path))
	for i, name := range path {
		fd := md.Fields().ByName(name)
		nums[i], md = fd.Number(), fd.Message()
	}
	for i := len(nums) - 1; i >= 0; i-- {
		wrapped := protowire.AppendTag(nil, nums[i], protowire.BytesType)
		lists = protowire.AppendBytes(wrapped, lists)
	}
	return append(out, lists...), nil
}

// taskV1JSON and taskV1Proto are a task's v1 Task, from its cache when
// current.
func taskV1JSON(t *TaskView) ([]byte, error) {
	slot := v1Slot(t, func(c *renderCache) *atomic.Pointer[renderedTask] { return &c.v1JSON })
	return cachedRendering(slot, t.version, func() ([]byte, error) { return mesosjson.Marshal(taskProto(t)) })
}

func taskV1Proto(t *TaskView) ([]byte, error) {
	slot := v1Slot(t, func(c *renderCache) *atomic.Pointer[renderedTask] { return &c.v1Proto })
	return cachedRendering(slot, t.version, func() ([]byte, error) {
		return proto.MarshalOptions{Deterministic: true}.Marshal(taskProto(t))
	})
}

func v1Slot(t *TaskView, pick func(*renderCache) *atomic.Pointer[renderedTask]) *atomic.Pointer[renderedTask] {
	if t.rendered == nil {
		return nil
	}
	return pick(t.rendered)
}
