package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
)

// Print writes a result as a two-column table of its JSON field names and
// values, or as JSON.
func Print(w io.Writer, title string, result any, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"scenario": title, "result": result})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", title)
	v := reflect.Indirect(reflect.ValueOf(result))
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch x := v.Field(i).Interface().(type) {
		case float64:
			fmt.Fprintf(tw, "%s\t%.2f\n", name, x)
		default:
			fmt.Fprintf(tw, "%s\t%v\n", name, x)
		}
	}
	return tw.Flush()
}
