// Package web holds the browser app's build for embedding in the binary.
//
// The build (npm run build) writes web/dist; web/dist-placeholder/index.html
// is committed and always present, so the pattern below always matches and
// `go build` works on a machine without Node. internal/web serves dist when
// it holds an index.html and the placeholder otherwise. See
// docs/decisions/0080-web-embedding.md.
package web

import "embed"

// Files holds dist/ (when built) and dist-placeholder/.
//
//go:embed all:dist*
var Files embed.FS
