package allocator

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "re-record the expected output of testdata transcripts")

// A transcript is a sequence of blocks: one or more command lines, a "----"
// line, the expected output (the commands' outputs joined), and a blank
// line. Lines starting with "#" between blocks are comments.
type block struct {
	comments []string
	commands []string
	want     string
	line     int
}

func parseTranscript(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []block
	var cur block
	state := "commands"
	var out []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case state == "commands" && strings.HasPrefix(line, "#"):
			cur.comments = append(cur.comments, line)
		case state == "commands" && line == "----":
			state = "output"
		case state == "commands" && strings.TrimSpace(line) != "":
			if len(cur.commands) == 0 {
				cur.line = n
			}
			cur.commands = append(cur.commands, line)
		case state == "output" && line == "":
			cur.want = strings.Join(out, "\n")
			blocks = append(blocks, cur)
			cur, out, state = block{}, nil, "commands"
		case state == "output":
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if state == "output" {
		cur.want = strings.Join(out, "\n")
		blocks = append(blocks, cur)
	}
	return blocks
}

func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runTranscript(t, path)
		})
	}
}

func runTranscript(t *testing.T, path string) {
	blocks := parseTranscript(t, path)
	h := newHarness(t)
	var rewritten strings.Builder
	for _, b := range blocks {
		var outs []string
		for _, cmd := range b.commands {
			out, err := h.run(cmd)
			if err != nil {
				t.Fatalf("%s:%d: %s: %v", path, b.line, cmd, err)
			}
			if out != "" {
				outs = append(outs, out)
			}
		}
		got := strings.Join(outs, "\n")
		if !*rewrite && got != b.want {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", path, b.line, strings.Join(b.commands, "; "), got, b.want)
		}
		for _, c := range b.comments {
			rewritten.WriteString(c + "\n")
		}
		rewritten.WriteString(strings.Join(b.commands, "\n") + "\n----\n")
		if got != "" {
			rewritten.WriteString(got + "\n")
		}
		rewritten.WriteString("\n")
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimSuffix(rewritten.String(), "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
