package corestore

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// table prints a core resource for `kubectl get`: name, its own columns, age.
type table struct{ r *resource }

var _ rest.TableConvertor = table{}

func newTable(r *resource) table { return table{r: r} }

func (t table) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	out := &metav1.Table{}
	out.ColumnDefinitions = append([]metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the object."},
	}, t.r.columns...)
	out.ColumnDefinitions = append(out.ColumnDefinitions, metav1.TableColumnDefinition{
		Name: "Age", Type: "string", Description: "Time since the object was created.",
	})
	add := func(o runtime.Object) error {
		m, err := meta.Accessor(o)
		if err != nil {
			return err
		}
		cells := append([]any{m.GetName()}, t.r.cells(o)...)
		cells = append(cells, age(m.GetCreationTimestamp()))
		out.Rows = append(out.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: o}})
		return nil
	}
	if meta.IsListType(obj) {
		if err := meta.EachListItem(obj, add); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(obj); err == nil {
			out.ResourceVersion = l.GetResourceVersion()
			out.Continue = l.GetContinue()
			out.RemainingItemCount = l.GetRemainingItemCount()
		}
		return out, nil
	}
	if err := add(obj); err != nil {
		return nil, err
	}
	if m, err := meta.Accessor(obj); err == nil {
		out.ResourceVersion = m.GetResourceVersion()
	}
	return out, nil
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
