//go:build engine

package main

// Drives this program through the real Pulumi engine, the way test/pulumi/go-example.test.ts runs it:
// the Go SDK's Automation API runs Program in this process and serves it to the `pulumi` CLI, which loads
// the lxc plugin named in Pulumi.yaml. (Pulumi's Go language host, which `pulumi up` would otherwise start
// to build and run main, is not served by the Go module proxy this project builds from.)
//
//	LXC_EXAMPLE_STEP=up|preview|plan|destroy PULUMI_ROOT=<dir holding bin/pulumi> go test -tags engine -run TestEngine
//
// The backend, passphrase and stack come from the environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE,
// LXC_EXAMPLE_STACK). Each step prints one line, "RESULT <json>", for the caller to check.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

func report(t *testing.T, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESULT %s\n", b)
}

func TestEngine(t *testing.T) {
	ctx := context.Background()
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: os.Getenv("PULUMI_ROOT"), SkipVersionCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	stack, err := auto.UpsertStackInlineSource(ctx, os.Getenv("LXC_EXAMPLE_STACK"), "lxc-go", Program, auto.WorkDir("."), auto.Pulumi(cmd))
	if err != nil {
		t.Fatal(err)
	}
	switch step := os.Getenv("LXC_EXAMPLE_STEP"); step {
	case "up":
		res, err := stack.Up(ctx, optup.ProgressStreams(os.Stdout))
		if err != nil {
			t.Fatal(err)
		}
		outputs := map[string]any{}
		for k, v := range res.Outputs {
			outputs[k] = v.Value
		}
		report(t, map[string]any{"changes": res.Summary.ResourceChanges, "outputs": outputs})
	case "preview":
		res, err := stack.Preview(ctx, optpreview.ExpectNoChanges(), optpreview.ProgressStreams(os.Stdout))
		if err != nil {
			t.Fatal(err)
		}
		report(t, map[string]any{"changes": res.ChangeSummary})
	case "plan":
		// A preview that may fail, as a reviewer's would: its error is reported for the caller to check.
		res, err := stack.Preview(ctx, optpreview.ProgressStreams(os.Stdout))
		failed := ""
		if err != nil {
			failed = err.Error()
		}
		report(t, map[string]any{"changes": res.ChangeSummary, "error": failed})
	case "destroy":
		res, err := stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout))
		if err != nil {
			t.Fatal(err)
		}
		report(t, map[string]any{"changes": res.Summary.ResourceChanges})
	default:
		t.Fatalf("LXC_EXAMPLE_STEP=%q: want up, preview, plan or destroy", step)
	}
}
