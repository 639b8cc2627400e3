package allocator

import (
	"math"
	"math/bits"
)

// rng is a small seeded pseudo-random generator (SplitMix64). The allocator
// owns one, seeded from Options.Seed, so agent shuffles and the random sorter
// are reproducible: the same calls with the same seed give the same offers.
type rng struct{ state uint64 }

func newRNG(seed uint64) *rng { return &rng{state: seed} }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n) (Lemire's multiply-shift; the bias is far
// below anything an allocator could notice).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// float64 returns a value in (0, 1].
func (r *rng) float64() float64 {
	return (float64(r.next()>>11) + 1) / (1 << 53)
}

// shuffle permutes s in place (Fisher-Yates).
func shuffle[T any](r *rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// weightedKey draws a sort key for a weighted random order: sorting by it
// ascending picks each element first with probability proportional to its
// weight (exponential clocks).
func (r *rng) weightedKey(weight float64) float64 {
	return -math.Log(r.float64()) / weight
}
