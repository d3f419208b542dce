package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func init() {
	register(&command{
		name:    "version",
		summary: "print the version of sluice and of Go it was built with",
		usage:   "",
		help:    "Prints sluice's version, the Go version and the module's VCS revision when known.",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			c := commands["version"]
			if _, err := parseFlags(newFlags(c, env), args); err != nil {
				return err
			}
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = " " + s.Value
					}
				}
			}
			fmt.Fprintf(env.stdout, "sluice %s%s (%s %s/%s)\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}
