// Package spec holds no code: spec/ is ztgo's protocol specification and its
// implementation notes, in Markdown (see README.md in this directory). The
// package exists for its test, which keeps every "<file>.md §N" citation in
// the module's Go comments and Markdown pointing at a numbered heading of
// spec/<file>.md, and every relative Markdown link pointing at a file.
package spec
