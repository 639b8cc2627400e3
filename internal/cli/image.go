package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/internal/containerizer/image"
)

// newImageCommand is `agora image`: the agent's local image store, which
// tasks with a MESOS container and a DOCKER image run from (no registry is
// reachable). It works on the store of the agent whose --work_dir it is
// given, also while the agent runs.
func newImageCommand() *cobra.Command {
	var workDir string
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage an agent's local image store (import, list, rm)",
	}
	cmd.SetGlobalNormalizationFunc(underscoreFlags)
	cmd.PersistentFlags().StringVar(&workDir, "work_dir", "", "the agent's work directory (required)")
	store := func() (*image.Store, error) {
		if workDir == "" {
			return nil, errors.New("--work_dir is required: the work directory of the agent whose images these are")
		}
		return image.Open(filepath.Join(workDir, "images"))
	}
	cmd.AddCommand(newImageImportCommand(store), newImageListCommand(store), newImageRemoveCommand(store, &workDir))
	return cmd
}

func newImageImportCommand(store func() (*image.Store, error)) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "import PATH",
		Short: "Import images from a `docker save` tarball, an OCI layout directory or an OCI archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			recs, err := s.Import(args[0], name)
			if err != nil {
				return err
			}
			for _, r := range recs {
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s (%s, %d layers)\n", r.Name, shortID(r.ID), len(r.Layers))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name to give the image (the source must hold one image); default: the names it records")
	return cmd
}

func newImageListCommand(store func() (*image.Store, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the images in the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			recs, err := s.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tID\tLAYERS\tSIZE\tIMPORTED")
			for _, r := range recs {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", r.Name, shortID(r.ID), len(r.Layers), humanBytes(r.Size),
					r.ImportedAt.Format("2006-01-02 15:04:05"))
			}
			return w.Flush()
		},
	}
}

func newImageRemoveCommand(store func() (*image.Store, error), workDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove images; layers still used by another image or a running container stay",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			inUse := func() map[string]bool { return image.LayersInUse(filepath.Join(*workDir, "provisioner")) }
			for _, n := range args {
				if err := s.Remove(n, inUse); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", n)
			}
			return nil
		},
	}
}

// shortID is the first 12 hex digits of a digest, as docker shows IDs.
func shortID(id string) string {
	if len(id) > 7+12 {
		return id[7 : 7+12]
	}
	return id
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%cB", float64(n)/float64(div), "KMGTPE"[exp])
}
