package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"slices"
)

// history is what a run observably did: per step, every message delivered,
// dropped or lost and every node started, stopped or elected. A step's
// lines are sorted before they are hashed, so the hash does not depend on
// the order things happened in within a step, only on what happened.
type history struct {
	lines []string
	sum   hash.Hash
	steps []uint64
	trace io.Writer
}

func newHistory(trace io.Writer) *history {
	return &history{sum: sha256.New(), trace: trace}
}

func (h *history) record(line string) { h.lines = append(h.lines, line) }

// endStep folds the step's lines into the hash.
func (h *history) endStep() {
	slices.Sort(h.lines)
	step := fnv.New64a()
	for _, l := range h.lines {
		step.Write([]byte(l))
		step.Write([]byte{'\n'})
	}
	d := step.Sum64()
	h.steps = append(h.steps, d)
	h.sum.Write(binary.BigEndian.AppendUint64(nil, d))
	if h.trace != nil && len(h.lines) > 0 {
		for _, l := range h.lines {
			fmt.Fprintf(h.trace, "%6d %s\n", len(h.steps), l)
		}
	}
	h.lines = h.lines[:0]
}

func (h *history) hash() string { return hex.EncodeToString(h.sum.Sum(nil)) }

// FirstDivergence is the first step (1-based) at which two runs' histories
// differ, or 0 if they agree.
func FirstDivergence(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i + 1
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b)) + 1
	}
	return 0
}
