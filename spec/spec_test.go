package spec

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// A citation names a spec file and a section: "vl2.md §4.8". In Markdown the
// file name may be set in code or bold ("`vl1-peers.md` §5"). Further sections
// of the same file may follow: "§4.2, §4.4" or a range "§8.5–8.8".
var (
	goCitation   = regexp.MustCompile(`([a-z0-9-]+\.md) §([0-9]+(?:\.[0-9]+)*)((?:\s*,\s*§[0-9]+(?:\.[0-9]+)*|–[0-9]+(?:\.[0-9]+)*)*)`)
	mdCitation   = regexp.MustCompile("([a-z0-9-]+\\.md)`?\\*{0,2} §([0-9]+(?:\\.[0-9]+)*)((?:\\s*,\\s*§[0-9]+(?:\\.[0-9]+)*|–[0-9]+(?:\\.[0-9]+)*)*)")
	moreSections = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)*`)

	// A comment line ending in a file name whose section is on the next line.
	trailingFile = regexp.MustCompile(`[a-z0-9-]+\.md$`)
	leadingSect  = regexp.MustCompile(`^\s*//\s*(§.*)$`)

	// A numbered heading: "## 4. Credentials", "### 4.8 Deauthorization".
	heading = regexp.MustCompile(`^#{1,6}\s+([0-9]+(?:\.[0-9]+)*)\.?(?:\s|$)`)

	// Paths to spec files named in Go comments: "see spec/nat-matrix.md".
	goSpecPath = regexp.MustCompile(`\bspec/([A-Za-z0-9_.-]+\.md)`)

	// Relative Markdown links: "[vl2.md](vl2.md)", "[x](../testdata/vectors/README.md#y)".
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// root is the module root: this package lives in <root>/spec.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "go.mod")); err != nil {
		t.Fatalf("module root not found above spec/: %v", err)
	}
	return r
}

// sections returns the section numbers of the numbered headings of a Markdown
// file, skipping fenced code blocks.
func sections(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	fenced := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	return out, sc.Err()
}

// files lists the module's files with the given suffix, relative to root,
// leaving out vendored code, nested modules and hidden directories.
func files(t *testing.T, root, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(p, suffix) {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

type checker struct {
	root     string
	headings map[string]map[string]bool // spec file → section numbers; nil: no such file
	problems []string
	count    int
}

func (c *checker) sectionsOf(file string) map[string]bool {
	if h, ok := c.headings[file]; ok {
		return h
	}
	h, err := sections(filepath.Join(c.root, "spec", file))
	if err != nil {
		h = nil
	}
	c.headings[file] = h
	return h
}

// check resolves every citation that re finds in text (at where).
func (c *checker) check(where, text string, re *regexp.Regexp) {
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		file := m[1]
		secs := append([]string{m[2]}, moreSections.FindAllString(m[3], -1)...)
		h := c.sectionsOf(file)
		for _, s := range secs {
			c.count++
			switch {
			case h == nil:
				c.problems = append(c.problems, fmt.Sprintf("%s: %s §%s: there is no spec/%s", where, file, s, file))
			case !h[s]:
				c.problems = append(c.problems, fmt.Sprintf("%s: %s §%s: spec/%s has no heading numbered %s", where, file, s, file, s))
			}
		}
	}
}

func (c *checker) report(t *testing.T, what string) {
	t.Helper()
	for _, p := range c.problems {
		t.Error(p)
	}
	t.Logf("%d %s checked", c.count, what)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

// TestGoCitationsResolve: every "<file>.md §N" in a Go file of the module names
// spec/<file>.md and a heading of that number in it.
func TestGoCitationsResolve(t *testing.T) {
	r := root(t)
	c := &checker{root: r, headings: map[string]map[string]bool{}}
	for _, rel := range files(t, r, ".go") {
		lines := readLines(t, filepath.Join(r, rel))
		for i, line := range lines {
			text := line
			if trailingFile.MatchString(strings.TrimRight(line, " \t")) && i+1 < len(lines) {
				if m := leadingSect.FindStringSubmatch(lines[i+1]); m != nil {
					text = strings.TrimRight(line, " \t") + " " + m[1]
				}
			}
			c.check(fmt.Sprintf("%s:%d", rel, i+1), text, goCitation)
			for _, m := range goSpecPath.FindAllStringSubmatch(line, -1) {
				if _, err := os.Stat(filepath.Join(r, "spec", m[1])); err != nil {
					c.problems = append(c.problems, fmt.Sprintf("%s:%d: spec/%s does not exist", rel, i+1, m[1]))
				}
			}
		}
	}
	if c.count == 0 {
		t.Fatal("no citations found: is the pattern still right?")
	}
	c.report(t, "citations in Go files")
}

// TestMarkdownCitationsResolve does the same for the module's Markdown, where
// the file name may be in backticks: "`vl1-peers.md` §5".
func TestMarkdownCitationsResolve(t *testing.T) {
	r := root(t)
	c := &checker{root: r, headings: map[string]map[string]bool{}}
	for _, rel := range files(t, r, ".md") {
		fenced := false
		for i, line := range readLines(t, filepath.Join(r, rel)) {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fenced = !fenced
			}
			if fenced {
				continue
			}
			c.check(fmt.Sprintf("%s:%d", rel, i+1), line, mdCitation)
		}
	}
	c.report(t, "citations in Markdown files")
}

// TestMarkdownLinksResolve: relative links in the module's Markdown point at
// files that exist (renamed spec files leave no dead links behind).
func TestMarkdownLinksResolve(t *testing.T) {
	r := root(t)
	n := 0
	for _, rel := range files(t, r, ".md") {
		dir := filepath.Dir(filepath.Join(r, rel))
		for i, line := range readLines(t, filepath.Join(r, rel)) {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				n++
				if _, err := os.Stat(filepath.Join(dir, target)); err != nil {
					t.Errorf("%s:%d: link to %s: no such file", rel, i+1, m[1])
				}
			}
		}
	}
	t.Logf("%d relative links checked", n)
}

// TestEverySpecFileIsIndexed: spec/README.md links every Markdown file of spec/.
func TestEverySpecFileIsIndexed(t *testing.T) {
	r := root(t)
	readme, err := os.ReadFile(filepath.Join(r, "spec", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(r, "spec", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range names {
		name := filepath.Base(p)
		if name == "README.md" {
			continue
		}
		if !strings.Contains(string(readme), "("+name+")") {
			t.Errorf("spec/README.md does not link %s", name)
		}
	}
}
