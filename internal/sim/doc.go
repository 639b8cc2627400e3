// Package sim measures Agora at scale: `agora bench` starts real masters
// (processes) and drives them over the real APIs with many simulated agents
// (Agent: the agent protocol with a fake containerizer — tasks run at once)
// and frameworks built on client/scheduler (Framework). Each scenario
// prints a table, or JSON. See docs/BENCHMARKS.md.
package sim
