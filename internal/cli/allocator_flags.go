package cli

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/resources"
)

// allocatorFlags are Mesos' allocator flags.
type allocatorFlags struct {
	roleSorter, frameworkSorter string
	excluded                    []string
	filterGPU                   bool
	minAllocatable              string
}

func (f *allocatorFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.roleSorter, "role_sorter", "drf", "order of roles in allocation: drf or random")
	fs.StringVar(&f.frameworkSorter, "framework_sorter", "drf", "order of frameworks within a role: drf or random")
	fs.StringSliceVar(&f.excluded, "fair_sharing_excluded_resource_names", nil, "resource names left out of fair-share computation")
	fs.BoolVar(&f.filterGPU, "filter_gpu_resources", true, "offer agents with GPUs only to GPU_RESOURCES frameworks")
	fs.StringVar(&f.minAllocatable, "min_allocatable_resources", "cpus:0.01|mem:32",
		"an offer must hold at least one of these '|'-separated quantity sets")
}

func (f *allocatorFlags) options() (*allocator.Options, error) {
	opts := allocator.DefaultOptions()
	opts.Seed = rand.Uint64()
	var err error
	if opts.RoleSorter, err = sorterKind("role_sorter", f.roleSorter); err != nil {
		return nil, err
	}
	if opts.FrameworkSorter, err = sorterKind("framework_sorter", f.frameworkSorter); err != nil {
		return nil, err
	}
	opts.FairnessExcludedResourceNames = f.excluded
	opts.FilterGPUResources = f.filterGPU
	opts.MinAllocatable = nil
	for _, set := range strings.Split(f.minAllocatable, "|") {
		if set = strings.TrimSpace(set); set == "" {
			continue
		}
		res, err := resources.Parse(set, "*")
		if err != nil {
			return nil, fmt.Errorf("--min_allocatable_resources: %w", err)
		}
		opts.MinAllocatable = append(opts.MinAllocatable, res.Quantities())
	}
	return &opts, nil
}

func sorterKind(flag, v string) (allocator.SorterKind, error) {
	switch v {
	case "drf":
		return allocator.SortDRF, nil
	case "random":
		return allocator.SortRandom, nil
	}
	return 0, fmt.Errorf("--%s must be drf or random, not %q", flag, v)
}
