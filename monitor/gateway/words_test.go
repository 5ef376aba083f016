package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// detailTokens reads every Detail* constant declared in the package's own
// files, so a vendor's new token cannot be missed by a hand-kept list. It
// maps each token to its constant's name.
func detailTokens(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Detail") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s in %s is not a string literal", n.Name, path)
					}
					v, _ := strconv.Unquote(lit.Value)
					if other, dup := tokens[v]; dup {
						t.Errorf("%s and %s are both %q", other, n.Name, v)
					}
					tokens[v] = n.Name
				}
			}
		}
	}
	return tokens
}

// Every detail token a vendor sets has its words beside it, in the vendor's
// file: the renderers take them from Words.
func TestEveryDetailHasWords(t *testing.T) {
	tokens := detailTokens(t)
	if len(tokens) < 36 {
		t.Fatalf("found %d detail tokens, want the 36 or more this package declares", len(tokens))
	}
	for v, name := range tokens {
		if Words(v) == "" {
			t.Errorf("%s (%q) has no words", name, v)
		}
	}
	if w := Words("upstream-refused"); w != "" {
		t.Errorf(`Words("upstream-refused"), a token no vendor sets, = %q, want ""`, w)
	}
}
