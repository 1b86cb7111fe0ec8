//go:build tools

// Package tools pins the Pulumi CLI this project builds from Go modules (no prebuilt download is reachable).
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
