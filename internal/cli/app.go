package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/api/marathon"
	marathonclient "github.com/agoraproject/agora/client/marathon"
)

// appFlags are the flags of the Marathon API client commands.
type appFlags struct {
	servers string
	output  string
	force   bool
	wait    bool
	timeout time.Duration
}

func (f *appFlags) register(cmd *cobra.Command) {
	def := os.Getenv("AGORA_MARATHON")
	if def == "" {
		def = "127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&f.servers, "marathon", def, "Marathon API server(s), host:port[,host:port] (env AGORA_MARATHON)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
}

// registerChange adds the flags of commands that start a deployment.
func (f *appFlags) registerChange(cmd *cobra.Command) {
	f.register(cmd)
	cmd.Flags().BoolVar(&f.force, "force", false, "override deployments that lock the app")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait for the deployment to finish, showing its progress")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Minute, "with --wait, give up after this long")
}

func (f *appFlags) client() *marathonclient.Client {
	return marathonclient.New(strings.Split(f.servers, ",")...)
}

func (f *appFlags) print(w io.Writer, v any, header string, rows func(tw io.Writer)) error {
	return (&clientFlags{output: f.output}).print(w, v, header, rows)
}

// newAppCommand is `agora app ...`: apps of the Marathon-compatible
// framework.
func newAppCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "app", Short: "Deploy and manage apps (Marathon API)"}
	cmd.AddCommand(newAppDeployCommand(), newAppListCommand(), newAppShowCommand(), newAppScaleCommand(),
		newAppRestartCommand(), newAppDeleteCommand(), newAppVersionsCommand(), newAppRollbackCommand())
	return cmd
}

func newAppDeployCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "deploy FILE|-",
		Short: "Create or replace an app from its JSON definition (a file, or - for stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := readDefinition(cmd, args[0])
			if err != nil {
				return err
			}
			res, created, err := f.client().PutApp(cmd.Context(), def, f.force)
			if err != nil {
				return err
			}
			id := appID(def)
			verb := "updated"
			if created {
				verb = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "app %s %s: deployment %s (version %s)\n", id, verb, res.DeploymentID, res.Version)
			return f.follow(cmd, id, res)
		},
	}
	f.registerChange(cmd)
	return cmd
}

func readDefinition(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the app definition: %w", err)
	}
	return b, nil
}

func appID(def []byte) string {
	var head struct {
		ID string `json:"id"`
	}
	jsonUnmarshal(def, &head)
	if !strings.HasPrefix(head.ID, "/") {
		head.ID = "/" + head.ID
	}
	return head.ID
}

// follow waits for a deployment with --wait, drawing a progress bar of the
// app's tasks of the latest config that run (and pass health checks).
func (f *appFlags) follow(cmd *cobra.Command, id string, res marathon.DeploymentResult) error {
	if !f.wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	c := f.client()
	out := cmd.ErrOrStderr()
	bar := progressbar.NewOptions(1, progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("deploying "+id),
		progressbar.OptionShowCount(), progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(false))
	for {
		running, err := c.DeploymentRunning(ctx, res.DeploymentID)
		if err != nil {
			return err
		}
		p, err := c.AppProgress(ctx, id)
		if err != nil && !marathonclient.IsNotFound(err) {
			return err
		}
		bar.ChangeMax(max(p.Target, 1))
		bar.Set(min(p.Done, max(p.Target, 1)))
		if !running {
			bar.Finish()
			fmt.Fprintf(out, "\ndeployment %s finished: %d/%d instances ready\n", res.DeploymentID, p.Done, p.Target)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s still running after %s: %w", res.DeploymentID, f.timeout, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newAppListCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List apps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := f.client().Apps(cmd.Context())
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), list, "ID\tINSTANCES\tRUNNING\tHEALTHY\tSTAGED\tCPUS\tMEM\tDEPLOYMENTS\tCMD", func(w io.Writer) {
				for _, a := range list {
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%v\t%v\t%d\t%s\n", a.ID, a.Instances, a.TasksRunning, a.TasksHealthy,
						a.TasksStaged, a.CPUs, a.Mem, len(a.Deployments), truncate(a.Cmd, 40))
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func newAppShowCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an app with its tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.client().App(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return f.print(cmd.OutOrStdout(), a, "", nil)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "ID:          %s\nVersion:     %s\nInstances:   %d (running %d, healthy %d, staged %d)\n",
				a.ID, a.Version, a.Instances, a.TasksRunning, a.TasksHealthy, a.TasksStaged)
			fmt.Fprintf(w, "Resources:   cpus %v, mem %v, disk %v\nCommand:     %s\n", a.CPUs, a.Mem, a.Disk, strings.Join(append([]string{a.Cmd}, a.Args...), " "))
			for _, d := range a.Deployments {
				fmt.Fprintf(w, "Deployment:  %s\n", d.ID)
			}
			if lf := a.LastTaskFailure; lf != nil {
				fmt.Fprintf(w, "Last failure: %s %s on %s at %s: %s\n", lf.TaskID, lf.State, lf.Host, lf.Timestamp, lf.Message)
			}
			fmt.Fprintln(w)
			return f.print(w, a, "TASK\tSTATE\tHOST\tPORTS\tHEALTHY\tSTARTED", func(tw io.Writer) {
				for _, t := range a.Tasks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, t.Host, joinInts(t.Ports), health(t), t.StartedAt)
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func health(t marathon.Task) string {
	if len(t.HealthCheckResults) == 0 {
		return "-"
	}
	for _, r := range t.HealthCheckResults {
		if !r.Alive {
			return "no"
		}
	}
	return "yes"
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func newAppScaleCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "scale ID INSTANCES",
		Short: "Set an app's number of instances",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return fmt.Errorf("instances must be a number ≥ 0, not %q", args[1])
			}
			res, err := f.client().ScaleApp(cmd.Context(), args[0], n, f.force)
			return f.report(cmd, args[0], "scaling to "+args[1], res, err)
		},
	}
	f.registerChange(cmd)
	return cmd
}

// report prints a started deployment and follows it with --wait.
func (f *appFlags) report(cmd *cobra.Command, id, what string, res marathon.DeploymentResult, err error) error {
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "app %s %s: deployment %s (version %s)\n", id, what, res.DeploymentID, res.Version)
	return f.follow(cmd, normalizeID(id), res)
}

func normalizeID(id string) string {
	if !strings.HasPrefix(id, "/") {
		return "/" + id
	}
	return id
}

func newAppRestartCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "restart ID",
		Short: "Restart all instances of an app (a rolling restart)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.client().RestartApp(cmd.Context(), args[0], f.force)
			return f.report(cmd, args[0], "restarting", res, err)
		},
	}
	f.registerChange(cmd)
	return cmd
}

func newAppDeleteCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an app and kill its tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.client().DeleteApp(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "app %s deleted: deployment %s\n", args[0], res.DeploymentID)
			if !f.wait {
				return nil
			}
			return f.waitGone(cmd, res.DeploymentID)
		},
	}
	f.registerChange(cmd)
	return cmd
}

// waitGone waits until a deployment is no longer running.
func (f *appFlags) waitGone(cmd *cobra.Command, id string) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	for {
		running, err := f.client().DeploymentRunning(ctx, id)
		if err != nil || !running {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("deployment still running after " + f.timeout.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newAppVersionsCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "versions ID",
		Short: "List an app's stored versions, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vs, err := f.client().AppVersions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), vs, "VERSION", func(w io.Writer) {
				for _, v := range vs {
					fmt.Fprintln(w, v)
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func newAppRollbackCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "rollback ID [VERSION]",
		Short: "Deploy an earlier version of an app (default: the one before the current)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			version := ""
			if len(args) == 2 {
				version = args[1]
			} else {
				vs, err := c.AppVersions(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if len(vs) < 2 {
					return fmt.Errorf("app %s has no earlier version", args[0])
				}
				version = vs[1]
			}
			res, err := c.RollbackApp(cmd.Context(), args[0], version, f.force)
			return f.report(cmd, args[0], "rolling back to "+version, res, err)
		},
	}
	f.registerChange(cmd)
	return cmd
}
