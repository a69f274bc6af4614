package main

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
)

// report collects rows by figure, and notes; figures print in their
// order whatever order they were measured in.
type report struct {
	mu    sync.Mutex
	rows  map[int][][4]string
	notes []string
}

func newReport() *report { return &report{rows: map[int][][4]string{}} }

// check adds a row with a target to figure fig.
func (r *report) check(fig int, name, value, target string, pass bool) {
	result := "MISS"
	if pass {
		result = "PASS"
	}
	r.add(fig, [4]string{name, value, target, result})
}

// info adds a row without a target to figure fig.
func (r *report) info(fig int, name, value string) {
	r.add(fig, [4]string{name, value, "", ""})
}

func (r *report) add(fig int, row [4]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows[fig] = append(r.rows[fig], row)
}

func (r *report) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *report) print(out io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIG\tMETRIC\tVALUE\tTARGET\tRESULT")
	fmt.Fprintln(tw, "---\t------\t-----\t------\t------")
	figs := make([]int, 0, len(r.rows))
	for f := range r.rows {
		figs = append(figs, f)
	}
	slices.Sort(figs)
	for _, f := range figs {
		label := "-"
		if f > 0 {
			label = fmt.Sprint(f)
		}
		for _, row := range r.rows[f] {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", label, row[0], row[1], row[2], row[3])
		}
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintln(out, "note:", n)
	}
}
