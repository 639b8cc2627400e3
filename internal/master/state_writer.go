package master

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"
)

// /master/state at 100,000 tasks is mostly tasks, and tasks rarely change:
// each task's legacy JSON is rendered once per version and cached on the
// task (off the loop: readers render, the loop only bumps versions), and
// the response is written as a stream that splices the cached bytes in.

// renderCache holds a task's renderings for one version: its legacy JSON
// (p), and its v1 Task in Mesos JSON and in protobuf (operator_render.go).
type renderCache struct {
	p       atomic.Pointer[renderedTask]
	v1JSON  atomic.Pointer[renderedTask]
	v1Proto atomic.Pointer[renderedTask]
}

type renderedTask struct {
	version uint64
	json    []byte // the rendering, whichever the encoding
}

// cachedRendering is slot's rendering of a task at version, rendered (and
// stored, unless rendering failed) when the slot holds none or an older
// one. slot may be nil.
func cachedRendering(slot *atomic.Pointer[renderedTask], version uint64, render func() ([]byte, error)) ([]byte, error) {
	if slot != nil {
		if c := slot.Load(); c != nil && c.version == version {
			return c.json, nil
		}
	}
	b, err := render()
	if slot != nil && err == nil {
		slot.Store(&renderedTask{version: version, json: b})
	}
	return b, err
}

// cache is the task's render cache, made on first use (on the loop).
func (t *task) cache() *renderCache {
	if t.rendered == nil {
		t.rendered = &renderCache{}
	}
	return t.rendered
}

// renderTask is the task's legacy JSON, from the cache when it is current.
// A reader racing with a newer version may store an older rendering; the
// version check makes the next reader render again, so a stale rendering
// is never served.
func renderTask(t *TaskView) []byte {
	var slot *atomic.Pointer[renderedTask]
	if t.rendered != nil {
		slot = &t.rendered.p
	}
	b, _ := cachedRendering(slot, t.version, func() ([]byte, error) { return json.Marshal(taskState(t)) })
	return b
}

// writeState streams /master/state: the document as encoding/json renders
// it with the framework lists left null, those then written framework by
// framework with each task list from the cache. (A null never appears in
// the rest of the document, so the markers are unambiguous.)
func writeState(w io.Writer, s *Snapshot) error {
	st := stateOf(s, false)
	st.Frameworks, st.CompletedFrameworks = nil, nil
	head, err := json.Marshal(st)
	if err != nil {
		return err
	}
	marker := []byte(`"frameworks":null,"completed_frameworks":null`)
	i := bytes.Index(head, marker)
	if i < 0 {
		return errors.New("master: state document without framework lists")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(head[:i])
	bw.WriteString(`"frameworks":`)
	if err := writeFrameworks(bw, s.Frameworks); err != nil {
		return err
	}
	bw.WriteString(`,"completed_frameworks":`)
	if err := writeFrameworks(bw, s.Completed); err != nil {
		return err
	}
	bw.Write(head[i+len(marker):])
	return bw.Flush()
}

var taskListsMarker = []byte(`"tasks":null,"unreachable_tasks":null,"completed_tasks":null`)

func writeFrameworks(bw *bufio.Writer, fws []FrameworkView) error {
	bw.WriteByte('[')
	for i := range fws {
		if i > 0 {
			bw.WriteByte(',')
		}
		f := &fws[i]
		b, err := json.Marshal(frameworkState(f, false))
		if err != nil {
			return err
		}
		k := bytes.Index(b, taskListsMarker)
		if k < 0 {
			return errors.New("master: framework document without task lists")
		}
		bw.Write(b[:k])
		writeTaskList(bw, "tasks", f.Tasks)
		bw.WriteByte(',')
		writeTaskList(bw, "unreachable_tasks", f.UnreachableTasks)
		bw.WriteByte(',')
		writeTaskList(bw, "completed_tasks", f.CompletedTasks)
		bw.Write(b[k+len(taskListsMarker):])
	}
	bw.WriteByte(']')
	return nil
}

func writeTaskList(bw *bufio.Writer, key string, tasks []TaskView) {
	bw.WriteString(`"` + key + `":[`)
	for i := range tasks {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(renderTask(&tasks[i]))
	}
	bw.WriteByte(']')
}
