package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/agoraproject/agora"

// pkg is one parsed package of the module (non-test files only).
type pkg struct {
	path  string // import path
	dir   string
	files []*ast.File
}

// loadPackages parses every package of the module under root.
func loadPackages(t *testing.T) []pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	byDir := map[string]*pkg{}
	var order []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		p := byDir[dir]
		if p == nil {
			rel, _ := filepath.Rel(root, dir)
			ip := module
			if rel != "." {
				ip += "/" + filepath.ToSlash(rel)
			}
			p = &pkg{path: ip, dir: dir}
			byDir[dir] = p
			order = append(order, dir)
		}
		p.files = append(p.files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []pkg
	for _, d := range order {
		out = append(out, *byDir[d])
	}
	return out
}

func imports(p pkg) map[string]bool {
	out := map[string]bool{}
	for _, f := range p.files {
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			out[path] = true
		}
	}
	return out
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// TestImportRules holds DESIGN.md's import rules.
func TestImportRules(t *testing.T) {
	for _, p := range loadPackages(t) {
		for imp := range imports(p) {
			switch {
			case (under(p.path, module+"/api") || under(p.path, module+"/client")) && under(imp, module+"/internal"):
				t.Errorf("%s imports %s: api/ and client/ must not import internal/", p.path, imp)
			case under(p.path, module+"/internal/apps") && under(imp, module+"/internal") && !under(imp, module+"/internal/apps"):
				t.Errorf("%s imports %s: the apps framework may use only api/ and client/", p.path, imp)
			case under(p.path, module+"/cmd") && imp != module+"/internal/cli" && under(imp, module):
				t.Errorf("%s imports %s: cmd/ only calls internal/cli", p.path, imp)
			}
		}
	}
}

// purePackages may not do I/O, start goroutines or read the clock.
var purePackages = []string{module + "/internal/allocator", module + "/internal/resources"}

var impureImports = []string{"os", "os/exec", "net", "net/http", "io/ioutil", "syscall", "math/rand", "math/rand/v2", "log", "log/slog"}

var clockCalls = map[string]bool{"Now": true, "Sleep": true, "Since": true, "Until": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true}

// TestPurePackages holds the purity of the allocator and the resource
// algebra: time is an argument, randomness a seeded input.
func TestPurePackages(t *testing.T) {
	for _, p := range loadPackages(t) {
		pure := false
		for _, pp := range purePackages {
			pure = pure || under(p.path, pp)
		}
		if !pure {
			continue
		}
		for imp := range imports(p) {
			for _, bad := range impureImports {
				if imp == bad {
					t.Errorf("%s imports %s: it must stay pure", p.path, imp)
				}
			}
		}
		for _, f := range p.files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.GoStmt:
					t.Errorf("%s: starts a goroutine at %s", p.path, filepath.Base(p.dir))
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && clockCalls[n.Sel.Name] {
						t.Errorf("%s: calls time.%s; take now as an argument", p.path, n.Sel.Name)
					}
				}
				return true
			})
		}
	}
}

// TestPackageDocs: every package has exactly one package doc comment.
func TestPackageDocs(t *testing.T) {
	for _, p := range loadPackages(t) {
		docs := 0
		for _, f := range p.files {
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				docs++
			}
		}
		if docs != 1 {
			t.Errorf("%s has %d package doc comments, want exactly 1", p.path, docs)
		}
	}
}

// TestNoGrabBagPackages: no util/common/helpers packages.
func TestNoGrabBagPackages(t *testing.T) {
	for _, p := range loadPackages(t) {
		switch filepath.Base(p.dir) {
		case "util", "utils", "common", "helpers", "misc":
			t.Errorf("%s: name packages after what they do", p.path)
		}
	}
}
