package resources

import "testing"

// benchCases are a typical agent's total and one task's resources: plain
// unreserved ones, and a mix with reservations and allocation info as the
// allocator sees them.
func benchCases(b *testing.B) []struct {
	name        string
	total, task Resources
} {
	plainTotal := mustParse(b, "cpus:32;mem:256000;disk:1000000;ports:[31000-32000]")
	plainTask := mustParse(b, "cpus:2;mem:4096;disk:1000;ports:[31000-31001]")
	reservedTotal := mustParse(b, "cpus:24;mem:192000;disk:900000;ports:[31000-31500];"+
		"cpus(eng):8;mem(eng):64000;disk(eng):100000;ports(eng):[31501-32000];gpus(eng):2").AllocatedTo("eng")
	reservedTask := mustParse(b, "cpus(eng):2;mem:4096;ports(eng):[31501-31502]").AllocatedTo("eng")
	return []struct {
		name        string
		total, task Resources
	}{
		{"plain", plainTotal, plainTask},
		{"reserved", reservedTotal, reservedTask},
	}
}

var (
	sinkResources  Resources
	sinkQuantities Quantities
	sinkBool       bool
)

func BenchmarkAdd(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkResources = c.total.Add(c.task)
			}
		})
	}
}

func BenchmarkSubtract(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkResources = c.total.Subtract(c.task)
			}
		})
	}
}

func BenchmarkContains(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = c.total.Contains(c.task)
			}
		})
	}
}

func BenchmarkQuantities(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkQuantities = c.total.Quantities()
			}
		})
	}
}

func BenchmarkQuantitiesArithmetic(b *testing.B) {
	c := benchCases(b)[1]
	total, task := c.total.Quantities(), c.task.Quantities()
	b.Run("Add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkQuantities = total.Add(task)
		}
	})
	b.Run("Subtract", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkQuantities = total.Subtract(task)
		}
	})
	b.Run("Contains", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBool = total.Contains(task)
		}
	})
}

func BenchmarkAllocatedTo(b *testing.B) {
	c := benchCases(b)[1]
	free := c.total.Unallocated()
	b.ReportAllocs()
	for b.Loop() {
		sinkResources = free.AllocatedTo("eng")
	}
}
