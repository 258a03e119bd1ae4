// Package api holds the HTTP API contract, served at /api/v1/openapi.yaml and
// checked against real responses in tests.
package api

import _ "embed"

// OpenAPI is the contract in OpenAPI 3 YAML.
//
//go:embed openapi.yaml
var OpenAPI []byte
